"""What the CPU can do: the SIMD flags that decide which kernels ONNX Runtime and PyTorch pick.

Two consumers: the latency harness records the flags with every report (a number measured with
AVX-512 VNNI is not comparable with one measured on AVX2 alone), and hardware-aware pruning rounds
channel counts to the vector width (:func:`vector_width`): ONNX Runtime's blocked-layout fp32 conv
kernels need channel counts that are multiples of 16 floats on AVX-512 (8 on AVX2 and NEON), and
fall back to slower kernels plus layout conversions otherwise.
"""

from __future__ import annotations

import functools
import platform
from pathlib import Path

__all__ = ["cpu_flags", "vector_width", "FLAGS_OF_INTEREST"]

#: the flags reported with every latency measurement (``/proc/cpuinfo`` spelling).
FLAGS_OF_INTEREST = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "amx_int8", "neon")


@functools.lru_cache(maxsize=1)
def cpu_flags() -> tuple[str, ...]:
    """The flags of :data:`FLAGS_OF_INTEREST` this CPU has, sorted (``neon`` on every arm64 CPU).

    Read from ``/proc/cpuinfo`` on Linux; on other systems only ``neon`` (arm64) is detected and
    x86 flags are reported as absent.

    Example:
        >>> isinstance(cpu_flags(), tuple)
        True
    """
    found: set[str] = set()
    if platform.machine().lower() in ("arm64", "aarch64"):
        found.add("neon")
    info = Path("/proc/cpuinfo")
    if info.is_file():
        try:
            text = info.read_text(errors="replace")
        except OSError:
            text = ""
        for line in text.splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("flags", "Features"):
                words = set(value.split())
                found |= {f for f in FLAGS_OF_INTEREST if f in words}
                if "asimd" in words:
                    found.add("neon")
                break
    return tuple(sorted(found))


def vector_width(flags: tuple[str, ...] | None = None) -> int:
    """fp32 lanes of the widest vector unit: 16 with AVX-512, 8 with AVX2 or NEON, else 4.

    Args:
        flags: CPU flags to read (default :func:`cpu_flags`).

    Example:
        >>> vector_width(("avx2", "avx512f")), vector_width(("avx2",)), vector_width(())
        (16, 8, 4)
    """
    flags = cpu_flags() if flags is None else flags
    if "avx512f" in flags:
        return 16
    if "avx2" in flags or "neon" in flags:
        return 8
    return 4
