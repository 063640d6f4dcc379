"""PATN: Progressive Pose Attention Transfer network (Zhu, Huang, Shi, Wang, Bai, 2019)."""
from __future__ import annotations

import torch
from torch import nn

from augreid.models.layers import Decoder, Encoder, conv_bias, init_weights, norm_layer


class PATNBlock(nn.Module):
    """Pose-attentional transfer block: the pose stream gates an update of the image code."""

    def __init__(self, channels: int, pose_in: int, norm: str = "batch", dropout: float = 0.5):
        super().__init__()
        bias = conv_bias(norm)
        self.image_stream = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias), norm_layer(norm, channels), nn.ReLU(True),
            nn.Dropout(dropout),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias), norm_layer(norm, channels),
        )
        self.pose_stream = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(pose_in, pose_in, 3, bias=bias), norm_layer(norm, pose_in), nn.ReLU(True),
            nn.Dropout(dropout),
            nn.ReflectionPad2d(1), nn.Conv2d(pose_in, channels, 3, bias=bias),
        )

    def forward(self, image_code: torch.Tensor, pose_code: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pose_out = self.pose_stream(pose_code)
        mask = torch.sigmoid(pose_out)  # M = sigmoid(pose stream)
        image_code = image_code + self.image_stream(image_code) * mask  # I_t = I_{t-1} + conv(I_{t-1}) * M
        return image_code, torch.cat([pose_out, image_code], dim=1)  # P_t = [pose stream, I_t]


class PATNGenerator(nn.Module):
    """Condition image (B, 3, H, W) + condition and target heatmaps (B, 36, H, W) -> image in the target pose."""

    def __init__(self, blocks: int = 9, ngf: int = 64, norm: str = "batch", dropout: float = 0.5, pose_channels: int = 36):
        super().__init__()
        channels = 4 * ngf
        self.image_encoder = Encoder(3, ngf, norm)
        self.pose_encoder = Encoder(pose_channels, ngf, norm)
        self.blocks = nn.ModuleList(
            PATNBlock(channels, channels if i == 0 else 2 * channels, norm, dropout) for i in range(blocks)
        )
        self.decoder = Decoder(ngf, norm)
        init_weights(self)

    def forward(self, condition_image: torch.Tensor, pose_maps: torch.Tensor) -> torch.Tensor:
        image_code = self.image_encoder(condition_image)
        pose_code = self.pose_encoder(pose_maps)
        for block in self.blocks:
            image_code, pose_code = block(image_code, pose_code)
        return self.decoder(image_code)
