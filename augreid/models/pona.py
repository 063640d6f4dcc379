"""PoNA: Pose-guided Non-local Attention generator (Li, Zhang, Zhu, Qian, Gao, 2020).

An image encoder and a pose encoder give the image code I and the pose code P (both 256 x 32 x 16); a chain of
PoNA blocks updates both, the last image code is decoded into the person in the target pose.
"""
from __future__ import annotations

import torch
from torch import nn

from augreid.models.layers import Decoder, Encoder, Unit, init_weights


class SelfAttention(nn.Module):
    """Self-attention on X = [I, P]: out = gamma * attention(X) + beta * X + X (gamma, beta start at 0)."""

    def __init__(self, channels: int):
        super().__init__()
        self.query = nn.Conv2d(channels, channels // 8, 1)
        self.key = nn.Conv2d(channels, channels // 8, 1)
        self.value = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))
        self.beta = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q = self.query(x).flatten(2).transpose(1, 2)  # (B, N, C/8)
        k = self.key(x).flatten(2)  # (B, C/8, N)
        attention = torch.softmax(torch.bmm(q, k), dim=-1)  # (B, N, N), softmax over keys
        attended = torch.bmm(self.value(x).flatten(2), attention.transpose(1, 2)).view(b, c, h, w)
        return self.gamma * attended + self.beta * x + x


class PoseGuidedNonLocalAttention(nn.Module):
    """Query and key from the pose code, value from the image code: where the target pose needs appearance."""

    def __init__(self, channels: int):
        super().__init__()
        self.f = nn.Conv2d(channels, channels // 8, 1)
        self.g = nn.Conv2d(channels, channels // 8, 1)
        self.h = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, image_code: torch.Tensor, pose_code: torch.Tensor) -> torch.Tensor:
        b, c, h, w = image_code.shape
        f = self.f(pose_code).flatten(2).transpose(1, 2)  # (B, N, C/8)
        g = self.g(pose_code).flatten(2)  # (B, C/8, N)
        attention = torch.softmax(torch.bmm(f, g), dim=-1)  # (B, N, N)
        attended = torch.bmm(self.h(image_code).flatten(2), attention.transpose(1, 2)).view(b, c, h, w)
        return self.gamma * attended + image_code


class PoNABlock(nn.Module):
    """One PoNA block (paper Fig. 2): updates the image code I and the pose code P."""

    def __init__(self, channels: int = 256, dropout: float = 0.5):
        super().__init__()
        self.self_attention = SelfAttention(2 * channels)
        self.pose_first = Unit(2 * channels, dropout=dropout)
        self.pose_second = Unit(2 * channels, channels, dropout=dropout, skip=False)
        self.image_path = nn.Sequential(Unit(channels, dropout=dropout), Unit(channels, dropout=dropout))
        self.non_local = PoseGuidedNonLocalAttention(channels)

    def forward(self, image_code: torch.Tensor, pose_code: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.self_attention(torch.cat([image_code, pose_code], dim=1))  # X = [I, P], attended
        pose_code = self.pose_second(self.pose_first(x))  # the next block's pose code (C channels)
        image_code = self.image_path(image_code)
        image_code = self.non_local(image_code, pose_code)  # I' = gamma * attn(P -> I) + I
        return image_code, pose_code


class PoNAGenerator(nn.Module):
    """Condition image (B, 3, H, W) + condition and target heatmaps (B, 36, H, W) -> image in the target pose."""

    def __init__(self, blocks: int = 3, ngf: int = 64, norm: str = "batch", dropout: float = 0.5, pose_channels: int = 36):
        super().__init__()
        self.image_encoder = Encoder(3, ngf, norm)
        self.pose_encoder = Encoder(pose_channels, ngf, norm)
        self.blocks = nn.ModuleList(PoNABlock(4 * ngf, dropout) for _ in range(blocks))
        self.decoder = Decoder(ngf, norm)
        init_weights(self)

    def forward(self, condition_image: torch.Tensor, pose_maps: torch.Tensor) -> torch.Tensor:
        image_code = self.image_encoder(condition_image)
        pose_code = self.pose_encoder(pose_maps)
        for block in self.blocks:
            image_code, pose_code = block(image_code, pose_code)
        return self.decoder(image_code)  # the last pose code is not decoded
