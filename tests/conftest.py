"""Shared fixtures: the real Market-1501 material beside the checkout, and a small synthetic data set."""
from __future__ import annotations

from pathlib import Path

import pytest

from augreid.config import SyntheticConfig
from augreid.core.threads import fit_threads
from augreid.data.synthetic import build_synthetic_market


def pytest_configure(config) -> None:
    """Work done in the test process uses the threads a step's CLI uses (one, unless AUGREID_THREADS says), so
    that their numbers agree bit for bit; pytest-xdist's workers then share the CPUs one each."""
    fit_threads()


SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
REAL_ANNOTATIONS = SHARED_DATA / "market1501-annotations"
REAL_SAMPLE = SHARED_DATA / "market1501-sample"

SMALL = SyntheticConfig(
    train_identities=12, test_identities=10, train_images_per_identity=(4, 10), test_images_per_identity=(5, 9),
    junk_images=6, distractor_images=4,
)


@pytest.fixture(scope="session")
def real_annotations() -> Path:
    """The published PATN keypoint files; users' checkouts do not have ../shared, so tests skip there."""
    if not (REAL_ANNOTATIONS / "market-annotation-train.csv").is_file():
        pytest.skip(f"real Market-1501 annotations not found at {REAL_ANNOTATIONS} (../shared is absent)")
    return REAL_ANNOTATIONS


@pytest.fixture(scope="session")
def real_sample() -> Path:
    """18 real Market-1501 training crops (a root with bounding_box_train/ only)."""
    if not (REAL_SAMPLE / "bounding_box_train").is_dir():
        pytest.skip(f"real Market-1501 sample crops not found at {REAL_SAMPLE} (../shared is absent)")
    return REAL_SAMPLE


@pytest.fixture(scope="session")
def small_synthetic(tmp_path_factory) -> Path:
    """A small synthetic Market-1501 folder, built once per test session."""
    root = tmp_path_factory.mktemp("synthetic") / "market"
    build_synthetic_market(root, SMALL, seed=7, workers=2, progress=False)
    return root


@pytest.fixture(scope="session")
def tiny_pona(tmp_path_factory, small_synthetic) -> Path:
    """A PoNA of the tiny architecture, trained 2 iterations on the small synthetic set: it draws an image per
    slot, quickly."""
    from test_train_generator import TINY

    from augreid.training.trainer import train_generator

    out = tmp_path_factory.mktemp("pona")
    train_generator("pona", small_synthetic, TINY, out, seed=0, stop_after=2, progress=False)
    return out / "generator.pt"


EXAMPLE_PLUGIN = Path(__file__).resolve().parents[1] / "examples" / "augreid-flip"


@pytest.fixture(scope="session")
def flip_plugin(tmp_path_factory) -> Path:
    """The example plugin package, installed as a user would (pip, offline, no build isolation) into a folder put
    on sys.path; a subprocess needs it on PYTHONPATH."""
    import shutil
    import subprocess
    import sys

    source, target = tmp_path_factory.mktemp("plugin-source") / "augreid-flip", tmp_path_factory.mktemp("plugins")
    shutil.copytree(EXAMPLE_PLUGIN, source)  # pip builds in the source folder: not in the checkout
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(source)], check=True, capture_output=True)
    sys.path.insert(0, str(target))
    yield target
    sys.path.remove(str(target))
