"""A Market-1501-layout folder as a torchreid image data set, following the Market-1501 protocol.

Training identities are relabelled 0..N-1; query and gallery keep their real pids. Junk images (pid -1) are
dropped from the gallery, distractors (pid 0) stay in it as negatives, as torchreid's own Market1501 does.
"""
from __future__ import annotations

from pathlib import Path

from augreid.compat import import_torchreid
from augreid.errors import InputError
from augreid.market import JUNK_PID, SPLIT_DIRS, is_identity, scan_market

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


class MarketLayoutDataset(ImageDataset):
    """Registered with torchreid by `augreid.compat.register_dataset`; `root` is the Market-layout folder."""

    def __init__(self, root: str = "", **kwargs):
        lists = market_lists(root)
        super().__init__(lists["train"], lists["query"], lists["gallery"], **kwargs)
