"""kill -9 at every write of generate, train_generator and reid, then a rerun: the outputs equal an uninterrupted
run's, and no temporary file is left. `tools/kill_at_write.py` sends the SIGKILL just before the Nth rename or
link, for every N the uninterrupted run makes, each run forked from one process that has made the imports."""
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


def runs(module: str, planned: list[tuple[int, list[str]]], folder: Path) -> list[tuple[int, int | None, str]]:
    """Each (kill point, arguments) run in turn, forked from one process: (return code, writes made, output)."""
    folder.mkdir(parents=True, exist_ok=True)
    logs = [folder / f"run-{i}.log" for i in range(len(planned))]
    plan = {"module": module, "results": str(folder / "results.json"),
            "runs": [{"kill_at": at, "args": args, "log": str(log)} for (at, args), log in zip(planned, logs)]}
    (folder / "plan.json").write_text(json.dumps(plan))
    driver = subprocess.run([sys.executable, str(KILL), str(folder / "plan.json")], capture_output=True, text=True,
                            cwd=ROOT, env={**os.environ, "AUGREID_THREADS": "1"}, timeout=900)
    assert driver.returncode == 0, driver.stderr[-3000:]
    results = json.loads((folder / "results.json").read_text())
    return [(r["returncode"], r["calls"], log.read_text()) for r, log in zip(results, logs)]


def kill_points(module: str, args: list[str], out: Path) -> int:
    """Runs the command uninterrupted into `out`; returns how many renames and links it made."""
    [(code, calls, output)] = runs(module, [(0, [*args, "--out", str(out)])], out.parent / f"{out.name}.logs")
    assert code == 0, output[-3000:]
    return calls


def every_kill_then_rerun(module: str, args: list[str], outs: list[Path], rerun: list[str], logs: Path) -> None:
    """For kill point k, a run into outs[k - 1] killed at its kth write, then a rerun into the same folder."""
    planned = []
    for kill_at, out in enumerate(outs, start=1):
        planned += [(kill_at, [*args, "--out", str(out)]), (0, [*args, *rerun, "--out", str(out)])]
    results = runs(module, planned, logs)
    for kill_at, (killed, again) in enumerate(zip(results[::2], results[1::2]), start=1):
        assert killed[0] == -9, f"kill point {kill_at}: not killed ({killed[0]}) {killed[2][-500:]}"
        assert again[0] == 0, f"rerun after kill point {kill_at}: {again[2][-800:]}"


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
    outs = [tmp_path / f"killed_at_{kill_at}" for kill_at in range(1, points + 1)]
    every_kill_then_rerun(module, args, outs, list(rerun), tmp_path / "logs")
    for kill_at, out in enumerate(outs, start=1):
        assert leftovers(out) == [], f"kill point {kill_at}"
        assert contents(out) == expected, f"kill point {kill_at}: the rerun's outputs differ"


@pytest.fixture(scope="module")
def tiny_generator(fewest, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("generator") / "pona"
    kill_points("augreid.train_generator", ["--generator", "pona", "--data-root", str(fewest), "--config", str(TINY)],
                out)
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
