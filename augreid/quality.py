"""Generation quality on held-out pairs: SSIM and PSNR of generated vs real target images, beside the
"copy the condition image" baseline that any useful generator must beat."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from augreid.annotations import Annotations
from augreid.generators.inference import transfer
from augreid.images import load_image
from augreid.metrics.image import psnr, ssim


def _chw(pixels: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(pixels).movedim(-1, 1).double()


def score_generator(generator: nn.Module, image_dir: Path, annotations: Annotations, pairs: pd.DataFrame,
                    device: torch.device | str = "cpu", batch_size: int = 64) -> dict[str, float]:
    """Mean SSIM / PSNR over `pairs` (columns from, to) for the generator and for copying the condition image."""
    generator.eval()
    scores: dict[str, list[torch.Tensor]] = {"ssim": [], "psnr": [], "copy_ssim": [], "copy_psnr": []}
    for start in range(0, len(pairs), batch_size):
        rows = pairs.iloc[start: start + batch_size]
        condition = np.stack([load_image(image_dir / name) for name in rows["from"]])
        target = np.stack([load_image(image_dir / name) for name in rows["to"]])
        generated = transfer(generator, condition, annotations.poses(rows["from"]), annotations.poses(rows["to"]), device)
        real = _chw(target)
        for prefix, images in (("", _chw(generated)), ("copy_", _chw(condition))):
            scores[prefix + "ssim"].append(ssim(images, real))
            scores[prefix + "psnr"].append(psnr(images, real))
    return {"pairs": len(pairs), **{key: round(torch.cat(values).mean().item(), 4) for key, values in scores.items()}}
