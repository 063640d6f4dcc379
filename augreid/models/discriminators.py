"""The two discriminators of PATN and PoNA: pose (image + target heatmaps) and appearance (image + condition), and
SAN's one: the (condition, image) pair.

Both are ResNet-style: 7x7 conv, two stride-2 convs, 3 residual blocks; the output is a 256 x 32 x 16 map of
logits (the sigmoid lives in the loss). PoNA wraps every convolution in spectral norm. As in the authors'
`define_D` (unlike their `define_G`), no initialisation is applied: PyTorch's defaults stand.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from augreid.models.layers import conv_bias, norm_layer


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, norm: str, dropout: float, wrap):
        super().__init__()
        bias = conv_bias(norm)
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), wrap(nn.Conv2d(channels, channels, 3, bias=bias)), norm_layer(norm, channels),
            nn.ReLU(True), nn.Dropout(dropout),
            nn.ReflectionPad2d(1), wrap(nn.Conv2d(channels, channels, 3, bias=bias)), norm_layer(norm, channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetDiscriminator(nn.Sequential):
    def __init__(self, in_channels: int, ndf: int = 64, norm: str = "batch", dropout: float = 0.5,
                 blocks: int = 3, use_spectral_norm: bool = False):
        bias = conv_bias(norm)
        wrap = spectral_norm if use_spectral_norm else (lambda conv: conv)
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3), wrap(nn.Conv2d(in_channels, ndf, 7, bias=bias)), norm_layer(norm, ndf), nn.ReLU(True),
        ]
        for scale in (1, 2):
            layers += [wrap(nn.Conv2d(ndf * scale, ndf * scale * 2, 3, stride=2, padding=1, bias=bias)),
                       norm_layer(norm, ndf * scale * 2), nn.ReLU(True)]
        layers += [ResidualBlock(4 * ndf, norm, dropout, wrap) for _ in range(blocks)]
        super().__init__(*layers)


def pose_discriminator(**kwargs) -> ResnetDiscriminator:
    """Judges whether an image fits the target pose: input image (3) + target heatmaps (18)."""
    return ResnetDiscriminator(3 + 18, **kwargs)


def appearance_discriminator(**kwargs) -> ResnetDiscriminator:
    """Judges whether an image shows the condition image's person: input image (3) + condition image (3)."""
    return ResnetDiscriminator(3 + 3, **kwargs)


class PairDiscriminator(nn.Sequential):
    """SAN's discriminator (its eq. 4 judges (I_s, I_t) pairs): condition and image side by side, two stride-2
    convs (4x4, LeakyReLU 0.2: guess), residual blocks, then a 3x3 conv to a map of logits (the sigmoid lives in the
    loss)."""

    def __init__(self, ndf: int = 64, norm: str = "batch", blocks: int = 3):
        bias = conv_bias(norm)
        super().__init__(
            nn.Conv2d(3 + 3, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, 2 * ndf, 4, stride=2, padding=1, bias=bias), norm_layer(norm, 2 * ndf),
            nn.LeakyReLU(0.2, True),
            *[ResidualBlock(2 * ndf, norm, 0.0, lambda conv: conv) for _ in range(blocks)],
            nn.Conv2d(2 * ndf, 1, 3, padding=1),
        )
