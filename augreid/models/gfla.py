"""GFLA: Global-Flow Local-Attention (Ren, Yu, Ni, Li, Li, CVPR 2020), in standard PyTorch.

A flow-field estimator predicts, from the source image and both poses, where each target position finds its
content in the source (a flow in pixels at 32x16) and an occlusion mask. The generator encodes the source image
and the target pose; at 32x16 it replaces the target features, where the mask says so, by a local attention over
the 3x3 source neighbourhood the flow points at, then decodes the image.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from augreid.models.gfla_ops import block_extractor, local_attn_reshape

POSE_CHANNELS = 18
ATTENTION_KERNEL = 3


def act() -> nn.Module:
    return nn.LeakyReLU(0.1)


def norm(channels: int) -> nn.Module:
    """Instance norm with affine parameters (GFLA's blocks; its skips, output and discriminator have none)."""
    return nn.InstanceNorm2d(channels, affine=True)


class Down(nn.Sequential):
    """Halves the resolution: IN, act, conv 4x4 s2, IN, act, conv 3x3."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(norm(in_channels), act(), nn.Conv2d(in_channels, out_channels, 4, 2, 1),
                         norm(out_channels), act(), nn.Conv2d(out_channels, out_channels, 3, 1, 1))


class Res(nn.Module):
    """IN, act, conv 3x3, IN, act, conv 3x3, plus the input."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(norm(channels), act(), nn.Conv2d(channels, channels, 3, 1, 1),
                                  norm(channels), act(), nn.Conv2d(channels, channels, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Up(nn.Module):
    """Doubles the resolution: IN, act, conv 3x3, IN, act, transposed conv 3x3 s2, plus a transposed-conv
    shortcut."""

    def __init__(self, in_channels: int, out_channels: int, hidden: int | None = None):
        super().__init__()
        hidden = hidden or in_channels
        self.body = nn.Sequential(norm(in_channels), act(), nn.Conv2d(in_channels, hidden, 3, 1, 1),
                                  norm(hidden), act(), nn.ConvTranspose2d(hidden, out_channels, 3, 2, 1, 1))
        self.shortcut = nn.ConvTranspose2d(in_channels, out_channels, 3, 2, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)


class Skip(nn.Sequential):
    """act, reflection pad, conv 3x3: an encoder feature added to the decoder of the same resolution."""

    def __init__(self, channels: int):
        super().__init__(act(), nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3))


def encoder_widths(ngf: int, top: int, layers: int) -> list[int]:
    """ngf, 2 ngf, 4 ngf, ... capped at `top`: one width per Down layer."""
    return [min(ngf * 2 ** i, top) for i in range(layers)]


class FlowFieldEstimator(nn.Module):
    """Source image + source and target heatmaps -> flow (B, 2, H/4, W/4; pixels, channel 0 = x) and occlusion
    mask (B, 1, H/4, W/4) in (0, 1)."""

    def __init__(self, ngf: int = 32, top: int = 256, layers: int = 5):
        super().__init__()
        widths = encoder_widths(ngf, top, layers)  # 32, 64, 128, 256, 256
        self.encoder = nn.ModuleList(Down(c_in, c_out) for c_in, c_out in
                                     zip([3 + 2 * POSE_CHANNELS] + widths[:-1], widths))
        up_widths = widths[-2::-1][:layers - 2]  # 256, 128, 64: back up to H/4
        self.decoder = nn.ModuleList(Up(c_in, c_out, hidden=c_out) for c_in, c_out in
                                     zip([widths[-1]] + up_widths[:-1], up_widths))
        self.skips = nn.ModuleList(Skip(c) for c in up_widths)
        self.flow = nn.Conv2d(up_widths[-1], 2, 3, 1, 1)
        self.mask = nn.Sequential(nn.Conv2d(up_widths[-1], 1, 3, 1, 1), nn.Sigmoid())

    def forward(self, source: torch.Tensor, source_pose: torch.Tensor, target_pose: torch.Tensor):
        x = torch.cat([source, source_pose, target_pose], 1)
        features = []
        for down in self.encoder:
            x = down(x)
            features.append(x)
        for i, (up, skip) in enumerate(zip(self.decoder, self.skips)):
            x = up(x) + skip(features[-2 - i])  # the encoder feature of the resolution just reached
        return self.flow(x), self.mask(x)


class LocalAttention(nn.Module):
    """Content-aware sampling: attention weights over the k x k source patch the flow points at, from the source
    and target patches (target first), then the weighted patch averaged (1/k^2 sum w_i v_i, as published)."""

    def __init__(self, channels: int, k: int = ATTENTION_KERNEL):
        super().__init__()
        self.k = k
        self.weights = nn.Sequential(nn.Conv2d(2 * channels, channels, k, stride=k), act(),
                                     nn.Conv2d(channels, k * k, 1))

    def forward(self, source: torch.Tensor, target: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        source_patches = block_extractor(source, flow, self.k)
        target_patches = block_extractor(target, torch.zeros_like(flow), self.k)
        weights = torch.softmax(self.weights(torch.cat([target_patches, source_patches], 1)), dim=1)
        attended = local_attn_reshape(weights, self.k) * source_patches
        return F.avg_pool2d(attended, self.k)


class GFLAGenerator(nn.Module):
    """Condition image (B, 3, H, W) + condition and target heatmaps (B, 36, H, W) -> image in the target pose.
    `forward_with_flow` also returns the flow and mask, which the training losses need."""

    def __init__(self, ngf: int = 64, top: int = 512, flow_ngf: int = 32, flow_top: int = 256, flow_layers: int = 5):
        super().__init__()
        widths = encoder_widths(ngf, top, 3)  # 64, 128, 256: the target code at H/8, attention at H/4
        self.flow_net = FlowFieldEstimator(flow_ngf, flow_top, flow_layers)
        self.source_encoder = nn.ModuleList(Down(c_in, c_out) for c_in, c_out in zip([3] + widths[:-1], widths))
        self.target_encoder = nn.ModuleList(Down(c_in, c_out) for c_in, c_out in
                                            zip([POSE_CHANNELS] + widths[:-1], widths))
        out_widths = widths[-2::-1] + [ngf]  # 128, 64, 64
        self.decoder = nn.ModuleList(nn.Sequential(Res(c_in), Up(c_in, c_out)) for c_in, c_out in
                                     zip(widths[::-1], out_widths))
        self.attention = LocalAttention(widths[-2])  # at the resolution of the flow, H/4
        self.output = nn.Sequential(act(), nn.ReflectionPad2d(1), nn.Conv2d(ngf, 3, 3), nn.Tanh())
        init_gfla(self)

    def forward_with_flow(self, condition_image: torch.Tensor, pose_maps: torch.Tensor):
        source_pose, target_pose = pose_maps[:, :POSE_CHANNELS], pose_maps[:, POSE_CHANNELS:]
        flow, mask = self.flow_net(condition_image, source_pose, target_pose)
        source_features = []
        x = condition_image
        for down in self.source_encoder:
            x = down(x)
            source_features.append(x)
        t = target_pose
        for down in self.target_encoder:
            t = down(t)
        t = self.decoder[0](t)
        attended = self.attention(source_features[-2], t, flow)
        t = t * (1 - mask) + attended * mask  # occluded regions keep the target branch's own features
        for block in self.decoder[1:]:
            t = block(t)
        return self.output(t), flow, mask

    def forward(self, condition_image: torch.Tensor, pose_maps: torch.Tensor) -> torch.Tensor:
        return self.forward_with_flow(condition_image, pose_maps)[0]


class GFLADiscriminator(nn.Module):
    """Residual down blocks without norm, spectral norm on every conv; a 1-channel patch map at H/8 x W/8."""

    def __init__(self, ndf: int = 32, top: int = 128, layers: int = 3):
        super().__init__()
        sn = nn.utils.parametrizations.spectral_norm
        widths = encoder_widths(ndf, top, layers)  # 32, 64, 128
        self.blocks = nn.ModuleList()
        for c_in, c_out in zip([3] + widths[:-1], widths):
            hidden = c_out if c_in == 3 else c_in  # 32, 32, 64
            block = nn.ModuleDict({
                "body": nn.Sequential(act(), sn(nn.Conv2d(c_in, hidden, 3, 1, 1)), act(),
                                      sn(nn.Conv2d(hidden, c_out, 4, 2, 1))),
                "shortcut": nn.Sequential(nn.AvgPool2d(2), sn(nn.Conv2d(c_in, c_out, 1)))})
            self.blocks.append(block)
        self.head = nn.Sequential(act(), sn(nn.Conv2d(widths[-1], 1, 1)))
        init_gfla(self)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = image
        for block in self.blocks:
            x = block["body"](x) + block["shortcut"](x)
        return self.head(x)


def init_gfla(module: nn.Module) -> None:
    """Orthogonal, gain 0.02, zero bias: the initial flow is about zero, so sampling starts at the same place."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            weight = getattr(layer, "parametrizations", None)
            nn.init.orthogonal_(weight.weight.original if weight is not None else layer.weight, gain=0.02)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
