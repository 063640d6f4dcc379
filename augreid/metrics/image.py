"""Image quality as the pose-transfer papers compute it: SSIM with a Gaussian window (sigma 1.5), PSNR.

Batched torch versions of scikit-image's `structural_similarity(..., gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, channel_axis=-1)` and `peak_signal_noise_ratio`, on images in [0, 255]. SSIM's
data range is, by default, the one of PATN's and PoNA's evaluation script (`tool/getMetrics_market.py`): each
generated image's own max - min, not the format's 255.
"""
from __future__ import annotations

import torch

SIGMA = 1.5
RADIUS = int(3.5 * SIGMA + 0.5)  # scikit-image truncates the Gaussian at 3.5 sigma: an 11x11 window


def _gaussian_window(device: torch.device) -> torch.Tensor:
    x = torch.arange(-RADIUS, RADIUS + 1, dtype=torch.float64, device=device)
    kernel = torch.exp(-(x**2) / (2 * SIGMA**2))
    kernel = kernel / kernel.sum()
    return kernel


def _band(size: int, kernel: torch.Tensor) -> torch.Tensor:
    """(size - 2 RADIUS, size): row i holds the kernel at columns i .. i + 2 RADIUS (a valid 1-D convolution)."""
    rows = torch.arange(size - 2 * RADIUS, device=kernel.device)
    band = torch.zeros(len(rows), size, dtype=kernel.dtype, device=kernel.device)
    band[rows[:, None], rows[:, None] + torch.arange(2 * RADIUS + 1, device=kernel.device)] = kernel
    return band


def _blur(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian filter per channel, valid region only (the border scikit-image crops is never used): two
    banded matrix products, which in float64 run several times faster than a grouped convolution."""
    return _band(x.shape[-2], kernel) @ x @ _band(x.shape[-1], kernel).T


def ssim(a: torch.Tensor, b: torch.Tensor, data_range: float | None = None) -> torch.Tensor:
    """Mean SSIM per image of a generated batch `a` against a real batch `b`, both (B, C, H, W): one value per
    image, averaged over channels. `data_range` None: each image of `a` its own max - min, as the papers' script."""
    a, b = a.double(), b.double()
    if data_range is None:
        flat = a.flatten(1)
        data_range = (flat.amax(dim=1) - flat.amin(dim=1))[:, None, None, None]
    kernel = _gaussian_window(a.device)
    mu_a, mu_b = _blur(a, kernel), _blur(b, kernel)
    var_a = _blur(a * a, kernel) - mu_a**2
    var_b = _blur(b * b, kernel) - mu_b**2
    cov = _blur(a * b, kernel) - mu_a * mu_b
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    score = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return score.mean(dim=(1, 2, 3))


def psnr(a: torch.Tensor, b: torch.Tensor, data_range: float = 255.0) -> torch.Tensor:
    """PSNR in dB per image of two (B, C, H, W) batches."""
    mse = ((a.double() - b.double()) ** 2).mean(dim=(1, 2, 3))
    return 10 * torch.log10(data_range**2 / mse)
