"""Train-time image augmentation on batches ``(B, C, H, W)``: flips, padded random crops, rotations.

Randomness comes from torch's global generator, so ``torch.manual_seed`` and DataLoader workers
(each seeded by torch) control it.

Example:
    >>> import torch
    >>> aug = Augment(hflip=True, random_crop=2)
    >>> aug(torch.zeros(4, 1, 8, 8)).shape
    torch.Size([4, 1, 8, 8])
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["Augment"]


class Augment:
    """A batch transform applying the configured augmentations independently to each image.

    Args:
        hflip: flip left-right with probability 0.5.
        random_crop: zero-padding in pixels before cropping back to the original size; 0 = off.
        rotate: maximum absolute rotation in degrees; 0 = off.
    """

    def __init__(self, hflip: bool = False, random_crop: int = 0, rotate: float = 0.0) -> None:
        self.hflip = hflip
        self.random_crop = random_crop
        self.rotate = rotate

    def __repr__(self) -> str:
        return f"Augment(hflip={self.hflip}, random_crop={self.random_crop}, rotate={self.rotate})"

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.rotate > 0:
            x = self._rotate(x)
        if self.random_crop > 0:
            x = self._crop(x)
        if self.hflip:
            flip = torch.rand(x.shape[0]) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        return x

    def _rotate(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        angle = (torch.rand(b) * 2 - 1) * math.radians(self.rotate)
        cos, sin = torch.cos(angle), torch.sin(angle)
        zero = torch.zeros(b)
        # A rotation in pixel space, written in grid_sample's normalized coordinates ([-1, 1] per axis).
        theta = torch.stack(
            [torch.stack([cos, -sin * h / w, zero], 1), torch.stack([sin * w / h, cos, zero], 1)], 1
        ).to(x.dtype)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    def _crop(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        p = self.random_crop
        padded = F.pad(x, (p, p, p, p))
        top = torch.randint(0, 2 * p + 1, (b,)).tolist()
        left = torch.randint(0, 2 * p + 1, (b,)).tolist()
        return torch.stack(
            [padded[i, :, t : t + h, s : s + w] for i, (t, s) in enumerate(zip(top, left, strict=True))]
        )
