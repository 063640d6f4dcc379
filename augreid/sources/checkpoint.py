"""Generator checkpoints: the weights plus the architecture, so that a model is always rebuilt as trained.

Two files per run: `checkpoint.pt` (everything needed to resume training) and `generator.pt` (the generator
alone, for inference). Both are plain dicts of tensors and builtins, read with `weights_only=True`.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
from torch import nn

from augreid.config import GeneratorArchitecture
from augreid.core.atomic import atomic_file
from augreid.core.errors import InputError, one_line
from augreid.core.tensors_file import read_tensors_file
from augreid.models import build_generator

GENERATOR_FORMAT = "augreid-generator/1"
TRAINING_FORMAT = "augreid-generator-training/1"


def save(path: str | Path, payload: dict) -> None:
    with atomic_file(path) as tmp:
        torch.save(payload, tmp)


def load(path: str | Path, *expected_formats: str) -> dict:
    path = Path(path)
    payload = read_tensors_file(path, "checkpoint does not exist", "not an augreid checkpoint")
    if not isinstance(payload, dict) or payload.get("format") not in expected_formats:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise InputError(f"{path}: not an augreid checkpoint of format {' or '.join(expected_formats)} "
                         f"(found {found!r})")
    return payload


def describe(name: str, architecture: GeneratorArchitecture) -> str:
    fields = ", ".join(f"{k}={v}" for k, v in dataclasses.asdict(architecture).items())
    return f"{name}({fields})"


def generator_payload(name: str, architecture: GeneratorArchitecture, generator: nn.Module, step: int,
                      provenance: dict) -> dict:
    return {"format": GENERATOR_FORMAT, "generator": name, "architecture": dataclasses.asdict(architecture),
            "step": step, "state_dict": generator.state_dict(), "provenance": provenance}


def generator_of_training(checkpoint: dict) -> dict:
    """The generator payload of a training checkpoint: `generator.pt` is always this, written after it."""
    run = checkpoint["run"]
    return {"format": GENERATOR_FORMAT, "generator": run["generator"], "architecture": run["architecture"],
            "step": checkpoint["step"], "state_dict": checkpoint["training_state"]["models"]["generator"],
            "provenance": {"seed": run["seed"], "pairs": run["pairs"]}}


def load_generator(path: str | Path, name: str | None = None,
                   architecture: GeneratorArchitecture | None = None) -> tuple[nn.Module, dict]:
    """Rebuild the generator a `generator.pt` (or a training `checkpoint.pt`) describes, in eval mode on the CPU.

    With `name` / `architecture` given, a checkpoint of another generator or shape is a clear error.
    """
    payload = load(path, GENERATOR_FORMAT, TRAINING_FORMAT)
    try:
        if payload["format"] == TRAINING_FORMAT:
            payload = generator_of_training(payload)
        stored = GeneratorArchitecture(**payload["architecture"])
    except (KeyError, TypeError, ValueError) as err:  # a forged or damaged payload: its format tag alone is right
        raise InputError(f"{path}: a damaged augreid checkpoint ({type(err).__name__}: {one_line(err)})") from None
    if name is not None and (payload["generator"], stored) != (name, architecture or stored):
        raise InputError(f"{path}: checkpoint holds {describe(payload['generator'], stored)}, but "
                         f"{describe(name, architecture or stored)} was asked for")
    model = build_generator(payload["generator"], stored)
    try:
        model.load_state_dict(payload["state_dict"])
    except (RuntimeError, KeyError, TypeError, AttributeError) as err:
        raise InputError(f"{path}: weights do not fit {describe(payload['generator'], stored)} "
                         f"({str(err).splitlines()[0]})") from None
    return model.eval(), payload
