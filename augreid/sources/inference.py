"""Pose transfer with a trained generator: condition images and poses in, images in the target poses out."""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import nn

from augreid.core.device import mixed_precision
from augreid.data.images import to_pixels, to_tensor
from augreid.models import conditioning_maps

# Draws the images of (condition, target) pairs: their names, the condition pixels, condition and target poses
Draw = Callable[[list[str], list[str], np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@torch.no_grad()
def transfer(generator: nn.Module, condition: np.ndarray, condition_pose: np.ndarray, target_pose: np.ndarray,
             device: torch.device | str = "cpu") -> np.ndarray:
    """(B, 128, 64, 3) uint8 condition images + (B, 18, 2) poses -> (B, 128, 64, 3) uint8 generated images."""
    device = torch.device(device)
    images = to_tensor(condition).to(device)
    maps = conditioning_maps(generator, condition_pose, target_pose, device)
    with mixed_precision(device):
        return to_pixels(generator(images, maps))


def drawing_with(generator: nn.Module, device: torch.device | str = "cpu") -> Draw:
    """A generator as a `Draw`: the pairs' names do not matter to it."""
    generator.eval()
    return lambda conditions, targets, pixels, condition_pose, target_pose: transfer(generator, pixels, condition_pose,
                                                                                     target_pose, device)
