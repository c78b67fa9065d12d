"""A small PNG decoder (zlib + numpy) so image folders work without Pillow.

Handles the common non-interlaced PNGs: grayscale, RGB, palette, gray+alpha and RGBA at 8 or 16
bits (and 1/2/4-bit grayscale/palette). Alpha is dropped. Interlaced files need Pillow.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

from autoopt.exceptions import DataError

__all__ = ["decode_png"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def _chunks(data: bytes, source: str) -> list[tuple[bytes, bytes]]:
    chunks, pos = [], len(_SIGNATURE)
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        crc = data[pos + 8 + length : pos + 12 + length]
        if len(body) != length or len(crc) != 4 or zlib.crc32(kind + body) != struct.unpack(">I", crc)[0]:
            raise DataError(f"{source}: corrupt PNG (bad {kind.decode('latin1')!r} chunk)")
        chunks.append((kind, body))
        pos += 12 + length
        if kind == b"IEND":
            return chunks
    raise DataError(f"{source}: truncated PNG (no IEND chunk)")


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def _unfilter(raw: bytes, height: int, stride: int, bpp: int, source: str) -> np.ndarray:
    out = np.zeros((height, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.int64)
    for r in range(height):
        start = r * (stride + 1)
        kind = raw[start]
        line = np.frombuffer(raw, dtype=np.uint8, count=stride, offset=start + 1).astype(np.int64)
        if kind == 0:
            cur = line
        elif kind == 1:  # Sub: running sum over pixels, per byte position within the pixel
            padded = np.concatenate([line, np.zeros(-stride % bpp, dtype=np.int64)]).reshape(-1, bpp)
            cur = (np.cumsum(padded, axis=0) % 256).reshape(-1)[:stride]
        elif kind == 2:  # Up
            cur = (line + prev) % 256
        elif kind in (3, 4):  # Average, Paeth: sequential, done on Python ints
            vals, above = line.tolist(), prev.tolist()
            for i in range(stride):
                left = vals[i - bpp] if i >= bpp else 0
                if kind == 3:
                    vals[i] = (vals[i] + (left + above[i]) // 2) % 256
                else:
                    upper_left = above[i - bpp] if i >= bpp else 0
                    vals[i] = (vals[i] + _paeth(left, above[i], upper_left)) % 256
            cur = np.array(vals, dtype=np.int64)
        else:
            raise DataError(f"{source}: corrupt PNG (unknown filter type {kind} in row {r})")
        out[r] = cur
        prev = cur
    return out


def decode_png(data: bytes, source: str = "PNG data") -> np.ndarray:
    """Decode PNG bytes into ``uint8`` pixels: ``(H, W)`` for gray/palette-gray, ``(H, W, 3)`` for color.

    Args:
        data: the file content.
        source: the file name, for messages.

    Raises:
        DataError: not a PNG, a corrupt or truncated file, or a variant this decoder does not handle
            (interlaced: install Pillow, ``pip install pillow``, or save the images non-interlaced).
    """
    if not data.startswith(_SIGNATURE):
        raise DataError(f"{source}: not a PNG file (bad signature)")
    chunks = _chunks(data, source)
    if not chunks or chunks[0][0] != b"IHDR" or len(chunks[0][1]) != 13:
        raise DataError(f"{source}: corrupt PNG (missing IHDR header)")
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    if color not in _CHANNELS or depth not in (1, 2, 4, 8, 16) or (depth < 8 and color not in (0, 3)):
        raise DataError(f"{source}: unsupported PNG (color type {color}, bit depth {depth})")
    if interlace:
        raise DataError(
            f"{source}: interlaced PNG needs Pillow (pip install pillow) or a non-interlaced copy"
        )
    channels = _CHANNELS[color]
    bits = channels * depth
    stride, bpp = (width * bits + 7) // 8, max(1, bits // 8)
    try:
        raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    except zlib.error as exc:
        raise DataError(f"{source}: corrupt PNG image data ({exc})") from exc
    if len(raw) != height * (stride + 1):
        raise DataError(f"{source}: PNG image data has {len(raw)} bytes, expected {height * (stride + 1)}")
    rows = _unfilter(raw, height, stride, bpp, source)
    if depth == 16:
        pixels = (rows.view(">u2") >> 8).astype(np.uint8).reshape(height, width, channels)
    elif depth == 8:
        pixels = rows.reshape(height, width, channels)
    else:
        per_byte = 8 // depth
        values = (rows[:, :, None] >> (np.arange(per_byte - 1, -1, -1) * depth)) & ((1 << depth) - 1)
        pixels = values.reshape(height, -1)[:, :width, None].astype(np.uint8)
        if color == 0:
            pixels = (pixels.astype(np.uint16) * 255 // ((1 << depth) - 1)).astype(np.uint8)
    if color == 3:
        palette = dict(chunks).get(b"PLTE")
        if palette is None or len(palette) % 3:
            raise DataError(f"{source}: corrupt PNG (palette image without a valid PLTE chunk)")
        table = np.frombuffer(palette, dtype=np.uint8).reshape(-1, 3)
        if pixels.max(initial=0) >= len(table):
            raise DataError(f"{source}: corrupt PNG (palette index beyond the {len(table)}-color palette)")
        return table[pixels[:, :, 0]]
    if color in (0, 4):
        return pixels[:, :, 0]
    return pixels[:, :, :3]
