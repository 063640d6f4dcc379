"""kill -9 at every write of generate, train_generator and reid, then a rerun: the outputs equal an uninterrupted
run's, and no temporary file is left. `tools/kill_at_write.py` sends the SIGKILL just before the Nth rename or
link, for every N the uninterrupted run makes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from augreid.config import SyntheticConfig
from augreid.data.synthetic import build_synthetic_market

ROOT = Path(__file__).parents[1]
KILL = ROOT / "tests" / "tools" / "kill_at_write.py"
TINY = ROOT / "tests" / "configs" / "tiny.yaml"
# few images, so that the kill points (one per image written or linked) stay few
FEWEST = SyntheticConfig(train_identities=3, test_identities=2, train_images_per_identity=(4, 5),
                         test_images_per_identity=(4, 5), junk_images=1, distractor_images=1)
# how long a run took, and how much of it the rerun had left to do: the rest must be equal
NOT_COMPARED = {"generated_now"}


def is_timing(key: str) -> bool:
    return isinstance(key, str) and (key.endswith("seconds") or key.endswith("per_second") or key in NOT_COMPARED)


@pytest.fixture(scope="module")
def fewest(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fewest") / "market"
    build_synthetic_market(root, FEWEST, seed=2, workers=1, progress=False)
    return root


def run(kill_at: int, module: str, *args: str, count_file: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "AUGREID_THREADS": "1"}
    return subprocess.run([sys.executable, str(KILL), str(kill_at), str(count_file), module, *args],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)


def kill_points(module: str, args: list[str], out: Path) -> int:
    """Runs the command uninterrupted into `out`; returns how many renames and links it made."""
    count = out.parent / f"{out.name}.count"
    finished = run(0, module, *args, "--out", str(out), count_file=count)
    assert finished.returncode == 0, finished.stderr
    return int(count.read_text())


def killed_then_rerun(module: str, args: list[str], out: Path, kill_at: int, rerun: list[str] = ()) -> None:
    count = out.parent / f"{out.name}.count"
    killed = run(kill_at, module, *args, "--out", str(out), count_file=count)
    assert killed.returncode == -9, f"kill point {kill_at}: not killed ({killed.returncode}) {killed.stderr[-500:]}"
    again = run(0, module, *args, *rerun, "--out", str(out), count_file=count)
    assert again.returncode == 0, f"rerun after kill point {kill_at}: {again.stderr[-800:]}"


def leftovers(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".*.tmp"))


def contents(folder: Path) -> dict:
    """Every file under `folder`: a link's target, a JSON document less its timings, or the file's bytes."""
    found = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink():
            found[key] = os.readlink(path)
        elif path.suffix == ".json":
            found[key] = without_timings(json.loads(path.read_text()))
        elif path.suffix == ".pt":
            found[key] = without_timings(tensors(torch.load(path, map_location="cpu", weights_only=True)))
        elif path.is_file():
            found[key] = path.read_bytes()
    return found


def without_timings(document):
    if isinstance(document, dict):
        return {k: without_timings(v) for k, v in document.items() if not is_timing(k)}
    return document


def tensors(value):
    """A checkpoint as comparable plain data (`torch.save` of equal tensors need not give equal bytes)."""
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, dict):
        return {k: tensors(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [tensors(v) for v in value]
    return value


def assert_every_kill_point_reruns_to(reference: Path, module: str, args: list[str], tmp_path: Path,
                                      rerun: list[str] = ()) -> None:
    points = kill_points(module, args, reference)
    assert points >= 3, f"only {points} writes: the command did not run as meant"
    expected = contents(reference)
    for kill_at in range(1, points + 1):
        out = tmp_path / f"killed_at_{kill_at}"
        killed_then_rerun(module, args, out, kill_at, rerun)
        assert leftovers(out) == [], f"kill point {kill_at}"
        assert contents(out) == expected, f"kill point {kill_at}: the rerun's outputs differ"


@pytest.fixture(scope="module")
def tiny_generator(fewest, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("generator") / "pona"
    finished = run(0, "augreid.train_generator", "--generator", "pona", "--data-root", str(fewest), "--config",
                   str(TINY), "--out", str(out), count_file=out.parent / "count")
    assert finished.returncode == 0, finished.stderr
    return out / "generator.pt"


def test_generate_killed_at_each_write_reruns_to_the_same_set(tmp_path, fewest, tiny_generator):
    args = ["--portion", "0.5", "--data-root", str(fewest), "--generator", "pona", "--checkpoint",
            str(tiny_generator), "--seed", "3", "--batch-size", "2"]
    assert_every_kill_point_reruns_to(tmp_path / "whole", "augreid.generate", args, tmp_path)


def test_train_generator_killed_at_each_write_resumes_to_the_same_run(tmp_path, fewest):
    recipe = yaml.safe_load(TINY.read_text())
    recipe["generator_training"].update(iterations=4, decay_iterations=2, checkpoint_every=2)  # a resume mid-way
    config = tmp_path / "four.yaml"
    config.write_text(yaml.safe_dump(recipe))
    args = ["--generator", "pona", "--data-root", str(fewest), "--config", str(config), "--seed", "1"]
    assert_every_kill_point_reruns_to(tmp_path / "whole", "augreid.train_generator", args, tmp_path,
                                      rerun=["--resume"])


def test_reid_killed_at_each_write_reruns_to_the_same_metrics(tmp_path, fewest):
    args = ["--data-root", str(fewest), "--config", str(TINY), "--seed", "2"]
    assert_every_kill_point_reruns_to(tmp_path / "whole", "augreid.reid", args, tmp_path)
