"""Pose heatmaps: 18 Gaussian channels, channel i = exp(-((y - y_i)^2 + (x - x_i)^2) / (2 sigma^2)).

A missing joint (-1) gives an all-zero channel. Condition and target maps are stacked into the 36 channels
of the pose encoder by `pose_pair_maps`. The row and column profiles are cut to 0 below `TAIL` (1e-9, 39 pixels
from the joint at sigma 6), so no map value lies between 0 and TAIL^2 = 1e-18: the Gaussian's far tail would
otherwise hold denormal floats (below 1.2e-38) on which CPU convolutions slow down by up to 40%. Every value cut is
below TAIL, so the maps stay within 1e-9 of the authors' (their generators' outputs within 1e-5, tested on their
own fixtures), and no generated pixel changes for it (tested).
"""
from __future__ import annotations

import numpy as np
import torch

from augreid.data.pose import IMAGE_SIZE, MISSING

SIGMA = 6.0
TAIL = 1e-9


def pose_heatmaps(
    keypoints: torch.Tensor | np.ndarray,
    size: tuple[int, int] = IMAGE_SIZE,
    sigma: float = SIGMA,
    device: torch.device | str | None = None,
    pool: int = 1,
) -> torch.Tensor:
    """(B, 18, 2) keypoints (y, x) -> (B, 18, H, W) float32 heatmaps; (18, 2) -> (18, H, W).

    The Gaussian is separable, so each map is the outer product of a row and a column profile: one batched
    product instead of B * 18 * H * W exponentials. `pool` > 1 gives the maps average-pooled in pool x pool
    blocks (H / pool, W / pool), for a generator that runs at a smaller size: the mean of an outer product over
    a block is the outer product of the profiles' block means, so only the profiles are pooled.
    """
    points = torch.as_tensor(np.asarray(keypoints) if not torch.is_tensor(keypoints) else keypoints)
    points = points.to(device=device or points.device, dtype=torch.float32)
    single = points.dim() == 2
    if single:
        points = points.unsqueeze(0)
    height, width = size
    rows = torch.arange(height, dtype=torch.float32, device=points.device)
    cols = torch.arange(width, dtype=torch.float32, device=points.device)
    row_profile = torch.exp(-((rows - points[..., 0:1]) ** 2) / (2 * sigma**2))  # (B, 18, H)
    col_profile = torch.exp(-((cols - points[..., 1:2]) ** 2) / (2 * sigma**2))  # (B, 18, W)
    row_profile, col_profile = (p.masked_fill(p < TAIL, 0.0) for p in (row_profile, col_profile))
    if pool > 1:
        row_profile, col_profile = (p.unflatten(-1, (-1, pool)).mean(-1) for p in (row_profile, col_profile))
    visible = ((points[..., 0] != MISSING) & (points[..., 1] != MISSING)).to(torch.float32)
    maps = row_profile.unsqueeze(-1) * col_profile.unsqueeze(-2) * visible[..., None, None]
    return maps[0] if single else maps


def pose_pair_maps(condition: torch.Tensor | np.ndarray, target: torch.Tensor | np.ndarray, **kwargs) -> torch.Tensor:
    """Condition and target heatmaps concatenated on the channel axis: (B, 36, H, W), the pose encoder input."""
    return torch.cat([pose_heatmaps(condition, **kwargs), pose_heatmaps(target, **kwargs)], dim=-3)
