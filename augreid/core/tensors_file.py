"""Reading a file of tensors safely: `torch.load` with `weights_only`, and every failure a one-line refusal."""
from __future__ import annotations

import pickle
from pathlib import Path

import torch

from augreid.core.errors import InputError, one_line


def read_tensors_file(path: Path, missing: str, unreadable: str) -> object:
    """`torch.load` of tensors and builtins only (`weights_only`); a missing or unreadable file is an InputError
    naming it: `{path}: {missing}`, `{path}: {unreadable} (why)`. A file that pickles other Python objects is
    refused without torch's advice to load it unsafely."""
    if not path.is_file():
        raise InputError(f"{path}: {missing}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise InputError(f"{path}: {unreadable} (it holds Python objects beyond tensors and plain values, which "
                         "augreid never loads: they could run code)") from None
    except Exception as err:  # noqa: BLE001 (torch's reader raises anything on a foreign file: KeyError on text)
        raise InputError(f"{path}: {unreadable} ({type(err).__name__}: {one_line(err)})") from None
