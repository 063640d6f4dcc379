"""Metrics: image quality (SSIM, PSNR) here, re-ID ranking later."""
