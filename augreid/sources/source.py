"""Where a study's generated images come from, by name: one interface for generate, quality and the flow.

A generator is named in one of three ways:
- `pona`, `patn`, `aps`, `gfla`: a model augreid trains (`generator.pt`; `augreid.convert` makes one from the
  authors' published weights);
- `NAME` or `NAME=CHECKPOINT`: a model of an installed package, through the entry points of `plugins.py`;
- `external:NAME` (the folder given apart) or `external:NAME=DIR`: images made elsewhere, one per (condition,
  target) pair, found in DIR by a name pattern (`external.py`).
NAME is the Table VI row and the tag of the filled images' names.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from augreid.config import GENERATOR_NAMES
from augreid.core.atomic import file_sha256
from augreid.core.errors import InputError
from augreid.core.tensors_file import payload_digest
from augreid.data.market import pair_names
from augreid.sources.checkpoint import GENERATOR_FORMAT, TRAINING_FORMAT, generator_of_training, load, load_generator
from augreid.sources.external import EXTERNAL_PREFIX, ExternalImages, resolve_pattern
from augreid.sources.inference import transfer
from augreid.sources.plugins import load_plugin, plugin_digest, plugin_names

KINDS = ("model", "plugin", "external")
_LABEL = re.compile(r"^[a-z0-9]+$")


@dataclass(frozen=True)
class GeneratorSpec:
    """A named generator: `kind` model, plugin or external; `path` its checkpoint or its images' folder;
    `pattern`, `panel`, `resize`: how an external folder's files are read."""

    label: str
    kind: str
    path: str | None = None
    pattern: str | None = None
    panel: int = -1
    resize: bool = False

    def describe(self) -> str:
        return {"model": "generator.pt", "plugin": "plugin model", "external": "images made elsewhere"}[self.kind]


def parse_generator(text: str, reserved: tuple[str, ...] = ()) -> GeneratorSpec:
    """`pona`, `NAME[=CHECKPOINT]` of an installed plugin, or `external:NAME[=DIR]`; `reserved` names (the
    controls) are not generators."""
    external = text.startswith(EXTERNAL_PREFIX)
    label, _, path = text.removeprefix(EXTERNAL_PREFIX).partition("=")
    if not _LABEL.match(label) or label in reserved:
        raise InputError(f"generator '{text}': the name must be lowercase letters and digits, and not one of "
                         f"{', '.join(reserved)} (it tags the generated images' file names)")
    if external:
        return GeneratorSpec(label, "external", path or None)
    if label in GENERATOR_NAMES:
        return GeneratorSpec(label, "model", path or None)
    if label not in plugin_names():
        raise InputError(f"unknown generator '{label}' (built in: {', '.join(GENERATOR_NAMES)}; installed plugins: "
                         f"{', '.join(plugin_names()) or 'none'}; images made elsewhere: external:NAME=DIR)")
    return GeneratorSpec(label, "plugin", path or None)


def checkpoint_spec(path: str | Path) -> GeneratorSpec:
    """The built-in generator a `generator.pt` (or training `checkpoint.pt`) holds."""
    payload = load(path, GENERATOR_FORMAT, TRAINING_FORMAT)
    if payload["format"] == TRAINING_FORMAT:
        payload = generator_of_training(payload)
    return GeneratorSpec(payload["generator"], "model", str(path))


class ImageSource:
    """Draws the images of (condition, target) pairs. `digest` identifies what draws them (the checkpoint's or
    the images' SHA-256), so that a changed model or folder is never answered from a stale result."""

    def __init__(self, spec: GeneratorSpec, device: torch.device, pairs: pd.DataFrame, data_root: Path):
        """`pairs` (`from`, `to`): what it will be asked to draw (an external folder must hold all of them, and
        nothing foreign to `data_root`)."""
        self.spec, self.device = spec, device
        self.payload: dict = {}
        if spec.kind == "external":
            if spec.path is None:
                raise InputError(f"external:{spec.label}: no folder of images (--images DIR, or external:NAME=DIR)")
            folder = Path(spec.path)
            self.images = ExternalImages(folder, resolve_pattern(spec.pattern, spec.label, folder), spec.panel,
                                         spec.resize)
            self.digest = self.images.check(pairs, pair_names(data_root))
        elif spec.kind == "model":
            if spec.path is None:
                raise InputError(f"{spec.label}: no generator checkpoint given")
            self.model, self.payload = load_generator(spec.path, name=spec.label)
            self.model = self.model.to(device)
            if device.type == "cuda":
                self.model = self.model.to(memory_format=torch.channels_last)
            self.digest = payload_digest(self.payload)
        else:
            if spec.path is not None and not Path(spec.path).is_file():
                raise InputError(f"{spec.path}: checkpoint of generator '{spec.label}' does not exist")
            self.plugin = load_plugin(spec.label, spec.path, device)
            self.digest = file_sha256(spec.path) if spec.path else plugin_digest(spec.label)

    def draw(self, conditions: list[str], targets: list[str], condition_pixels: np.ndarray,
             condition_poses: np.ndarray, target_poses: np.ndarray) -> np.ndarray:
        """(B, 128, 64, 3) uint8: each condition person in the target pose."""
        if self.spec.kind == "external":
            return self.images.read(conditions, targets)
        if self.spec.kind == "model":
            return transfer(self.model, condition_pixels, condition_poses, target_poses, self.device)
        return self.plugin(condition_pixels, condition_poses, target_poses)

    def provenance(self) -> dict:
        """What drew the images, for run.json, summary.json and quality.json."""
        record = {"kind": self.spec.kind, "path": str(Path(self.spec.path).resolve()) if self.spec.path else None,
                  "sha256": self.digest}
        if self.spec.kind == "external":
            record.update(pattern=self.images.pattern, panel=self.spec.panel, resize=self.spec.resize)
        return record
