import hashlib
import json
import shutil

import numpy as np
import pandas as pd
import pytest
from test_train_generator import TINY

from augreid.core.errors import InputError
from augreid.data.annotations import read_annotations, write_annotations
from augreid.data.market import parse_name, scan_split
from augreid.data.pose import JOINT, has_torso, present
from augreid.protocol import augmented_set as augmented_set_module
from augreid.protocol.augmented_set import augment
from augreid.protocol.conditions import pose_distances
from augreid.protocol.plan import plan_augmentation
from augreid.protocol.portion import keep_portion, kept_count
from augreid.training.trainer import train_generator
from tests.tools.forked_cli import run_module


@pytest.fixture(scope="module")
def tiny_generators(tmp_path_factory, small_synthetic):
    """2-iteration generators: enough to test the plumbing, not the quality."""
    root = tmp_path_factory.mktemp("generators")
    stopped = {}
    for name in ("pona", "patn", "aps", "gfla", "san"):
        train_generator(name, small_synthetic, TINY, root / name, seed=0, stop_after=2, progress=False)
        stopped[name] = root / name / "generator.pt"
    return stopped


def _source(small_synthetic):
    return scan_split(small_synthetic, "train"), read_annotations(small_synthetic / "market-annotation-train.csv")


def _digest(root):
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return digest.hexdigest()


def test_kept_count_rounds_half_up_and_keeps_one():
    assert [kept_count(p, 10) for p in (0.2, 0.25, 0.4, 1.0)] == [2, 3, 4, 10]
    assert kept_count(0.2, 2) == 1 and kept_count(0.01, 72) == 1 and kept_count(0.25, 2) == 1


@pytest.mark.parametrize("portion", [0.2, 0.4, 0.6, 1.0])
def test_keep_portion_per_identity(small_synthetic, portion):
    train, _ = _source(small_synthetic)
    kept = keep_portion(train, portion, seed=0)
    per_identity = train.assign(kept=kept).groupby("pid").agg(n=("name", "size"), k=("kept", "sum"))
    assert (per_identity["k"] == per_identity["n"].map(lambda n: kept_count(portion, n))).all()
    assert keep_portion(train, portion, seed=0).equals(kept)
    if portion < 1:
        assert not keep_portion(train, portion, seed=1).equals(kept)


@pytest.mark.parametrize("generator", ["pona", "aps", "gfla", "san", "duplicate", "real"])
@pytest.mark.parametrize("portion", [0.2, 0.6])
def test_augmented_set_has_the_original_counts_and_poses(tmp_path, small_synthetic, tiny_generators, generator, portion):
    train, annotations = _source(small_synthetic)
    summary = augment(portion, small_synthetic, generator, tiny_generators.get(generator), seed=0, out=tmp_path / "aug",
                      batch_size=16, progress=False)
    out = tmp_path / "aug"
    written = scan_split(out, "train")
    assert written.groupby("pid").size().equals(train.groupby("pid").size())
    manifest = pd.read_csv(out / "manifest.csv", keep_default_na=False)
    assert list(manifest.columns) == ["name", "pid", "camid", "source", "condition", "target", "generator"]
    generated = manifest[manifest["source"] == "generated"]
    assert summary["counts"]["filled"] == len(generated) == len(train) - (manifest["source"] == "kept").sum()
    # names carry the identity and the target's camera, and never collide with a real name
    assert all(parse_name(n).pid == parse_name(t).pid and parse_name(n).camid == parse_name(t).camid
               for n, t in zip(generated["name"], generated["target"]))
    assert not set(generated["name"]) & set(train["name"])
    # conditions are kept images of the same identity
    kept = set(manifest.loc[manifest["source"] == "kept", "name"])
    assert set(generated["condition"]) <= kept
    assert (generated["condition"].str[:4] == generated["target"].str[:4]).all()
    augmented = read_annotations(out / "market-annotation-train.csv")
    np.testing.assert_array_equal(augmented.poses(generated["name"]), annotations.poses(generated["target"]))
    assert (out / "query").is_symlink() and (out / "bounding_box_test").is_symlink()
    if generator == "duplicate":
        first = generated.iloc[0]
        assert (out / "bounding_box_train" / first["name"]).read_bytes() == \
            (small_synthetic / "bounding_box_train" / first["condition"]).read_bytes()
    if generator == "real":
        first = generated.iloc[0]
        assert (out / "bounding_box_train" / first["name"]).read_bytes() == \
            (small_synthetic / "bounding_box_train" / first["target"]).read_bytes()


def test_none_keeps_the_reduced_set_alone(tmp_path, small_synthetic):
    train, _ = _source(small_synthetic)
    summary = augment(0.4, small_synthetic, "none", seed=0, out=tmp_path / "aug", progress=False)
    written = scan_split(tmp_path / "aug", "train")
    assert len(written) == summary["counts"]["kept"] == keep_portion(train, 0.4, 0).sum()
    assert written["pid"].nunique() == train["pid"].nunique()


