"""A Market-1501-layout folder as a torchreid image data set, following the Market-1501 protocol.

Training identities are relabelled 0..N-1; query and gallery keep their real pids. Junk images (pid -1) are
dropped from the gallery, distractors (pid 0) stay in it as negatives, as torchreid's own Market1501 does.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

from augreid.core.compat import import_torchreid
from augreid.core.errors import InputError
from augreid.data.market import GENERATED_MANIFEST, JUNK_PID, SPLIT_DIRS, is_identity, scan_market

ImageDataset = import_torchreid().reid.data.ImageDataset


def market_lists(root: str | Path) -> dict[str, list[tuple[str, int, int]]]:
    """(path, pid, camid) lists of train (relabelled), query and gallery; bad layouts are InputErrors."""
    table = scan_market(root)
    train = table[(table["split"] == "train") & table["pid"].map(is_identity)]
    query = table[table["split"] == "query"]
    gallery = table[(table["split"] == "gallery") & (table["pid"] != JUNK_PID)]
    for split, rows in (("train", train), ("query", query), ("gallery", gallery)):
        if rows.empty:
            raise InputError(f"{Path(root) / SPLIT_DIRS[split]}: no usable images in this split")
    if train["pid"].nunique() < 2:
        raise InputError(f"{Path(root) / SPLIT_DIRS['train']}: re-ID training needs at least two identities")
    unmatched = query[~query.apply(lambda q: ((gallery["pid"] == q["pid"]) & (gallery["camid"] != q["camid"])).any(),
                                   axis=1)]
    if not unmatched.empty:
        first = unmatched.iloc[0]
        raise InputError(f"{first['path']}: query identity {first['pid']} has no gallery image from another camera "
                         f"in {Path(root) / SPLIT_DIRS['gallery']} ({len(unmatched)} such queries)")
    label = {pid: i for i, pid in enumerate(sorted(train["pid"].unique()))}
    as_list = lambda rows, pids: list(zip(rows["path"], pids, rows["camid"].astype(int)))  # noqa: E731
    return {
        "train": as_list(train, train["pid"].map(label).astype(int)),
        "query": as_list(query, query["pid"].astype(int)),
        "gallery": as_list(gallery, gallery["pid"].astype(int)),
    }


def added_images(root: str | Path) -> frozenset[str]:
    """The names of the training images an augmented set added (generated, or copied by a control or the unposed
    policy: its manifest's rows not `kept`); none in a folder that is no augmented set."""
    manifest = Path(root) / GENERATED_MANIFEST
    if not manifest.is_file():
        return frozenset()
    rows = pd.read_csv(manifest, usecols=["name", "source"], dtype=str, keep_default_na=False)
    return frozenset(rows.loc[rows["source"] != "kept", "name"])


def added_flags(paths: list[str], added: frozenset[str]) -> torch.Tensor:
    """A batch's per-image flag (bool): whether the image at each path is one the set added."""
    return torch.tensor([Path(path).name in added for path in paths], dtype=torch.bool)


class MarketLayoutDataset(ImageDataset):
    """Registered with torchreid by `augreid.core.compat.register_dataset`; `root` is the Market-layout folder."""

    def __init__(self, root: str = "", **kwargs):
        lists = market_lists(root)
        super().__init__(lists["train"], lists["query"], lists["gallery"], **kwargs)


IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def read_resized(path: str, height: int, width: int) -> np.ndarray:
    """(H, W, 3) uint8, as torchreid reads and resizes an image (PIL, bilinear); an unreadable file is an
    InputError naming it."""
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB").resize((width, height), Image.Resampling.BILINEAR))
    except (OSError, ValueError) as err:
        raise InputError(f"{path}: cannot read image ({err})") from None


class PreloadedBatches:
    """Training batches drawn from memory: every image decoded and resized once, then each pass a new random
    order (torch's generator, like torchreid's RandomSampler), the last partial batch dropped, a random
    horizontal flip per image and ImageNet normalisation, as torchreid's transforms do. Two runs side by side in
    one process then hardly contend for Python's lock, which decoding every image every epoch does."""

    def __init__(self, items: list[tuple[str, int, int]], height: int, width: int, batch_size: int, flip: bool):
        pixels = np.stack([read_resized(path, height, width) for path, _, _ in items])
        self.images = torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous()  # uint8, (N, 3, H, W)
        self.paths = [path for path, _, _ in items]
        self.pids = torch.tensor([pid for _, pid, _ in items])
        self.camids = torch.tensor([camid for _, _, camid in items])
        self.batch_size, self.flip = batch_size, flip
        self.mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        self.std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)

    def __len__(self) -> int:
        return len(self.images) // self.batch_size

    def __iter__(self):
        order = torch.randperm(len(self.images))
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            index = order[start: start + self.batch_size]
            images = self.images[index].float().div_(255)
            if self.flip:
                flipped = torch.rand(len(index)) < 0.5
                images[flipped] = images[flipped].flip(-1)
            yield {"img": (images - self.mean) / self.std, "pid": self.pids[index], "camid": self.camids[index],
                   "impath": [self.paths[i] for i in index.tolist()]}  # as torchreid's batches: tells added images
