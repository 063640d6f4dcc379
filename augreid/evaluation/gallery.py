"""The gallery: what a generator filled in, row by row: condition | target pose | generated | real target.

Read from an augmented set's manifest, so it shows exactly the images that re-ID was trained on, beside the real
images they stand in for.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from augreid.data.annotations import read_annotations
from augreid.data.images import load_image, save_image
from augreid.data.market import SPLIT_DIRS, annotation_file
from augreid.data.pose import draw_skeleton

COLUMNS = ("condition", "pose", "generated", "real")
HEADER_HEIGHT = 14


def comparison_grid(rows: list[list[np.ndarray]], labels: tuple[str, ...] = COLUMNS) -> np.ndarray:
    """Equal-sized uint8 images laid out in rows, under a header naming each column."""
    grid = np.concatenate([np.concatenate(row, axis=1) for row in rows], axis=0)
    header = Image.new("RGB", (grid.shape[1], HEADER_HEIGHT), "white")
    draw, width = ImageDraw.Draw(header), grid.shape[1] // len(labels)
    for i, label in enumerate(labels):
        draw.text((i * width + 2, 1), label, fill="black")
    return np.concatenate([np.asarray(header), grid], axis=0)


def pick_generated(manifest: pd.DataFrame, count: int) -> pd.DataFrame:
    """One generated image from each of `count` identities spread evenly over the set (deterministic)."""
    first = manifest[manifest["source"] == "generated"].groupby("pid", sort=True).head(1)
    if len(first) <= count:
        return first
    return first.iloc[np.linspace(0, len(first) - 1, count).round().astype(int)]


def gallery(augmented_root: str | Path, source_root: str | Path, count: int = 6) -> np.ndarray | None:
    """The gallery of one augmented set as a uint8 image; None when nothing was filled in (the control `none`)."""
    augmented_root, source_root = Path(augmented_root), Path(source_root)
    manifest = pd.read_csv(augmented_root / "manifest.csv", dtype={"condition": str}, keep_default_na=False)
    picked = pick_generated(manifest, count)
    if picked.empty:
        return None
    annotations = read_annotations(annotation_file(source_root, "train"))
    train, augmented_train = source_root / SPLIT_DIRS["train"], augmented_root / SPLIT_DIRS["train"]
    rows = [[load_image(train / row.condition), draw_skeleton(annotations.pose(row.target)),
             load_image(augmented_train / row.name), load_image(train / row.target)]
            for row in picked.itertuples()]
    return comparison_grid(rows)


def write_gallery(augmented_root: str | Path, source_root: str | Path, out: str | Path, count: int = 6) -> bool:
    """Write the gallery PNG to `out`; False (and nothing written) when nothing was filled in."""
    image = gallery(augmented_root, source_root, count)
    if image is None:
        return False
    save_image(out, image)
    return True