def test_portion_one_keeps_everything(tmp_path, small_synthetic, tiny_generators):
    train, _ = _source(small_synthetic)
    summary = augment(1.0, small_synthetic, "pona", tiny_generators["pona"], out=tmp_path / "aug", progress=False)
    assert summary["counts"]["kept"] == len(train) and summary["counts"]["filled"] == 0


def test_nearest_condition_is_the_kept_pose_nearest_the_target(small_synthetic):
    train, annotations = _source(small_synthetic)
    manifest = plan_augmentation(train, annotations, 0.4, 0, "duplicate", "nearest")
    kept = manifest[manifest["source"] == "kept"]
    for _, row in manifest[manifest["source"] == "generated"].head(20).iterrows():
        candidates = sorted(kept.loc[kept["pid"] == row["pid"], "name"])
        distances = pose_distances(annotations.pose(row["target"]), annotations.poses(candidates))
        assert row["condition"] == candidates[int(np.argmin(distances))]
    random_plan = plan_augmentation(train, annotations, 0.4, 0, "duplicate", "random")
    assert random_plan.equals(plan_augmentation(train, annotations, 0.4, 0, "duplicate", "random"))
    assert not random_plan["condition"].equals(manifest["condition"])


def test_same_inputs_same_manifest(tmp_path, small_synthetic, tiny_generators):
    for out in ("a", "b"):
        augment(0.4, small_synthetic, "pona", tiny_generators["pona"], seed=5, out=tmp_path / out, progress=False)
    assert (tmp_path / "a" / "manifest.csv").read_bytes() == (tmp_path / "b" / "manifest.csv").read_bytes()


def test_an_interrupted_run_is_completed_by_a_rerun(tmp_path, small_synthetic, tiny_generators, monkeypatch):
    real_save = augmented_set_module.save_image
    saved = []

    def crash_after_ten(path, pixels):
        if len(saved) == 10:
            (path.parent / f".{path.name}.half.tmp").write_bytes(b"\xff\xd8 truncated")  # a write cut short
            raise KeyboardInterrupt
        real_save(path, pixels)
        saved.append(path)

    monkeypatch.setattr(augmented_set_module, "save_image", crash_after_ten)
    with pytest.raises(KeyboardInterrupt):
        augment(0.2, small_synthetic, "pona", tiny_generators["pona"], out=tmp_path / "aug", batch_size=8,
                progress=False)
    assert not (tmp_path / "aug" / "manifest.csv").exists()
    monkeypatch.setattr(augmented_set_module, "save_image", real_save)
    summary = augment(0.2, small_synthetic, "pona", tiny_generators["pona"], out=tmp_path / "aug", batch_size=8,
                      progress=False)
    assert summary["counts"]["generated_now"] == summary["counts"]["filled"] - 10
    assert not list((tmp_path / "aug" / "bounding_box_train").glob(".*"))
    again = augment(0.2, small_synthetic, "pona", tiny_generators["pona"], out=tmp_path / "aug", progress=False)
    assert again["counts"]["generated_now"] == 0


def test_a_rerun_after_the_source_changed_is_refused(tmp_path, small_synthetic, tiny_generators):
    """The run records digests of the annotations and the images: a resumed run never mixes images made from old
    poses with new ones."""
    source = tmp_path / "source"
    shutil.copytree(small_synthetic, source)
    augment(0.2, source, "pona", tiny_generators["pona"], out=tmp_path / "aug", progress=False)
    (tmp_path / "aug" / "summary.json").unlink()  # as if killed before the end
    annotations = read_annotations(source / "market-annotation-train.csv")
    joint = int(np.argmax(annotations.keypoints[0, :, 0] > 0))
    annotations.keypoints[0, joint, 0] += 1  # one joint of one image moves by a pixel
    write_annotations(source / "market-annotation-train.csv", annotations)
    with pytest.raises(InputError, match=r"aug: holds a different run \(annotations_sha256: '[0-9a-f]{64}' there, "):
        augment(0.2, source, "pona", tiny_generators["pona"], out=tmp_path / "aug", progress=False)
    image = sorted((source / "bounding_box_train").glob("*.jpg"))[0]
    image.write_bytes(image.read_bytes()[:-50])  # the same name, other content: truncated
    with pytest.raises(InputError, match=rf"{image.name}: cannot read image"):
        augment(0.2, source, "duplicate", out=tmp_path / "dup", progress=False)
    assert not (tmp_path / "dup").exists()


