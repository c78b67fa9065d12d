"""The automated gradual pruning (AGP) schedule of Zhu & Gupta (2017), "To prune, or not to prune".

Sparsity rises fast first and slowly at the end, when fewer weights remain to absorb the loss::

    s_t = s_f + (s_i - s_f) * (1 - (t - t0) / (n * dt)) ** 3      for t in {t0, t0 + dt, ..., t0 + n dt}
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AGPSchedule"]


@dataclass(frozen=True)
class AGPSchedule:
    """Target sparsity at a training step; constant between the ``n + 1`` update steps.

    Args:
        initial: ``s_i``, the sparsity at ``t0``.
        final: ``s_f``, reached at ``t0 + n * dt`` and kept afterwards.
        start: ``t0``, the step of the first update.
        frequency: ``dt``, steps between updates (>= 1).
        n_updates: ``n``, number of updates after the first (>= 1).

    Example:
        >>> agp = AGPSchedule(initial=0.0, final=0.8, start=0, frequency=10, n_updates=4)
        >>> [round(agp(t), 4) for t in (0, 10, 20, 40, 99)]
        [0.0, 0.4625, 0.7, 0.8, 0.8]
    """

    initial: float
    final: float
    start: int
    frequency: int
    n_updates: int

    def __post_init__(self) -> None:
        if self.frequency < 1 or self.n_updates < 1:
            raise ValueError(
                f"frequency and n_updates must be >= 1; got frequency={self.frequency}, "
                f"n_updates={self.n_updates}"
            )

    @property
    def end(self) -> int:
        """The step at which ``final`` is reached."""
        return self.start + self.n_updates * self.frequency

    def is_update(self, step: int) -> bool:
        """Whether the masks change at ``step`` (``t0 <= step <= end`` on the ``dt`` grid)."""
        return self.start <= step <= self.end and (step - self.start) % self.frequency == 0

    def __call__(self, step: int) -> float:
        """The target sparsity in force at ``step`` (that of the latest update step at or before it).

        Args:
            step: the 0-based training step.
        """
        if step < self.start:
            return 0.0  # no mask before the first update
        t = min(self.start + (step - self.start) // self.frequency * self.frequency, self.end)
        progress = (t - self.start) / (self.n_updates * self.frequency)
        return self.final + (self.initial - self.final) * (1.0 - progress) ** 3

    def updates(self) -> list[tuple[int, float]]:
        """Every ``(step, sparsity)`` update of the schedule."""
        return [(t, self(t)) for t in range(self.start, self.end + 1, self.frequency)]
