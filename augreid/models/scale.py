"""A generator run at a fraction of Market-1501's 128x64: a cheaper model for a short demo, the same interface.

The condition image and the pose heatmaps are area-downsampled by `scale` (pooling the full-size Gaussians gives
the maps the smaller image would have, sigma / scale), the generator runs at that size, and its output is
upsampled bilinearly back to 128x64, so that losses, metrics and the written images keep Market-1501's size.
Callers may hand the heatmaps already pooled (`heatmap.pose_heatmaps(..., pool=scale)`, the same values
computed on the small grid: `maps_pool`).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class AtScale(nn.Module):
    def __init__(self, generator: nn.Module, scale: int):
        super().__init__()
        self.generator, self.scale = generator, scale

    def forward(self, condition_image: torch.Tensor, pose_maps: torch.Tensor) -> torch.Tensor:
        if pose_maps.shape[-2:] == condition_image.shape[-2:]:
            pose_maps = F.avg_pool2d(pose_maps, self.scale)
        small = self.generator(F.avg_pool2d(condition_image, self.scale), pose_maps)
        return F.interpolate(small, scale_factor=self.scale, mode="bilinear", align_corners=False)


def maps_pool(generator: nn.Module) -> int:
    """The `pool` of the heatmaps this generator runs on (1: full size)."""
    return generator.scale if isinstance(generator, AtScale) else 1
