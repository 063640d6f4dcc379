"""GFLA's three custom CUDA operations, in standard PyTorch (differentiable by autograd, any device).

- `block_extractor`: k x k source patches centred at position + flow (bilinear, border-clamped);
- `local_attn_reshape`: per-position attention weights (B, k^2, H, W) laid out as k x k blocks (B, 1, kH, kW);
- `resample2d`: the sampling-correctness loss's warp, a normalised 4x4 Gaussian window around position + flow.
tests/test_gfla_ops.py compares each with a loop version of its kernel.
"""
from __future__ import annotations

import torch
from torch.nn import functional as F

RESAMPLE_SIGMA = 2.0  # exp(-(dx^2 + dy^2) / (2 sigma^2)) = exp(-(dx^2 + dy^2) / 8)


def _base_grid(h: int, w: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel coordinates (y, x), each (h, w)."""
    ys = torch.arange(h, dtype=like.dtype, device=like.device)
    xs = torch.arange(w, dtype=like.dtype, device=like.device)
    return torch.meshgrid(ys, xs, indexing="ij")


def block_extractor(source: torch.Tensor, flow: torch.Tensor, k: int) -> torch.Tensor:
    """(B, C, Hs, Ws) source, (B, 2, H, W) flow in pixels (channel 0 = x) -> (B, C, kH, kW): output pixel (y, x)
    samples the source at cell (y // k, x // k) + its flow + offset (y % k - k // 2, x % k - k // 2)."""
    b, _, h_source, w_source = source.shape
    h, w = flow.shape[-2:]
    y, x = _base_grid(h, w, flow)
    offsets = torch.arange(k, dtype=flow.dtype, device=flow.device) - k // 2
    sample_x = (x + flow[:, 0]).repeat_interleave(k, 1).repeat_interleave(k, 2) + offsets.repeat(w)
    sample_y = (y + flow[:, 1]).repeat_interleave(k, 1).repeat_interleave(k, 2) + offsets.repeat(h)[:, None]
    grid = torch.stack([2 * sample_x / (w_source - 1) - 1, 2 * sample_y / (h_source - 1) - 1], dim=-1)
    return F.grid_sample(source, grid, mode="bilinear", padding_mode="border", align_corners=True)


def local_attn_reshape(weights: torch.Tensor, k: int) -> torch.Tensor:
    """(B, k^2, H, W) -> (B, 1, kH, kW): out[y, x] = weights[(y % k) * k + x % k, y // k, x // k]."""
    return F.pixel_shuffle(weights, k)


def resample2d(source: torch.Tensor, flow: torch.Tensor, sigma: float = RESAMPLE_SIGMA) -> torch.Tensor:
    """(B, C, H, W) source warped by the (B, 2, H, W) flow: around p = pixel + flow, the 4 x 4 integer neighbours
    floor(p) + {-1, 0, 1, 2} per axis (indices clamped to the image, distances not), weighted by a Gaussian of
    their distance to p and normalised by the weights' sum."""
    b, c, h, w = source.shape
    y, x = _base_grid(h, w, flow)
    px, py = x + flow[:, 0], y + flow[:, 1]
    fx, fy = torch.floor(px), torch.floor(py)
    flat = source.flatten(2)
    value, total = 0.0, 0.0
    for dy in (-1, 0, 1, 2):
        ny = fy + dy
        wy = torch.exp(-(ny - py) ** 2 / (2 * sigma ** 2))
        iy = ny.clamp(0, h - 1).long()
        for dx in (-1, 0, 1, 2):
            nx = fx + dx
            weight = wy * torch.exp(-(nx - px) ** 2 / (2 * sigma ** 2))  # (B, H, W)
            index = (iy * w + nx.clamp(0, w - 1).long()).flatten(1)  # (B, H*W)
            gathered = flat.gather(2, index[:, None].expand(b, c, -1)).view(b, c, h, w)
            value = value + weight[:, None] * gathered
            total = total + weight
    return value / total[:, None]
