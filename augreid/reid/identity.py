"""Identity score of generated images: does a generated image still show the condition person?

SSIM and PSNR cannot tell: a blurred mean person scores well on both. Here each generated test image is a query
against the real gallery (`bounding_box_test`, junk left out, distractors kept), ranked by a re-ID model trained
on the real training set; its identity is the condition's (= the target's). The same is done for the real
target image (the upper bound) and for the copied condition image. For each test pair, the gallery drops the
pair's identity as seen by the target's camera and by the condition's camera (the Market-1501 rule applied to
both cameras): that removes the condition and target images themselves, and any near-duplicate of them, so
neither the real target nor the copy can match themselves, and all three queries of a pair face the same
gallery. Pairs whose identity has no gallery image in a third camera are left out (as the ranking leaves out
queries without a match).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

from augreid.config import ReidConfig
from augreid.core.compat import import_torchreid
from augreid.core.device import mixed_precision
from augreid.core.errors import InputError, one_line
from augreid.core.tensors_file import read_tensors_file
from augreid.data.market import JUNK_PID, parse_name, scan_split
from augreid.metrics.reid import rank_queries, summarise
from augreid.reid.bot import register_bot
from augreid.reid.ide import describe, register_ide

QUERY_KINDS = ("generated", "target", "copy")
METRICS_FILE, MODEL_FILE = "metrics.json", "model.pt"


class ReidEmbedder:
    """A trained `augreid.reid` model as a feature extractor: uint8 images in, features out, through the same
    test transform (resize, ImageNet normalisation) that its evaluation used."""

    def __init__(self, run: str | Path, device: torch.device | str = "cpu", batch_size: int = 256):
        run = Path(run)
        folder = run.parent if run.name == MODEL_FILE else run
        metrics_path, model_path = folder / METRICS_FILE, folder / MODEL_FILE
        if not (metrics_path.is_file() and model_path.is_file()):
            raise InputError(f"{run}: not an augreid.reid run (needs {MODEL_FILE} and {METRICS_FILE} in one folder)")
        try:
            metrics = json.loads(metrics_path.read_text())
            self.config = ReidConfig(**metrics["config"])
            state = read_tensors_file(model_path, "missing", "not a re-ID model's weights")
        except (ValueError, KeyError, TypeError) as err:
            raise InputError(f"{folder}: cannot read the re-ID run ({type(err).__name__}: {one_line(err)})") from None
        torchreid = import_torchreid()
        register_ide()
        register_bot()
        self.model = torchreid.reid.models.build_model(self.config.model, num_classes=metrics["train_identities"],
                                                       loss="softmax", pretrained=False)
        self.model.load_state_dict(state)
        self.device, self.batch_size = torch.device(device), batch_size
        self.model = self.model.to(self.device).eval()
        _, self.transform = torchreid.reid.data.transforms.build_transforms(self.config.height, self.config.width,
                                                                           transforms=None)
        self.source = str(folder)

    @torch.no_grad()
    def __call__(self, images: list[Image.Image] | np.ndarray) -> torch.Tensor:
        features = []
        for start in range(0, len(images), self.batch_size):
            batch = [image if isinstance(image, Image.Image) else Image.fromarray(image)
                     for image in images[start: start + self.batch_size]]
            tensors = torch.stack([self.transform(image) for image in batch]).to(self.device)
            with mixed_precision(self.device, self.config.mixed_precision):
                features.append(describe(self.model, tensors, self.config.flip_test,
                                         self.config.normalize_features).cpu())
        return torch.cat(features)


def real_gallery(image_dir: Path) -> pd.DataFrame:
    """The gallery of the identity score: `bounding_box_test` without junk; path, name, pid, camid."""
    gallery = scan_split(image_dir.parent, "gallery")
    return gallery[gallery["pid"] != JUNK_PID].reset_index(drop=True)


def gallery_features(embed: ReidEmbedder, gallery: pd.DataFrame) -> torch.Tensor:
    def read(path: str) -> Image.Image:
        with Image.open(path) as image:  # as torchreid reads its gallery: the file, converted to RGB
            return image.convert("RGB")
    return embed([read(path) for path in gallery["path"]])


def identity_scores(queries: dict[str, torch.Tensor], pairs: pd.DataFrame, gallery: pd.DataFrame,
                    gallery_feats: torch.Tensor) -> dict[str, dict]:
    """Rank-1 and mAP (%) of each query kind (`generated`, `target`, `copy`: features in pair order) against
    the gallery, and the number of pairs that count."""
    targets = [parse_name(name) for name in pairs["to"]]
    conditions = [parse_name(name) for name in pairs["from"]]
    if any(t.pid != c.pid for t, c in zip(targets, conditions)):
        raise InputError("identity score: every test pair must join two images of one identity")
    pids = np.array([t.pid for t in targets])
    cameras = np.array([[t.camid, c.camid] for t, c in zip(targets, conditions)])
    scores = {}
    for kind, features in queries.items():
        distances = torch.cdist(features, gallery_feats).numpy()
        results = rank_queries(distances, pids, gallery["pid"].to_numpy(), cameras, gallery["camid"].to_numpy())
        if not results.valid.any():
            raise InputError("identity score: no test pair's identity has a gallery image in a third camera")
        cmc, mean_ap, valid = summarise(results, 1)
        scores[kind] = {"rank1": round(100 * float(cmc[0]), 2), "mAP": round(100 * mean_ap, 2), "pairs": valid}
    return scores
