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


# torchreid 0.2.5 (an unmaintained repackaging): import through `torchreid.reid`, register a data set name only
# once per process, and read its checkpoints (numpy scalars inside) with weights_only=True.
TORCHREID_DATASET = "augreid_market"


def import_torchreid() -> ModuleType:
    """Import torchreid after torchvision is importable; its missing Cython ranking only warns."""
    import warnings

    import_torchvision()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Cython evaluation", category=UserWarning)
        import torchreid
        import torchreid.reid.data  # noqa: F401  (attribute access alone does not import the subpackages)
        import torchreid.reid.engine  # noqa: F401
        import torchreid.reid.metrics  # noqa: F401
        import torchreid.reid.models  # noqa: F401
        import torchreid.reid.optim  # noqa: F401
        import torchreid.reid.utils  # noqa: F401
    return torchreid


def register_dataset(dataset_class: type) -> str:
    """Register augreid's Market-layout data set with torchreid under one name; a second call is a no-op."""
    torchreid = import_torchreid()
    try:
        torchreid.reid.data.register_image_dataset(TORCHREID_DATASET, dataset_class)
    except ValueError:  # already registered in this process
        pass
    return TORCHREID_DATASET


def torchreid_evaluate(distmat, q_pids, g_pids, q_camids, g_camids, max_rank: int = 50):
    """torchreid's own (Python) ranking: max_rank capped by the gallery size, which it would otherwise exceed."""
    torchreid = import_torchreid()
    return torchreid.reid.metrics.evaluate_rank(distmat, q_pids, g_pids, q_camids, g_camids,
                                                max_rank=min(max_rank, distmat.shape[1]), use_cython=False)


def load_torchreid_checkpoint(path: str) -> dict:
    """torchreid's `save_checkpoint` files hold numpy scalars, which weights_only loading rejects unless allowed."""
    import numpy as np

    dtypes = [np.dtype(kind) for kind in ("float64", "float32", "int64", "int32", "bool")]
    torch.serialization.add_safe_globals([np._core.multiarray.scalar, np.dtype, *(type(d) for d in dtypes)])
    return torch.load(path, map_location="cpu", weights_only=True)
