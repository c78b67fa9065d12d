"""``TensorData``: an in-memory dataset of ``(x, y)`` tensors, with an optional train-time transform.

Training loops iterate it many times, so everything is preprocessed once and held as tensors;
``__getitems__`` lets ``torch.utils.data.DataLoader`` fetch a whole batch with one indexing call
(and apply augmentation to the batch at once).

Example:
    >>> import torch
    >>> ds = TensorData(torch.zeros(3, 2), torch.tensor([0, 1, 0]))
    >>> len(ds), ds[1][1].item()
    (3, 1)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch.utils.data import Dataset

__all__ = ["TensorData"]

Transform = Callable[[torch.Tensor], torch.Tensor]


class TensorData(Dataset):
    """A map-style dataset over two aligned tensors.

    Args:
        x: inputs, ``float32``, first dimension = samples.
        y: targets (``int64`` classes or ``float32`` values), same length as ``x``.
        transform: applied to a batch ``x[idx]`` (shape ``(B, *sample_shape)``) on every access;
            used for train-only augmentation.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, transform: Transform | None = None) -> None:
        if len(x) != len(y):
            raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
        self.x = x
        self.y = y
        self.transform = transform

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.x[index]
        if self.transform is not None:
            x = self.transform(x.unsqueeze(0))[0]
        return x, self.y[index]

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        idx = torch.as_tensor(indices, dtype=torch.long)
        x = self.x[idx]
        if self.transform is not None:
            x = self.transform(x)
        return list(zip(x.unbind(0), self.y[idx].unbind(0), strict=True))

    def __repr__(self) -> str:
        shape = tuple(self.x.shape[1:])
        return f"TensorData(n={len(self)}, x_shape={shape}, transform={self.transform!r})"
