"""Metrics: image quality (SSIM, PSNR), PCKh, re-ID ranking."""
