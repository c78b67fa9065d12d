"""Batch sources: a fast path for in-memory tensors, a DataLoader for everything else.

``DataLoader`` calls ``__getitem__`` once per sample and collates; for small samples (8x8 digits,
table rows) that Python work costs more than the model. A plain ``TensorDataset``, autoopt's own
``TensorData`` (whose optional transform works on whole batches), or a ``Subset`` of either, is
read by :class:`TensorBatches`, which indexes the tensors a whole batch at a time. Any other
dataset (a custom ``__getitem__`` with per-sample augmentation, lazy decoding) keeps the
DataLoader so its per-sample work still runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import NamedTuple, Protocol

import torch
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset

from autoopt.data import TensorData
from autoopt.training._seed import seed_worker

__all__ = ["Batches", "InMemory", "TensorBatches", "make_batches", "tensors_of"]

BatchTransform = Callable[[torch.Tensor], torch.Tensor]


class InMemory(NamedTuple):
    """The tensors behind an in-memory dataset and the transform it applies to a batch of inputs."""

    tensors: tuple[torch.Tensor, ...]
    transform: BatchTransform | None = None


class Batches(Protocol):
    """A re-iterable source of ``(x, y)`` batches on the training device, with a length."""

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]: ...


# In-memory datasets up to this size are copied to an accelerator once, not batch by batch.
_MAX_DEVICE_COPY_BYTES = 2 * 1024**3


def tensors_of(dataset: Dataset) -> InMemory | None:
    """The tensors behind ``dataset`` when batch indexing gives the same samples, else ``None``.

    Args:
        dataset: a map-style dataset.
    """
    if isinstance(dataset, TensorDataset) and type(dataset).__getitem__ is TensorDataset.__getitem__:
        return InMemory(tuple(dataset.tensors))
    if isinstance(dataset, TensorData) and type(dataset).__getitems__ is TensorData.__getitems__:
        return InMemory((dataset.x, dataset.y), dataset.transform)
    if isinstance(dataset, Subset) and type(dataset).__getitem__ is Subset.__getitem__:
        inner = tensors_of(dataset.dataset)
        if inner is None:
            return None
        index = torch.as_tensor(list(dataset.indices), dtype=torch.long)
        return InMemory(tuple(t[index] for t in inner.tensors), inner.transform)
    return None


class TensorBatches:
    """Batches of in-memory tensors, shuffled with a seeded generator, no per-sample work.

    Args:
        tensors: tensors with a common first dimension (inputs, targets).
        batch_size: samples per batch.
        transform: applied to every batch of inputs (train-time augmentation), on the device.
        shuffle: draw a new permutation every epoch.
        generator: the seeded CPU generator used for the permutation.
        device: where batches are delivered; the tensors move there once when they fit.
        drop_single: skip a final batch of exactly one sample (BatchNorm cannot train on it).
    """

    def __init__(
        self,
        tensors: tuple[torch.Tensor, ...],
        batch_size: int,
        *,
        transform: BatchTransform | None = None,
        shuffle: bool,
        generator: torch.Generator | None,
        device: torch.device,
        drop_single: bool = False,
    ) -> None:
        self.n = int(tensors[0].shape[0])
        self.batch_size = batch_size
        self.transform = transform
        self.shuffle = shuffle
        self.generator = generator
        self.device = device
        nbytes = sum(t.numel() * t.element_size() for t in tensors)
        self.on_device = device.type == "cpu" or nbytes <= _MAX_DEVICE_COPY_BYTES
        if self.on_device:
            self.tensors = tuple(t.to(device) for t in tensors)
        else:
            self.tensors = tuple(t.pin_memory() if device.type == "cuda" else t for t in tensors)
        self.steps = -(-self.n // batch_size)
        if drop_single and self.n > 1 and self.n % batch_size == 1:
            self.steps -= 1

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        bs, tensors = self.batch_size, self.tensors
        if self.shuffle:
            perm = torch.randperm(self.n, generator=self.generator)
            if self.on_device:
                perm = perm.to(tensors[0].device)
            for i in range(self.steps):
                idx = perm[i * bs : (i + 1) * bs]
                yield self._deliver(tuple(t[idx] for t in tensors))
        else:
            for i in range(self.steps):
                yield self._deliver(tuple(t[i * bs : (i + 1) * bs] for t in tensors))

    def _deliver(self, batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        if not self.on_device:
            batch = tuple(t.to(self.device, non_blocking=True) for t in batch)
        if self.transform is not None:
            batch = (self.transform(batch[0]), *batch[1:])
        return batch


class _ToDevice:
    """Wraps a DataLoader so its batches arrive on the training device."""

    def __init__(self, loader: DataLoader, device: torch.device) -> None:
        self.loader = loader
        self.device = device
        self.non_blocking = device.type == "cuda"

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        for batch in self.loader:
            yield tuple(t.to(self.device, non_blocking=self.non_blocking) for t in batch)


def make_batches(
    dataset: Dataset,
    batch_size: int,
    *,
    shuffle: bool,
    device: torch.device,
    generator: torch.Generator | None = None,
    num_workers: int = 0,
    drop_single: bool = False,
) -> Batches:
    """The batch source for ``dataset``: :class:`TensorBatches` when possible, else a DataLoader.

    Args:
        dataset: a map-style dataset yielding ``(x, y)``.
        batch_size: samples per batch.
        shuffle: reshuffle every epoch (training).
        device: the training device; batches are delivered there.
        generator: the seeded generator for the order (and DataLoader worker seeds).
        num_workers: DataLoader worker processes (unused on the tensor fast path).
        drop_single: skip a final batch of exactly one sample.
    """
    memory = tensors_of(dataset)
    if memory is not None:
        return TensorBatches(
            memory.tensors,
            batch_size,
            transform=memory.transform,
            shuffle=shuffle,
            generator=generator,
            device=device,
            drop_single=drop_single,
        )
    n = len(dataset)  # type: ignore[arg-type]
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        generator=generator,
        num_workers=num_workers,
        worker_init_fn=seed_worker if num_workers else None,
        persistent_workers=num_workers > 0,
        pin_memory=device.type == "cuda",
        drop_last=drop_single and n > 1 and n % batch_size == 1,
    )
    return _ToDevice(loader, device)
