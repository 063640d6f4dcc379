"""GFLA's losses beyond L1 and the GAN: sampling correctness and affine regularisation of the flow, and the VGG19
content and style terms. VGG19 sees images in [-1, 1] as they are (no ImageNet normalisation, as published)."""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from augreid.models.gfla_ops import resample2d

VGG_INDEX = {"relu1_1": 1, "relu2_1": 6, "relu2_2": 8, "relu3_1": 11, "relu3_4": 17, "relu4_1": 20, "relu4_4": 26,
             "relu5_1": 29, "relu5_2": 31}
CONTENT_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
STYLE_LAYERS = ("relu2_2", "relu3_4", "relu4_4", "relu5_2")
CORRECTNESS_LAYER = "relu3_1"  # a quarter of the image's resolution: the flow's
VGG_LAYERS = VGG_INDEX["relu5_2"] + 1


class VGGFeatures(nn.Module):
    """Named ReLU outputs of a frozen VGG19 `features` stack, computed only as deep as asked."""

    def __init__(self, features: nn.Sequential):
        super().__init__()
        self.features = features

    def forward(self, image: torch.Tensor, names: tuple[str, ...]) -> dict[str, torch.Tensor]:
        wanted = {VGG_INDEX[name]: name for name in names}
        out, x = {}, image
        for index, layer in enumerate(self.features[:max(wanted) + 1]):
            x = layer(x)
            if index in wanted:
                out[wanted[index]] = x
        return out


def patch_features(image: torch.Tensor, size: int = 4) -> torch.Tensor:
    """Each size x size pixel block as one vector, at 1/size of the resolution: a weight-free stand-in for VGG
    relu3_1 in the sampling-correctness loss when no ImageNet weights are at hand. Shifted to [0, 1] so that, like
    ReLU features, no cosine is negative (the loss divides by the best one)."""
    return F.pixel_unshuffle((image + 1) / 2, size)


def sampling_correctness(source: torch.Tensor, target: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """L_c = mean_j exp(-s_j / (m_j + eps)) - e^-1, with s_j the cosine between the source features warped by the
    flow and the target's at j, m_j the best cosine any source position reaches for j (0 at the best flow)."""
    b, c = source.shape[:2]
    source, target, flow = source.float(), target.float(), flow.float()
    warped = F.normalize(resample2d(source, flow).flatten(2), dim=1)
    source, target = F.normalize(source.flatten(2), dim=1), F.normalize(target.flatten(2), dim=1)
    best = torch.bmm(source.transpose(1, 2), target).max(dim=1).values  # (B, N): max over source positions i
    achieved = (warped * target).sum(dim=1)  # (B, N)
    return torch.exp(-achieved / (best + 1e-8)).mean() - math.exp(-1)


def affine_regularisation(flow: torch.Tensor) -> torch.Tensor:
    """How far each 3x3 neighbourhood of sampling positions is from an affine map of the grid: the residual of
    its least-squares affine fit, squared and summed over the window, averaged over windows, summed over x and y.
    Zero for any affine flow (the base grid itself is affine, so the flow alone decides)."""
    offsets = torch.tensor([-1.0, 0.0, 1.0], device=flow.device)
    dy, dx = torch.meshgrid(offsets, offsets, indexing="ij")
    a = torch.stack([dx.flatten(), dy.flatten(), torch.ones(9, device=flow.device)], dim=1)  # (9, 3) rows [x, y, 1]
    residual_maker = a @ torch.linalg.inv(a.T @ a) @ a.T - torch.eye(9, device=flow.device)
    loss = flow.new_zeros(())
    for channel in range(2):
        windows = F.unfold(flow[:, channel:channel + 1].float(), 3)  # (B, 9, L)
        loss = loss + (residual_maker @ windows).pow(2).sum(dim=1).mean()
    return loss


def gram(features: torch.Tensor) -> torch.Tensor:
    b, c, h, w = features.shape
    flat = features.flatten(2)
    return torch.bmm(flat, flat.transpose(1, 2)) / (c * h * w)


def content_loss(fake: dict[str, torch.Tensor], real: dict[str, torch.Tensor]) -> torch.Tensor:
    return sum(F.l1_loss(fake[name], real[name]) for name in CONTENT_LAYERS)


def style_loss(fake: dict[str, torch.Tensor], real: dict[str, torch.Tensor]) -> torch.Tensor:
    return sum(F.l1_loss(gram(fake[name].float()), gram(real[name].float())) for name in STYLE_LAYERS)
