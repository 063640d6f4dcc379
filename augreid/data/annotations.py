"""PATN-format keypoint files: `name:keypoints_y:keypoints_x`, one row `NAME.jpg: [y0, ..., y17]: [x0, ..., x17]`.

Coordinates are pixels on the 128x64 image, row (y) then column (x), -1 for a missing joint.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from augreid.core.atomic import atomic_file
from augreid.core.errors import InputError
from augreid.data.market import parse_name
from augreid.data.pose import IMAGE_SIZE, MISSING, N_JOINTS

HEADER = "name:keypoints_y:keypoints_x"


@dataclass
class Annotations:
    """Keypoints of many images: `names[i]` has `keypoints[i]`, an (18, 2) array of (y, x), -1 when missing."""

    names: list[str]
    keypoints: np.ndarray  # (N, 18, 2) int
    _row: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.keypoints = np.asarray(self.keypoints, dtype=np.int64).reshape(len(self.names), N_JOINTS, 2)
        self._row = {name: i for i, name in enumerate(self.names)}
        if len(self._row) != len(self.names):
            raise InputError("annotations: the same image name appears twice")

    def __len__(self) -> int:
        return len(self.names)

    def __contains__(self, name: str) -> bool:
        return name in self._row

    def pose(self, name: str) -> np.ndarray:
        """(18, 2) keypoints of one image."""
        return self.keypoints[self._row[name]]

    def poses(self, names: Iterable[str]) -> np.ndarray:
        """(n, 18, 2) keypoints of many images, in the order given."""
        return self.keypoints[[self._row[name] for name in names]]

    def missing(self, names: Iterable[str]) -> list[str]:
        return [name for name in names if name not in self._row]

    def subset(self, names: Iterable[str]) -> "Annotations":
        names = list(names)
        return Annotations(names, self.poses(names))


def _coordinates(text: str, where: str, axis: str, size: int) -> list[int]:
    try:
        values = json.loads(text)
    except json.JSONDecodeError:
        raise InputError(f"{where}: keypoints_{axis} is not a list of integers: {text.strip()[:60]!r}") from None
    if not isinstance(values, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise InputError(f"{where}: keypoints_{axis} must be a list of integers")
    if len(values) != N_JOINTS:
        raise InputError(f"{where}: expected {N_JOINTS} keypoints_{axis} values, got {len(values)}")
    if any(v < MISSING for v in values):
        raise InputError(f"{where}: keypoints_{axis} holds a negative value other than -1")
    outside = [v for v in values if v >= size]
    if outside:
        raise InputError(f"{where}: keypoints_{axis} value {outside[0]} lies outside the image (0 to {size - 1})")
    return values


def read_annotations(path: str | Path) -> Annotations:
    """Read a PATN-format annotation CSV; InputError names the file and line of a malformed row."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: annotation file does not exist")
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()  # a spreadsheet's byte-order mark is no header
    except (UnicodeDecodeError, OSError) as err:
        raise InputError(f"{path}: cannot read it as a text annotation file ({type(err).__name__})") from None
    if not lines or lines[0].strip() != HEADER:
        raise InputError(f"{path}:1: expected the header '{HEADER}'")
    names, keypoints, first_line = [], [], {}
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        parts = line.split(":")
        if len(parts) != 3:
            raise InputError(f"{where}: expected 'name: [y...]: [x...]', got {line.strip()[:60]!r}")
        name = parts[0].strip()
        try:
            parse_name(name)
        except InputError as err:
            raise InputError(f"{where}: {err}") from None
        ys = _coordinates(parts[1], where, "y", IMAGE_SIZE[0])
        xs = _coordinates(parts[2], where, "x", IMAGE_SIZE[1])
        if any((y == MISSING) != (x == MISSING) for y, x in zip(ys, xs)):
            raise InputError(f"{where}: a joint is missing in one coordinate only")
        if name in first_line:
            raise InputError(f"{where}: {name} already annotated on line {first_line[name]}")
        first_line[name] = number
        names.append(name)
        keypoints.append(np.stack([ys, xs], axis=1))
    return Annotations(names, np.asarray(keypoints, dtype=np.int64).reshape(-1, N_JOINTS, 2))


def format_row(name: str, keypoints: np.ndarray) -> str:
    ys = ", ".join(str(int(v)) for v in keypoints[:, 0])
    xs = ", ".join(str(int(v)) for v in keypoints[:, 1])
    return f"{name}: [{ys}]: [{xs}]"


def write_annotations(path: str | Path, annotations: Annotations) -> None:
    """Write exactly the published format (header, `: ` separators, trailing newline), atomically."""
    text = "\n".join([HEADER] + [format_row(n, k) for n, k in zip(annotations.names, annotations.keypoints)])
    with atomic_file(path) as tmp:
        tmp.write_text(text + "\n", encoding="utf-8")
