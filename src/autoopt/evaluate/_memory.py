"""Peak memory of a block of code: the process's resident-set high-water mark, reset before the block.

``tracemalloc`` only sees Python allocations, not the buffers torch's and ONNX Runtime's C++
allocators hand out, so it would report ~0 for a forward pass. The resident set size sees them all.
On Linux, writing ``5`` to ``/proc/self/clear_refs`` resets the kernel's high-water mark (``VmHWM``)
to the current RSS; the peak of a block is then ``VmHWM after - VmRSS before``: everything the block
allocated at its worst moment, native buffers included. Elsewhere (or when ``clear_refs`` is not
writable) the delta of ``getrusage().ru_maxrss`` is used: a lower bound, 0 when the process already
peaked higher earlier. The method used is reported with the number.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path
from types import TracebackType

__all__ = ["PeakMemory"]

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kb(field: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _reset_hwm() -> bool:
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def _maxrss_kb() -> int:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss // 1024 if sys.platform == "darwin" else rss  # bytes on macOS, KiB on Linux


class PeakMemory:
    """Context manager measuring the peak extra resident memory of its block, in MiB.

    Example:
        >>> with PeakMemory() as mem:
        ...     buf = bytearray(50 * 1024 * 1024)
        >>> mem.method in ("vmhwm", "ru_maxrss")
        True
    """

    def __init__(self) -> None:
        self.method = "vmhwm"
        self.peak_mb = 0.0
        self._before = 0

    def __enter__(self) -> PeakMemory:
        rss = _status_kb("VmRSS")
        if rss is not None and _reset_hwm():
            self.method, self._before = "vmhwm", rss
        else:
            self.method, self._before = "ru_maxrss", _maxrss_kb()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        after = _status_kb("VmHWM") if self.method == "vmhwm" else _maxrss_kb()
        self.peak_mb = max(0, (after or 0) - self._before) / 1024
