"""Reading a file of tensors safely: `torch.load` with `weights_only`, and every failure a one-line refusal."""
from __future__ import annotations

import hashlib
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


def tensors_digest(path: str | Path) -> str:
    """SHA-256 of what a tensors file holds, not of its bytes: `torch.save` writes a random id into every archive,
    so two saves of the same weights differ as files, and a retrained, identical generator would never meet the
    sets made with it. Names, dtypes, shapes and values decide."""
    return payload_digest(read_tensors_file(Path(path), "file does not exist", "not a PyTorch tensors file"))


def payload_digest(payload: object) -> str:
    digest = hashlib.sha256()
    _update(digest, payload)
    return digest.hexdigest()


def _update(digest, value: object) -> None:
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu().contiguous()
        digest.update(f"tensor {tensor.dtype} {tuple(tensor.shape)}\n".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(value, dict):
        digest.update(f"dict {len(value)}\n".encode())
        for key in sorted(value, key=repr):
            digest.update(f"{key!r}\n".encode())
            _update(digest, value[key])
    elif isinstance(value, (list, tuple)):
        digest.update(f"{type(value).__name__} {len(value)}\n".encode())
        for item in value:
            _update(digest, item)
    else:
        digest.update(f"{type(value).__name__} {value!r}\n".encode())
