"""Layers PoNA and PATN share: norms, the image / pose encoders, the decoder, the attention "unit", init."""
from __future__ import annotations

import torch
from torch import nn


def norm_layer(kind: str, channels: int) -> nn.Module:
    """Batch norm (Market-1501) or instance norm without affine parameters (DeepFashion)."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False)
    raise ValueError(f"unknown norm '{kind}' (batch or instance)")


def conv_bias(kind: str) -> bool:
    """Batch norm has its own shift, so convolutions before it carry no bias."""
    return kind != "batch"


class Encoder(nn.Sequential):
    """7x7 conv to ngf, then two stride-2 3x3 convs: (B, in, 128, 64) -> (B, 4 ngf, 32, 16)."""

    def __init__(self, in_channels: int, ngf: int = 64, norm: str = "batch"):
        bias = conv_bias(norm)
        super().__init__(
            nn.ReflectionPad2d(3), nn.Conv2d(in_channels, ngf, 7, bias=bias), norm_layer(norm, ngf), nn.ReLU(True),
            nn.Conv2d(ngf, 2 * ngf, 3, stride=2, padding=1, bias=bias), norm_layer(norm, 2 * ngf), nn.ReLU(True),
            nn.Conv2d(2 * ngf, 4 * ngf, 3, stride=2, padding=1, bias=bias), norm_layer(norm, 4 * ngf), nn.ReLU(True),
        )


class Decoder(nn.Sequential):
    """Two stride-2 transposed convs back to 128x64, a 7x7 conv to RGB and tanh: the image in [-1, 1]."""

    def __init__(self, ngf: int = 64, norm: str = "batch"):
        bias = conv_bias(norm)
        super().__init__(
            nn.ConvTranspose2d(4 * ngf, 2 * ngf, 3, stride=2, padding=1, output_padding=1, bias=bias),
            norm_layer(norm, 2 * ngf), nn.ReLU(True),
            nn.ConvTranspose2d(2 * ngf, ngf, 3, stride=2, padding=1, output_padding=1, bias=bias),
            norm_layer(norm, ngf), nn.ReLU(True),
            nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh(),
        )


class Unit(nn.Module):
    """PoNA's unit: conv, instance norm, ReLU, dropout, conv, instance norm, ReLU; a skip when shapes allow."""

    def __init__(self, channels: int, out_channels: int | None = None, dropout: float = 0.5, skip: bool = True):
        super().__init__()
        out_channels = out_channels or channels
        self.skip = skip and out_channels == channels
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1), nn.InstanceNorm2d(channels), nn.ReLU(True),
            nn.Dropout(dropout),
            nn.Conv2d(channels, out_channels, 3, padding=1), nn.InstanceNorm2d(out_channels), nn.ReLU(True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) if self.skip else self.body(x)


def init_weights(module: nn.Module) -> None:
    """Convolutions N(0, 0.02); batch-norm scale N(1, 0.02), shift 0 (the pix2pix family's "normal" init, which
    the authors' `define_G` applies to the generators)."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(layer.weight, 0.0, 0.02)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.normal_(layer.weight, 1.0, 0.02)
            nn.init.zeros_(layer.bias)


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
