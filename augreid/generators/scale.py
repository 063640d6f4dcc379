"""A generator run at a fraction of Market-1501's 128x64: a cheaper model for a short demo, the same interface.

The condition image and the pose heatmaps are area-downsampled by `scale` (pooling the full-size Gaussians gives
the maps the smaller image would have, sigma / scale), the generator runs at that size, and its output is
upsampled bilinearly back to 128x64, so that losses, metrics and the written images keep Market-1501's size.
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
        small = self.generator(F.avg_pool2d(condition_image, self.scale), F.avg_pool2d(pose_maps, self.scale))
        return F.interpolate(small, scale_factor=self.scale, mode="bilinear", align_corners=False)
