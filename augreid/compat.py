"""Where third-party quirks are handled, once.

torchvision: the registry's torchvision 0.28.0 wheel is a CUDA build. On a CPU-only torch its compiled ops
cannot load and `import torchvision` fails with `operator torchvision::nms does not exist` (its meta
registrations name ops that were never declared). Declaring the two schemas it needs, only when the compiled
library fails to load, lets torchvision import; models and transforms then work, `ops.nms` does not. On a CUDA
install whose extension loads, nothing is changed.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import torch

_TORCHVISION_OP_SCHEMAS = {
    "nms": "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms": "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
}
_declared: list[torch.library.Library] = []  # kept alive: a Library's definitions vanish with the object


def torchvision_extension_loads() -> bool:
    """Whether torchvision's compiled extension (`_C`) loads into this torch."""
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("torchvision is not installed (run `make setup`)")
    package = Path(next(iter(spec.submodule_search_locations)))
    libraries = sorted(package.glob("_C.*so")) + sorted(package.glob("_C.*pyd"))
    if not libraries:
        return False
    try:
        torch.ops.load_library(str(libraries[0]))
    except (OSError, RuntimeError):
        return False
    return True


def _declare_torchvision_ops() -> None:
    library = torch.library.Library("torchvision", "DEF")
    for schema in _TORCHVISION_OP_SCHEMAS.values():
        library.define(schema)
    _declared.append(library)


def import_torchvision() -> ModuleType:
    """Import torchvision on CUDA and on CPU-only torch alike."""
    import sys

    if "torchvision" not in sys.modules and not _declared and not torchvision_extension_loads():
        _declare_torchvision_ops()
    import torchvision

    return torchvision
