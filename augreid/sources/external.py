"""Images made elsewhere: a folder with one generated image per (condition, target) pair, found by a name pattern.

A pattern names a pair's file with `{from}` and `{to}`, the condition's and the target's image names without
`.jpg`. The presets are the names the authors' test scripts write (`python -m augreid.slots` writes their inputs):
- `patn`, `pona`, `aps`: `{from}.jpg___{to}.jpg_vis.jpg`, a strip of exactly five panels of the crop's width
  (320x128): condition, condition pose, target, target pose, generated; the generated image is the last panel.
  Their models join the two image names, `.jpg` kept, as `image_paths = P1 + '___' + P2` (Pose-Transfer
  `models/PATN.py:113`, PoseStylizer `models/PoseStyleNet.py:99`, PoNA `models/PoNA.py:74`), and their visualiser
  writes `'%s_%s.jpg' % (image_path[0], label)` with label `vis` (Pose-Transfer `util/visualizer.py:129-137`,
  PoseStylizer `util/visualizer.py:134`); it splits the extension off only for the HTML page's header.
- `gfla`: `{from}_2_{to}_vis.jpg`, the generated image alone. GFLA's `model/pose_model.py` names a pair
  `splitext(P1)[0] + '_2_' + P2` (`set_input`) and saves the generated image with `data_name='vis'` (`test`);
  `model/base_model.py` `save_results` writes `'%s_%s.%s' % (splitext(name)[0], 'vis', 'jpg')`.
- `plain`: `{from}___{to}.jpg`, the generated image alone.
A pattern given as text names single images too, unless it is a preset's pattern. A strip must have exactly its
preset's number of panels of the crop's size, and `panel` picks one (default: the last); any other size is an
error. A single image of another size is an error unless `resize` is set.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from augreid.core.atomic import files_digest
from augreid.core.errors import InputError
from augreid.data.pose import IMAGE_SIZE

EXTERNAL_PREFIX = "external:"
STRIP = "{from}.jpg___{to}.jpg_vis.jpg"
PRESETS = {"patn": STRIP, "pona": STRIP, "aps": STRIP, "gfla": "{from}_2_{to}_vis.jpg", "plain": "{from}___{to}.jpg"}
PANELS = {STRIP: 5}  # crops per file of a preset's pattern; every other pattern names single images
NAMED_IN_ERRORS = 3
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def stem(name: str) -> str:
    return name.removesuffix(".jpg")


def resolve_pattern(pattern: str | None, label: str, folder: Path) -> str:
    """A preset's name or a pattern. Without one: the authors' names first, i.e. the preset named like the
    generator (`external:patn`), else the one preset that names every image of the folder, else `plain`. A pattern
    names each pair once: `{from}` and `{to}` exactly once each, nothing else in braces, no folder."""
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

    @property
    def panels(self) -> int:
        return PANELS.get(self.pattern, 1)

    def check(self, pairs: pd.DataFrame, known: set[str]) -> str:
        """Every pair's image is present, decodable and of the crop's size (a strip: exactly the pattern's panels of
        it), and every image in the folder names a pair of two `known` images (the data set's, with `.jpg`): the
        folder may hold other cells' images, never foreign ones. Returns the SHA-256 over the pairs' file names and
        bytes, so that a changed folder changes it."""
        if not self.folder.is_dir():
            raise InputError(f"{self.folder}: folder of generated images does not exist")
        if not -self.panels <= self.panel < self.panels:
            raise InputError(f"--panel {self.panel}: a file named '{self.pattern}' holds {self.panels} panel(s), "
                             f"so the panel is one of {-self.panels}..{self.panels - 1}")
        wanted = sorted({file_name(self.pattern, c, t) for c, t in zip(pairs["from"], pairs["to"])})
        files = [p for p in self.folder.iterdir() if p.is_file() and not p.name.startswith(".")]
        others = sorted(p.name for p in files if p.suffix.lower() not in IMAGE_SUFFIXES)
        if others:  # every file must name two images: a stray one may be a result saved under another name
            raise InputError(f"{self.folder}: {_listing(others, 'files that are not images')} (the folder holds "
                             "the generated images alone)")
        present = sorted(p.name for p in files)
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
        try:
            with Image.open(path) as image:
                image = image.convert("RGB")
        except (OSError, ValueError) as err:
            raise InputError(f"{path}: cannot read image ({err})") from None
        return self._panel(path, image) if self.panels > 1 else self._single(path, image)

    def _panel(self, path: Path, image: Image.Image) -> np.ndarray:
        """The chosen panel of a strip of exactly `panels` crops. A strip of another size is refused, `resize` or
        not: it holds another number of panels (a 4-panel file's last one is the target pose's drawing)."""
        height, width = IMAGE_SIZE
        if image.size != (self.panels * width, height):
            raise InputError(f"{path}: {image.width}x{image.height} pixels, not a strip of {self.panels} panels of "
                             f"{width}x{height} ({self.panels * width}x{height})")
        left = (self.panel % self.panels) * width
        return np.asarray(image.crop((left, 0, left + width, height)))

    def _single(self, path: Path, image: Image.Image) -> np.ndarray:
        height, width = IMAGE_SIZE
        if image.size != (width, height):
            if not self.resize:
                raise InputError(f"{path}: {image.width}x{image.height} pixels, not {width}x{height} (resizing needs "
                                 "--resize)")
            image = image.resize((width, height), Image.Resampling.BILINEAR)
        return np.asarray(image)
