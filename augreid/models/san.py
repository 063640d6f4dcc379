"""SAN: the semantic attention network of seed paper 002, built from its text (no code was published).

Two pathways: appearance (condition image I_s, its person mask M_s and semantic map S_s) and semantic (the target's
mask M_t and semantic map S_t; `semantic.py` draws all four from keypoints). Each is encoded (a 7x7 and two 3x3
convs) and down-sampled three times (ConvA, ConvS); at the bottleneck, semantic attention blocks (SABs) let the
target's semantics gate what the appearance code receives; a U-Net-like decoder up-samples, concatenating at each
step ConvS's and ConvA's features of its size. Guesses where the text is silent, marked "guess" below:
- convs are 3x3 (stride 2 when down-sampling), LeakyReLU slope 0.2, decoder up-sampling by 4x4 transposed convs
  with ReLU, a 7x7 conv and tanh to the image (the pix2pix family's);
- widths: ngf after the stems, then 2 ngf, 4 ngf, 4 ngf after ConvA / ConvS's three steps (PATN's 4 ngf bottleneck);
- the attention mask has as many channels as the features; "Conv" of the semantic update is conv, norm, LeakyReLU.
"""
from __future__ import annotations

import torch
from torch import nn

from augreid.data.semantic import SEMANTIC_CHANNELS
from augreid.models.layers import conv_bias, init_weights, norm_layer

SLOPE = 0.2


def conv_norm_act(in_channels: int, out_channels: int, norm: str, kernel: int = 3, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=kernel // 2, bias=conv_bias(norm)),
            norm_layer(norm, out_channels), nn.LeakyReLU(SLOPE, True)]


def stem(in_channels: int, ngf: int, norm: str) -> nn.Sequential:
    """A pathway's encoder: 7x7, 3x3, 3x3 convs, each with norm and LeakyReLU, at full size."""
    return nn.Sequential(*conv_norm_act(in_channels, ngf, norm, 7), *conv_norm_act(ngf, ngf, norm),
                         *conv_norm_act(ngf, ngf, norm))


def widths(ngf: int) -> list[int]:
    """Channels after each of the three down-sampling steps (guess)."""
    return [2 * ngf, 4 * ngf, 4 * ngf]


def down_path(ngf: int, norm: str) -> nn.ModuleList:
    """ConvA or ConvS: three down-sampling subnetworks (stride-2 conv, norm, LeakyReLU)."""
    channels = [ngf] + widths(ngf)
    return nn.ModuleList(nn.Sequential(*conv_norm_act(a, b, norm, stride=2)) for a, b in zip(channels, channels[1:]))


class SemanticAttentionBlock(nn.Module):
    def __init__(self, channels: int, norm: str):
        super().__init__()
        bias = conv_bias(norm)
        self.attention = nn.Sequential(*conv_norm_act(channels, channels, norm), *conv_norm_act(channels, channels, norm),
                                       nn.Conv2d(channels, channels, 3, padding=1, bias=True))
        self.update = nn.Sequential(nn.Conv2d(2 * channels, channels, 3, padding=1, bias=bias),
                                    norm_layer(norm, channels), nn.LeakyReLU(SLOPE, True))

    def forward(self, f_s: torch.Tensor, f_t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        m_t = torch.sigmoid(self.attention(f_t))  # the attention mask M_t from the semantic code
        f_s = m_t * f_t + f_s  # appearance update: F_s^t = M_t ⊙ F_t^(t-1) + F_s^(t-1)
        f_t = self.update(torch.cat([f_t, f_s], dim=1))  # semantic update: F_t^t = Conv(F_t^(t-1) || F_s^t)
        return f_s, f_t


class UpStep(nn.Sequential):
    """The decoder's step: (its features || ConvS's || ConvA's of that size) -> twice the size."""

    def __init__(self, in_channels: int, out_channels: int, norm: str):
        super().__init__(nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1, bias=conv_bias(norm)),
                         norm_layer(norm, out_channels), nn.ReLU(True))


class SANGenerator(nn.Module):
    """(condition image, semantic maps of condition and target: 2 x 8 channels) -> image in the target's pose."""

    def __init__(self, blocks: int = 5, ngf: int = 64, norm: str = "batch"):
        super().__init__()
        if blocks < 1:
            raise ValueError(f"san: blocks must be at least 1, got {blocks}")
        self.appearance_stem = stem(3 + SEMANTIC_CHANNELS, ngf, norm)
        self.semantic_stem = stem(SEMANTIC_CHANNELS, ngf, norm)
        self.conv_a, self.conv_s = down_path(ngf, norm), down_path(ngf, norm)
        bottom = widths(ngf)[-1]
        self.blocks = nn.ModuleList(SemanticAttentionBlock(bottom, norm) for _ in range(blocks))
        ups = [bottom] + widths(ngf)[-2::-1] + [ngf]  # the decoder's widths, bottom to top
        self.decoder = nn.ModuleList(UpStep(3 * a, b, norm) for a, b in zip(ups, ups[1:]))
        self.to_image = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh())
        init_weights(self)

    def forward(self, condition_image: torch.Tensor, semantic_maps: torch.Tensor) -> torch.Tensor:
        condition_semantics, target_semantics = semantic_maps.chunk(2, dim=1)
        a = self.appearance_stem(torch.cat([condition_image, condition_semantics], dim=1))  # I_s || M_s || S_s
        s = self.semantic_stem(target_semantics)  # M_t || S_t
        a_levels, s_levels = [], []
        for down_a, down_s in zip(self.conv_a, self.conv_s):
            a, s = down_a(a), down_s(s)
            a_levels.append(a)
            s_levels.append(s)
        f_s, f_t = a, s
        for block in self.blocks:
            f_s, f_t = block(f_s, f_t)
        x = f_s
        for up, a_level, s_level in zip(self.decoder, reversed(a_levels), reversed(s_levels)):
            x = up(torch.cat([x, s_level, a_level], dim=1))
        return self.to_image(x)
