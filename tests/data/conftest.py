"""Shared helpers for the data tests: tiny files in the formats the sources read."""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """Encode a uint8 array as an IDX file (magic 0x0000 08 ndim unless given)."""
    magic = magic if magic is not None else (0x08 << 8) | array.ndim
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx_pair(folder: Path, part: str, images: np.ndarray, labels: np.ndarray, *, gz: bool) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for stem, arr in ((f"{part}-images-idx3-ubyte", images), (f"{part}-labels-idx1-ubyte", labels)):
        data = idx_bytes(arr)
        if gz:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / stem).write_bytes(data)


def png_bytes(image: np.ndarray, *, filter_type: int = 0) -> bytes:
    """Encode a uint8 (H, W) or (H, W, 3) image as an 8-bit PNG, every row with ``filter_type``."""
    h, w = image.shape[:2]
    channels = 1 if image.ndim == 2 else image.shape[2]
    rows = image.reshape(h, w * channels).astype(np.int64)
    out = bytearray()
    prev = np.zeros(w * channels, dtype=np.int64)
    for row in rows:
        left = np.concatenate([np.zeros(channels, dtype=np.int64), row[:-channels]])
        upleft = np.concatenate([np.zeros(channels, dtype=np.int64), prev[:-channels]])
        if filter_type == 0:
            pred = np.zeros_like(row)
        elif filter_type == 1:
            pred = left
        elif filter_type == 2:
            pred = prev
        elif filter_type == 3:
            pred = (left + prev) // 2
        else:
            p = left + prev - upleft
            pa, pb, pc = abs(p - left), abs(p - prev), abs(p - upleft)
            pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, prev, upleft))
        out.append(filter_type)
        out += ((row - pred) % 256).astype(np.uint8).tobytes()
        prev = row

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    color = {1: 0, 3: 2}[channels]
    ihdr = struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(bytes(out)))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def shared_data() -> Path:
    if not (SHARED_DATA / "fashion-mnist").is_dir():
        pytest.skip(
            f"the shared data folder is absent: expected {SHARED_DATA}/fashion-mnist beside the repository"
        )
    return SHARED_DATA
