import dataclasses
import hashlib
import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from conftest import SMALL
from PIL import Image

from augreid.config import SyntheticConfig
from augreid.core.errors import InputError
from augreid.data.annotations import read_annotations
from augreid.data.market import ANNOTATION_FILES, SPLIT_DIRS, is_identity, parse_name, scan_market
from augreid.data.pairs import usable_for_pairs
from augreid.data.pose import JOINT, present
from augreid.data.synthetic import build_synthetic_market, plan_dataset, render
from augreid.data.synthetic import dataset as synthetic_dataset


def test_layout_with_an_annotation_for_every_image(small_synthetic):
    table = scan_market(small_synthetic)
    for split in SPLIT_DIRS:
        annotations = read_annotations(small_synthetic / ANNOTATION_FILES[split])
        assert sorted(annotations.names) == sorted(table.loc[table["split"] == split, "name"])
    image = Image.open(table["path"].iloc[0])
    assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (64, 128))


def test_identities_cameras_and_clutter_follow_the_market_protocol(small_synthetic):
    table = scan_market(small_synthetic)
    train, gallery, query = (table[table["split"] == s] for s in ("train", "gallery", "query"))
    assert train["pid"].nunique() == SMALL.train_identities and train["pid"].map(is_identity).all()
    assert gallery["pid"].map(is_identity).groupby(gallery["pid"]).first().sum() == SMALL.test_identities
    assert (gallery["pid"] == -1).sum() == SMALL.junk_images and (gallery["pid"] == 0).sum() == SMALL.distractor_images
    assert not set(train["pid"]) & set(gallery["pid"])
    assert (train.groupby("pid")["camid"].nunique() >= 2).all()
    assert query["pid"].nunique() == SMALL.test_identities
    for _, q in query.iterrows():  # every query can be matched in another camera
        same = gallery[gallery["pid"] == q["pid"]]
        assert (same["camid"] != q["camid"]).any()
    low, high = SMALL.train_images_per_identity
    assert train.groupby("pid").size().between(low, high).all()


def test_poses_vary_and_joints_go_missing_as_in_real_files(small_synthetic):
    train = read_annotations(small_synthetic / ANNOTATION_FILES["train"])
    visible = present(train.keypoints)
    nose_rate = visible[:, JOINT["nose"]].mean()
    assert 0.25 < nose_rate < 0.85  # front, side and back views all occur
    assert 0.1 < 1 - visible[:, JOINT["r_wrist"]].mean() < 0.7
    assert len(usable_for_pairs(train)) / len(train) > 0.75  # shoulders and hips are rarely missing
    by_pid = {}
    for name, pose in zip(train.names, train.keypoints):
        by_pid.setdefault(parse_name(name).pid, []).append(pose)
    knees = [np.ptp(np.array(p)[:, JOINT["r_knee"], 1][np.array(p)[:, JOINT["r_knee"], 1] >= 0]) for p in by_pid.values()]
    assert np.median(knees) >= 4  # the legs move between images of one person
    shown = train.keypoints[visible]
    assert shown[:, 0].min() >= 0 and shown[:, 0].max() < 128 and shown[:, 1].max() < 64


def test_identity_lives_in_appearance(small_synthetic):
    """Clothing colour at the annotated torso centre recognises the person far above chance."""
    train = read_annotations(small_synthetic / ANNOTATION_FILES["train"])
    colours, pids = [], []
    for name, pose in zip(train.names, train.keypoints):
        torso = pose[[JOINT["r_shoulder"], JOINT["l_shoulder"], JOINT["r_hip"], JOINT["l_hip"]]]
        if (torso < 0).any():
            continue
        y, x = torso.mean(axis=0).round().astype(int)
        pixels = np.asarray(Image.open(small_synthetic / "bounding_box_train" / name), dtype=float)
        colours.append(pixels[y - 6: y + 7, x - 2: x + 3].reshape(-1, 3).mean(0) / pixels.mean((0, 1)))
        pids.append(parse_name(name).pid)
    colours, pids = np.array(colours), np.array(pids)
    distance = np.linalg.norm(colours[:, None] - colours[None], axis=-1)
    np.fill_diagonal(distance, np.inf)
    accuracy = (pids[distance.argmin(1)] == pids).mean()
    assert accuracy > 0.5  # chance is 1 / 12


def test_same_seed_same_dataset_other_seed_other_dataset():
    cameras, specs = plan_dataset(SMALL, seed=3)
    again_cameras, again = plan_dataset(SMALL, seed=3)
    assert [s.name for s in specs] == [s.name for s in again]
    assert all((a.keypoints == b.keypoints).all() for a, b in zip(specs, again))
    np.testing.assert_array_equal(render(specs[0], cameras), render(again[0], again_cameras))
    _, other = plan_dataset(SMALL, seed=4)
    assert [s.name for s in specs] != [s.name for s in other]