def unposed_source(small_synthetic, tmp_path):
    """A copy of the set in which every third training image lost every keypoint and every fifth its right hip,
    as in real Market-1501 (419 training images without keypoints, 820 without a torso joint)."""
    source = tmp_path / "source"
    shutil.copytree(small_synthetic, source)
    annotations = read_annotations(source / "market-annotation-train.csv")
    annotations.keypoints[::3] = -1
    annotations.keypoints[1::5, JOINT["r_hip"]] = -1
    write_annotations(source / "market-annotation-train.csv", annotations)
    return source, annotations


@pytest.mark.parametrize("policy", ["generate", "copy", "skip"])
def test_missing_images_without_a_torso_follow_the_policy_and_are_counted(tmp_path, small_synthetic,
                                                                         tiny_generators, policy):
    source, annotations = unposed_source(small_synthetic, tmp_path)
    summary = augment(0.2, source, "pona", tiny_generators["pona"], out=tmp_path / "aug", progress=False,
                      unposed=policy)
    manifest = pd.read_csv(tmp_path / "aug" / "manifest.csv", keep_default_na=False)
    train = scan_split(source, "train")
    missing = sorted(set(train["name"]) - set(manifest.loc[manifest["source"] == "kept", "name"]))
    torsoless = [name for name in missing if not has_torso(annotations.pose(name))]
    counts = summary["unposed"]
    assert counts["targets_without_torso"] == len(torsoless) > 0
    assert counts["targets_without_keypoints"] == sum(not present(annotations.pose(n)).any() for n in missing) > 0
    rows = manifest[manifest["target"].isin(torsoless)]
    source_of = {"generate": "generated", "copy": "copied", "skip": "skipped"}[policy]
    assert counts[source_of] == len(torsoless) and counts["policy"] == policy
    assert (rows["source"] == source_of).all() and len(rows) == (0 if policy == "skip" else len(torsoless))
    for row in rows[rows["source"] == "copied"].itertuples():
        assert (tmp_path / "aug" / "bounding_box_train" / row.name).resolve() \
            == (source / "bounding_box_train" / row.condition).resolve()
    skipped = len(torsoless) if policy == "skip" else 0
    assert summary["counts"]["training_images"] == len(train) - skipped


def _cli(*args):
    return run_module("augreid.generate", *map(str, args))


def test_bad_inputs_exit_2_and_leave_the_source_untouched(tmp_path, small_synthetic, tiny_generators):
    source = tmp_path / "source"
    shutil.copytree(small_synthetic, source)
    before = _digest(source)
    common = ["--data-root", source, "--out", tmp_path / "out"]
    cases = [
        (["--portion", "0", *common], "error: --portion 0.0: must be in (0, 1]"),
        (["--portion", "1.5", *common], "error: --portion 1.5: must be in (0, 1]"),
        (["--portion", "0.4", "--generator", "vunet", *common], "error: unknown generator 'vunet' (built in: pona, patn, aps, gfla, san; installed plugins: "),
        (["--portion", "0.4", "--generator", "pona", "--checkpoint", tiny_generators["patn"], *common],
         f"error: {tiny_generators['patn']}: checkpoint holds patn("),
        (["--portion", "0.4", "--generator", "pona", "--checkpoint", tmp_path / "absent.pt", *common],
         f"error: {tmp_path / 'absent.pt'}: generator checkpoint does not exist (train one with `make demo`"),
    ]
    for args, message in cases:
        result = _cli(*args)
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith(message), result.stderr
    ok = _cli("--portion", "0.4", "--generator", "duplicate", *common)
    assert ok.returncode == 0 and "verified" in ok.stdout
    other = _cli("--portion", "0.6", "--generator", "duplicate", *common)
    assert other.returncode == 2 and "holds a different run (portion: 0.4 there, 0.6 now)" in other.stderr
    assert _digest(source) == before

    annotations = read_annotations(source / "market-annotation-train.csv")
    dropped = annotations.names[3]
    write_annotations(source / "market-annotation-train.csv", annotations.subset(annotations.names[:3] + annotations.names[4:]))
    missing = _cli("--portion", "0.4", "--generator", "duplicate", "--data-root", source, "--out", tmp_path / "o2")
    assert missing.returncode == 2
    assert missing.stderr.startswith(f"error: {source / 'bounding_box_train' / dropped}: training image without pose annotation")
    assert not (tmp_path / "o2").exists()


def test_summary_records_inputs_and_speed(tmp_path, small_synthetic, tiny_generators):
    summary = augment(0.4, small_synthetic, "patn", tiny_generators["patn"], seed=2, out=tmp_path / "aug",
                      progress=False)
    stored = json.loads((tmp_path / "aug" / "summary.json").read_text())
    assert stored["inputs"]["portion"] == 0.4 and stored["inputs"]["generator"] == "patn"
    assert len(stored["inputs"]["checkpoint_sha256"]) == 64
    assert stored["images_per_second"] > 0 and stored["counts"] == summary["counts"]
