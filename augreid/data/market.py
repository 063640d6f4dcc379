"""Market-1501 layout: file names, split folders, annotation files, and the scan of a root into one table.

Names are read as torchreid reads Market-1501 and DukeMTMC-reID: the person, `_c` and the camera digit, then
anything: Market-1501's `PPPP_cCsS_FFFFFF_BB.jpg` (person PPPP, `-1` junk, `0000` distractor; camera C, sequence
S, frame FFFFFF, box BB), DukeMTMC-reID's `PPPP_cC_fFFFFFFF.jpg`, or a lab's own `PID_cC<anything>.jpg` in the same
folders. augreid's generated images add a tag to the target's name, `0002_c1s1_000451_03_pona.jpg` (by a factor K: `..._03_pona_k1.jpg`);
a tag never occurs in the real sets, so generated names cannot collide with real ones.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from augreid.core.atomic import file_sha256, files_digest
from augreid.core.errors import InputError

JUNK_PID = -1
DISTRACTOR_PID = 0

# Split name -> folder under the root. "gallery" is Market-1501's bounding_box_test.
SPLIT_DIRS = {"train": "bounding_box_train", "gallery": "bounding_box_test", "query": "query"}
# Split name -> PATN-format keypoint file in the root (the published names for train and test).
ANNOTATION_FILES = {
    "train": "market-annotation-train.csv",
    "gallery": "market-annotation-test.csv",
    "query": "market-annotation-query.csv",
}

# The published test pairs (`from,to`), in a data root's top folder when it has them
TEST_PAIRS = "market-pairs-test.csv"

# An augmented set (`augreid.generate`) holds its run's inputs from the start and its summary once complete.
GENERATED_RUN, GENERATED_SUMMARY = "run.json", "summary.json"
# its training images, one row each: `name` and `source` (kept, or added: generated, copied)
GENERATED_MANIFEST = "manifest.csv"

# torchreid's `([-\d]+)_c(\d)` at the start of the name. Real Market-1501 has 18 test images named `....jpg.jpg`
# (they are in the published keypoint and pair files).
_NAME = re.compile(r"^(-1|\d+)_c(\d)([^/\\]*?)\.jpg(?:\.jpg)?$")
EXPECTED = "expected PID_cCAM....jpg, e.g. Market-1501's 0002_c1s1_000451_03.jpg or DukeMTMC-reID's 0005_c2_f0046985.jpg"


@dataclass(frozen=True)
class ImageName:
    """A parsed image name: person, camera and the name without its extension (which a generated image's
    name extends)."""

    pid: int
    camid: int
    stem: str

    def __str__(self) -> str:
        return f"{self.stem}.jpg"

    def tagged(self, tag: str) -> str:
        """This name with a tag: same person and camera, never a real image's name."""
        return f"{self.stem}_{tag}.jpg"


def market_name(pid: int, camid: int, seq: int, frame: int, box: int) -> str:
    """A Market-1501 name, `PPPP_cCsS_FFFFFF_BB.jpg`."""
    person = "-1" if pid == JUNK_PID else f"{pid:04d}"
    return f"{person}_c{camid}s{seq}_{frame:06d}_{box:02d}.jpg"


def parse_name(name: str) -> ImageName:
    """Parse an image name; InputError names the file when it does not fit the pattern."""
    match = _NAME.match(name)
    if not match:
        raise InputError(f"{name}: not a re-ID image name ({EXPECTED})")
    pid, cam, rest = match.groups()
    return ImageName(int(pid), int(cam), f"{pid}_c{cam}{rest}")


def is_identity(pid: int) -> bool:
    """True for a real person (not junk -1, not distractor 0000)."""
    return pid > DISTRACTOR_PID


def split_dir(root: str | Path, split: str) -> Path:
    return Path(root) / SPLIT_DIRS[split]


def annotation_file(root: str | Path, split: str) -> Path:
    return Path(root) / ANNOTATION_FILES[split]


def scan_split(root: str | Path, split: str) -> pd.DataFrame:
    """Table of one split folder's images (path, name, pid, camid, split), sorted by name.

    Only `.jpg` files count (Market-1501 ships Thumbs.db files beside them); a `.jpg` whose name does not
    parse is an error.
    """
    folder = split_dir(root, split)
    if not folder.is_dir():
        raise InputError(f"{folder}: missing Market-1501 split folder '{SPLIT_DIRS[split]}'")
    other_case = sorted(p.name for p in folder.iterdir() if p.suffix.lower() == ".jpg" and p.suffix != ".jpg")
    if other_case:  # a `.JPG` would be left out of every count in silence
        raise InputError(f"{folder / other_case[0]}: image names end in '.jpg', in lower case, as Market-1501's do "
                         f"({len(other_case)} such files; rename them)")
    rows = []
    for path in sorted(folder.glob("*.jpg")):
        try:
            parsed = parse_name(path.name)
        except InputError:
            raise InputError(f"{path}: not a re-ID image name ({EXPECTED})") from None
        if split == "train" and parsed.pid == JUNK_PID:  # Market-1501 and DukeMTMC-reID keep their junk in the test set
            raise InputError(f"{path}: a junk image (person -1) in the training split; training images name a person")
        rows.append((str(path), path.name, parsed.pid, parsed.camid, split))
    return pd.DataFrame(rows, columns=["path", "name", "pid", "camid", "split"]).astype(
        {"pid": "int64", "camid": "int64"}
    )


def check_complete(root: str | Path) -> None:
    """An augmented set that `augreid.generate` has not finished (killed, or still running) is refused: its
    training split would hold only part of the images."""
    root = Path(root)
    if (root / GENERATED_RUN).is_file() and not (root / GENERATED_SUMMARY).is_file():
        raise InputError(f"{root}: an unfinished augreid.generate output (no {GENERATED_SUMMARY}); run the same "
                         "generate command again to finish it")


def scan_market(root: str | Path, splits: tuple[str, ...] = ("train", "gallery", "query")) -> pd.DataFrame:
    """Scan a Market-1501 root into one table: path, name, pid, camid, split (train / gallery / query)."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: Market-1501 root folder does not exist")
    return pd.concat([scan_split(root, split) for split in splits], ignore_index=True)


def pair_names(root: str | Path) -> set[str]:
    """The names of the training and test images: those a pair of a study (a slot or a test pair) may join."""
    return set(scan_split(root, "train")["name"]) | set(scan_split(root, "gallery")["name"])


def folder_digest(root: str | Path) -> str:
    """What a Market-layout folder holds: the bytes of every split's images (as `augreid.generate` digests a set)
    and of the annotation files, so that an image replaced by another of the same size changes the key."""
    root = Path(root)
    digest = hashlib.sha256()
    for folder in SPLIT_DIRS.values():
        digest.update(f"{folder}:{files_digest((root / folder).glob('*.jpg'))}\n".encode())
    for name in ANNOTATION_FILES.values():
        if (root / name).is_file():
            digest.update(file_sha256(root / name).encode())
    return digest.hexdigest()