def test_exact_totals_give_those_counts_with_every_query_matched_in_another_camera():
    config = dataclasses.replace(SMALL, train_images_per_identity=(2, 32), test_images_per_identity=(6, 38),
                                 train_images=SMALL.train_identities * 17, test_images=SMALL.test_identities * 22,
                                 query_images=SMALL.test_identities * 4 + 3)
    _, specs = plan_dataset(config, seed=0)
    splits = Counter(s.split for s in specs)
    assert splits["train"] == config.train_images and splits["query"] == config.query_images
    assert splits["gallery"] - config.junk_images - config.distractor_images == config.test_images - config.query_images
    gallery = {(parse_name(s.name).pid, s.camera) for s in specs if s.split == "gallery"}
    for query in (s for s in specs if s.split == "query"):
        pid = parse_name(query.name).pid
        assert any(p == pid and camera != query.camera for p, camera in gallery)
    counts = Counter(parse_name(s.name).pid for s in specs if s.split == "train")
    assert 2 <= min(counts.values()) and max(counts.values()) <= 32


def test_totals_outside_what_the_identities_can_hold_are_refused():
    with pytest.raises(ValueError, match="train_images 5: 4 identities of 2 to 3 images hold 8 to 12"):
        SyntheticConfig(train_identities=4, train_images_per_identity=(2, 3), train_images=5)
    with pytest.raises(ValueError, match="query_images 2: at least one per test identity"):
        SyntheticConfig(test_identities=3, query_images=2)


def test_sets_without_totals_keep_their_marker():
    marker = synthetic_dataset._marker(SMALL, 0)
    assert not {"train_images", "test_images", "query_images"} & set(marker["config"])


def _digest(root):
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != "synthetic.json"):
        digest.update(path.relative_to(root).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()


def test_written_files_are_identical_for_a_seed_whatever_the_worker_count(tmp_path):
    tiny = type(SMALL)(train_identities=3, test_identities=3, junk_images=2, distractor_images=2)
    build_synthetic_market(tmp_path / "a", tiny, seed=1, workers=1, progress=False)
    build_synthetic_market(tmp_path / "b", tiny, seed=1, workers=2, progress=False)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")


def test_existing_folder_is_reused_only_when_it_holds_the_same_set(tmp_path):
    tiny = type(SMALL)(train_identities=2, test_identities=2, junk_images=1, distractor_images=1)
    first = build_synthetic_market(tmp_path / "s", tiny, seed=1, workers=1, progress=False)
    again = build_synthetic_market(tmp_path / "s", tiny, seed=1, workers=1, progress=False)
    assert not first["reused"] and again["reused"] and again["counts"] == first["counts"]
    with pytest.raises(InputError, match="already exists"):
        build_synthetic_market(tmp_path / "s", tiny, seed=2, workers=1, progress=False)


def test_a_failed_build_leaves_nothing_behind(tmp_path, monkeypatch):
    def broken(spec, cameras):
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr(synthetic_dataset, "render", broken)
    tiny = type(SMALL)(train_identities=2, test_identities=2, junk_images=0, distractor_images=0)
    with pytest.raises(RuntimeError, match="renderer crashed"):
        build_synthetic_market(tmp_path / "s", tiny, seed=1, workers=1, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_cli_writes_the_set_and_rejects_a_foreign_folder(tmp_path):
    cli = [sys.executable, "-m", "augreid.synthetic", "--train-identities", "3", "--test-identities", "3"]
    done = subprocess.run(cli + ["--out", str(tmp_path / "s")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "s" / "synthetic.json").read_text())
    assert summary["counts"]["train"]["identities"] == 3
    assert f"{summary['counts']['train']['images']:5d} images" in done.stdout
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    refused = subprocess.run(cli + ["--out", str(tmp_path / "other")], capture_output=True, text=True)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'other'}: already exists and holds something else than this synthetic set "
        "(remove it or choose another --out)"]
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"


def test_bad_workers_and_a_killed_builds_leftovers(tmp_path):
    cli = [sys.executable, "-m", "augreid.synthetic", "--train-identities", "3", "--test-identities", "3"]
    refused = subprocess.run(cli + ["--out", str(tmp_path / "s"), "--workers", "-2"], capture_output=True, text=True)
    assert refused.returncode == 2 and refused.stderr.strip().splitlines() == ["error: --workers -2: must be at least 1"]
    (tmp_path / ".s.abc123.tmp" / "bounding_box_train").mkdir(parents=True)  # a build killed half-way
    done = subprocess.run(cli + ["--out", str(tmp_path / "s")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]


def test_rendering_workers_die_with_a_killed_build(tmp_path):
    build = subprocess.Popen([sys.executable, "-m", "augreid.synthetic", "--train-identities", "150", "--workers", "2",
                              "--out", str(tmp_path / "s")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: list[int] = []
    deadline = time.monotonic() + 60
    while len(workers) < 2 and time.monotonic() < deadline:  # the rendering pool's two (and any helper)
        workers = children(build.pid)
        time.sleep(0.2)
    assert len(workers) >= 2
    build.send_signal(signal.SIGKILL)
    build.wait()
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(alive(pid) for pid in workers)


def children(pid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(pid):
            found.append(int(status.parent.name))
    return found


def alive(pid: int) -> bool:
    """Running or sleeping; a zombie (dead, not yet reaped by whoever adopted it) counts as dead."""
    try:
        state = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("State:"))
    except (OSError, StopIteration):
        return False
    return "zombie" not in state
