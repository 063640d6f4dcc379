"""APS: Appearance-aware Pose Stylizer (Huang, Xu, Wang, Gao, Huang, IJCAI 2020).

An appearance encoder, its image stream gated by pose-attention masks from the condition pose, compresses the
person into the appearance code A (512 x 8 x 4 for the published ngf 64). The target pose then drives two
decoding streams: the foreground stream, whose blocks are styled by A through adaptive patch normalisation
(AdaPN), and the synthesized stream that gathers every foreground block into the image.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from augreid.models.layers import conv_bias, init_weights, norm_layer

POSE_CHANNELS = 18


def channels(ngf: int, level: int) -> int:
    """ngf * 2^level, capped at 512 whatever ngf: the official rule (PoseStylizer `models/APS.py`), so that the
    authors' weights of any width load."""
    return min(ngf * 2 ** level, 512)


class AppearanceBlock(nn.Module):
    """One encoder block: both streams halve the resolution; the pose stream gates the image stream."""

    def __init__(self, in_channels: int, out_channels: int, norm: str):
        super().__init__()
        bias = conv_bias(norm)

        def down() -> list[nn.Module]:
            return [nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1, bias=bias),
                    norm_layer(norm, out_channels), nn.ReLU(True)]

        self.image_down, self.pose_down = nn.Sequential(*down()), nn.Sequential(*down())
        self.image_conv = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(out_channels, out_channels, 3, bias=bias),
                                        norm_layer(norm, out_channels), nn.ReLU(True))
        self.pose_conv = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(out_channels, out_channels, 3, bias=bias))

    def forward(self, image: torch.Tensor, pose: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a, p = self.image_down(image), self.pose_down(pose)
        pose = self.pose_conv(p)
        return self.image_conv(a) * torch.sigmoid(pose) + a, pose  # pose attention; the next block gets the logits


class AppearanceEncoder(nn.Module):
    """Condition image and condition heatmaps -> appearance code A (min(ngf 2^L, 512) x H/2^L x W/2^L)."""

    def __init__(self, blocks: int, ngf: int, norm: str):
        super().__init__()
        bias = conv_bias(norm)

        def stem(in_channels: int) -> nn.Sequential:
            return nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(in_channels, ngf, 7, bias=bias),
                                 norm_layer(norm, ngf), nn.ReLU(True))

        self.image_stem, self.pose_stem = stem(3), stem(POSE_CHANNELS)
        self.blocks = nn.ModuleList(AppearanceBlock(channels(ngf, i), channels(ngf, i + 1), norm)
                                    for i in range(blocks))

    def forward(self, image: torch.Tensor, pose: torch.Tensor) -> torch.Tensor:
        image, pose = self.image_stem(image), self.pose_stem(pose)
        for block in self.blocks:
            image, pose = block(image, pose)
        return image


class AdaPN(nn.Module):
    """Adaptive patch normalisation: instance statistics over the whole map, but a scale and shift per patch,
    predicted from A and upsampled by the patch factor k (each cell of A styles a k x k patch)."""

    def __init__(self, features: int, code_channels: int, patch: int):
        super().__init__()
        self.patch = patch
        self.style = nn.Conv2d(code_channels, 2 * features, 1)

    def forward(self, x: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(x, 0.2)
        mean, var = x.mean(dim=(2, 3), keepdim=True), x.var(dim=(2, 3), keepdim=True, unbiased=False)
        x_hat = (x - mean) / torch.sqrt(var + 1e-8)
        beta, gamma = F.interpolate(self.style(code), scale_factor=self.patch, mode="nearest").chunk(2, dim=1)
        return x_hat * (1 + gamma) + beta  # AdaPN(x) = x_hat (1 + gamma(A)) + beta(A)


class ForegroundBlock(nn.Module):
    """Doubles the resolution; AdaPN styles the features with A; a target-pose mask blends them with the
    upsampled input: out = y * m + x."""

    def __init__(self, in_channels: int, out_channels: int, code_channels: int, patch: int, dropout: float):
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1)
        self.adapn1 = AdaPN(out_channels, code_channels, patch)
        self.conv = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.adapn2 = AdaPN(out_channels, code_channels, patch)
        self.mask = nn.Conv2d(out_channels + POSE_CHANNELS, out_channels, 3, padding=1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, features: torch.Tensor, pose: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        x = self.up(features)
        y = self.adapn2(self.conv(self.adapn1(x, code)), code)
        pose_up = F.interpolate(pose, size=x.shape[-2:], mode="bilinear", align_corners=False)
        m = torch.sigmoid(self.mask(torch.cat([y, pose_up], 1)))
        return self.dropout(y * m + x)


def synthesis_layer(in_channels: int, out_channels: int, norm: str, last: bool) -> nn.Sequential:
    """Transposed conv up (or, at full resolution, a 7x7 conv), both with bias, then norm and LeakyReLU."""
    conv = (nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(in_channels, out_channels, 7)) if last
            else nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1))
    return nn.Sequential(conv, norm_layer(norm, out_channels), nn.LeakyReLU(0.2, True))


class APSGenerator(nn.Module):
    """Condition image (B, 3, H, W) + condition and target heatmaps (B, 36, H, W) -> image in the target pose."""

    def __init__(self, blocks: int = 4, ngf: int = 64, norm: str = "batch", dropout: float = 0.5):
        super().__init__()
        self.encoder = AppearanceEncoder(blocks, ngf, norm)
        code = channels(ngf, blocks)
        widths = [channels(ngf, blocks - 1 - r) for r in range(blocks)]  # 512, 256, 128, 64 for ngf 64
        inputs = [POSE_CHANNELS] + [w + POSE_CHANNELS for w in widths[:-1]]
        self.foreground = nn.ModuleList(ForegroundBlock(inputs[r], widths[r], code, 2 ** (r + 1), dropout)
                                        for r in range(blocks))
        self.synthesis = nn.ModuleList(
            synthesis_layer(widths[0] if r == 0 else widths[r - 1] + widths[r], widths[r], norm,
                            last=r == blocks - 1)
            for r in range(blocks))
        self.output = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(2 * widths[-1], 3, 7), nn.Tanh())
        init_weights(self)

    def forward(self, condition_image: torch.Tensor, pose_maps: torch.Tensor) -> torch.Tensor:
        condition_pose, target_pose = pose_maps[:, :POSE_CHANNELS], pose_maps[:, POSE_CHANNELS:]
        code = self.encoder(condition_image, condition_pose)  # appearance code A
        features, synthesized = None, None
        for r, (block, synthesis) in enumerate(zip(self.foreground, self.synthesis)):
            size = (code.shape[-2] * 2 ** r, code.shape[-1] * 2 ** r)  # this block's input resolution
            pose = F.interpolate(target_pose, size=size, mode="bilinear", align_corners=False)
            features = block(pose if features is None else torch.cat([features, pose], 1), pose, code)
            # S_1 from the first foreground output; S_r from [S_(r-1), foreground_r], the last one at full size
            synthesized = synthesis(features if synthesized is None else torch.cat([synthesized, features], 1))
        return self.output(torch.cat([synthesized, features], 1))
