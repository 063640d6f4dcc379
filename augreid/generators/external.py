"""Images made elsewhere: a folder with one generated image per (condition, target) pair, found by a name pattern.

A pattern names a pair's file with `{from}` and `{to}`, the condition's and the target's image names without
`.jpg`. The presets are what the authors' test scripts write (`python -m augreid.slots` writes their inputs):
- `patn`, `pona`, `aps`: `{from}.jpg___{to}_vis.jpg`. Their test scripts join the two paths with `___` and their
  visualiser drops the last extension before adding `_vis.jpg`. The file is a strip of five panels of the crop's
  width: condition, condition pose, target, target pose, generated; the generated image is the last panel.
- `gfla`: `{from}_2_{to}_vis.jpg`, the generated image alone.
- `plain` (any other name): `{from}___{to}.jpg`, the generated image alone.
A file as wide as k crops (k > 1) is read as a strip of k panels and `panel` picks one (default: the last). An
image of another size is an error unless `resize` is set.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from augreid.atomic import files_digest
from augreid.errors import InputError
from augreid.pose import IMAGE_SIZE

EXTERNAL_PREFIX = "external:"
STRIP = "{from}.jpg___{to}_vis.jpg"
PRESETS = {"patn": STRIP, "pona": STRIP, "aps": STRIP, "gfla": "{from}_2_{to}_vis.jpg", "plain": "{from}___{to}.jpg"}
NAMED_IN_ERRORS = 3
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def stem(name: str) -> str:
    return name.removesuffix(".jpg")


def resolve_pattern(pattern: str | None, label: str, folder: Path) -> str:
    """A preset's name or a pattern. Without one: the preset named like the generator, else the one preset that
    names every image of the folder, else `plain`. A pattern names each pair once: `{from}` and `{to}` exactly once
    each, nothing else in braces, no folder."""
    if pattern is None:
        return PRESETS.get(label) or detect_pattern(folder)
    pattern = PRESETS.get(pattern, pattern)
    fields = re.findall(r"{([^}]*)}", pattern)
    if sorted(fields) != ["from", "to"] or "/" in pattern:
        raise InputError(f"--pattern '{pattern}': needs {{from}} and {{to}} once each, no other fields and no '/' "
                         f"(presets: {', '.join(f'{k} = {v}' for k, v in PRESETS.items())})")
    return pattern


def detect_pattern(folder: Path) -> str:
    names = [p.name for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES] if folder.is_dir() else []
    fitting = [pattern for pattern in set(PRESETS.values()) if names and all(map(pattern_regex(pattern).match, names))]
    # names hold underscores, so `{from}___{to}.jpg` also reads `A.jpg___B_vis.jpg`: the most literal text wins
    return max(fitting, key=literal_length, default=PRESETS["plain"])


def literal_length(pattern: str) -> int:
    return len(pattern.replace("{from}", "").replace("{to}", ""))


def file_name(pattern: str, condition: str, target: str) -> str:
    return pattern.replace("{from}", stem(condition)).replace("{to}", stem(target))


def _listing(names: list[str], what: str) -> str:
    shown = ", ".join(names[:NAMED_IN_ERRORS])
    more = f" and {len(names) - NAMED_IN_ERRORS} more" if len(names) > NAMED_IN_ERRORS else ""
    return f"{len(names)} {what}: {shown}{more}"


def pattern_regex(pattern: str) -> re.Pattern:
    """The pattern as a regular expression whose groups `from` and `to` match image names (without `.jpg`),
    Market-1501's or DukeMTMC-reID's (`market.parse_name`)."""
    name = r"(?:-1|\d+)_c\d[^/]*?(?:\.jpg)?"  # the shortest that fits (18 Market test images end in .jpg.jpg)
    parts = re.split(r"({from}|{to})", pattern)
    return re.compile("^" + "".join(f"(?P<{part[1:-1]}>{name})" if part in ("{from}", "{to}") else re.escape(part)
                                    for part in parts) + "$")


def names_a_pair(match: re.Match | None, known: set[str]) -> bool:
    """A file name matched by a pattern names two `known` images (of one identity in Table VI's slots and the test
    pairs; a factor K's target pose may be any identity's)."""
    if not match:
        return False
    return {match["from"] + ".jpg", match["to"] + ".jpg"} <= known


@dataclass(frozen=True)
class ExternalImages:
    """The generated images of one folder; `check` before use, then `read` by pair."""

    folder: Path
    pattern: str
    panel: int = -1
    resize: bool = False

    def check(self, pairs: pd.DataFrame, known: set[str]) -> str:
        """Every pair's image is present, decodable and of the crop's size (or a strip of such panels), and every
        image in the folder names a pair of two `known` images (the data set's, with `.jpg`): the
        folder may hold other cells' images, never foreign ones. Returns the SHA-256 over the pairs' file names and
        bytes, so that a changed folder changes it."""
        if not self.folder.is_dir():
            raise InputError(f"{self.folder}: folder of generated images does not exist")
        wanted = sorted({file_name(self.pattern, c, t) for c, t in zip(pairs["from"], pairs["to"])})
        present = sorted(p.name for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        missing = sorted(set(wanted) - set(present))
        if missing:
            raise InputError(f"{self.folder}: {_listing(missing, 'generated images missing')} "
                             f"(pattern '{self.pattern}')")
        regex = pattern_regex(self.pattern)
        unexpected = [name for name in present if not names_a_pair(regex.match(name), known)]
        if unexpected:
            raise InputError(f"{self.folder}: {_listing(unexpected, 'unexpected images')} (the pattern "
                             f"'{self.pattern}' finds no two images of this data set in their names)")
        unusable = []
        for name in wanted:
            try:
                self._pixels(name)
            except InputError as err:
                unusable.append(str(err).removeprefix(f"{self.folder}/"))
        if unusable:
            raise InputError(f"{self.folder}: {_listing(unusable, 'unusable generated images')}")
        return files_digest(self.folder / name for name in wanted)

    def read(self, conditions: list[str], targets: list[str]) -> np.ndarray:
        """(B, 128, 64, 3) uint8, the images of these pairs."""
        return np.stack([self._pixels(file_name(self.pattern, c, t)) for c, t in zip(conditions, targets)])

    def _pixels(self, name: str) -> np.ndarray:
        path = self.folder / name
        height, width = IMAGE_SIZE
        try:
            with Image.open(path) as image:
                image = image.convert("RGB")
        except (OSError, ValueError) as err:
            raise InputError(f"{path}: cannot read image ({err})") from None
        panels = image.width // width if image.height == height and image.width % width == 0 else 1
        if panels > 1:
            if not -panels <= self.panel < panels:
                raise InputError(f"{path}: a strip of {panels} panels has no panel {self.panel}")
            left = (self.panel % panels) * width
            image = image.crop((left, 0, left + width, height))
        if image.size != (width, height):
            if not self.resize:
                raise InputError(f"{path}: {image.width}x{image.height} pixels, not {width}x{height} nor a strip of "
                                 "such panels (resizing needs --resize)")
            image = image.resize((width, height), Image.Resampling.BILINEAR)
        return np.asarray(image)
