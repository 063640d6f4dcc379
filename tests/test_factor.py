"""Augmentation by a factor K: every image kept, K-1 added per image in poses from the pool or the canonical ones."""
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from test_generate import _digest, unposed_source

from augreid.config import Poses, parse_poses
from augreid.core.errors import InputError
from augreid.data.annotations import Annotations, read_annotations
from augreid.data.market import parse_name, scan_split
from augreid.data.pose import has_torso
from augreid.protocol.augmented_set import augment
from augreid.protocol.factor import canonical_poses, check_factor, factor_targets, kmeans, normalised_poses, pool_poses
from augreid.protocol.plan import plan_by_factor
from tests.tools.forked_cli import run_module


def _source(root):
    return scan_split(root, "train"), read_annotations(root / "market-annotation-train.csv")


def test_factor_and_poses_are_checked():
    assert check_factor(2) == 2 and check_factor(8) == 8
    for bad in (1, 0, -3, 2.5, True):
        with pytest.raises(InputError, match="must be an integer of at least 2"):
            check_factor(bad)
    assert parse_poses("pool") == Poses() and parse_poses(["canonical", "8"]) == Poses("canonical", 8)
    assert str(parse_poses("canonical 8")) == "canonical 8"
    for bad in ("canonical", "canonical 0", "canonical x", "random", "pool 3"):
        with pytest.raises(InputError, match="expected 'pool' or 'canonical N'"):
            parse_poses(bad)


@pytest.mark.parametrize("factor", [2, 4])
def test_pool_targets_are_other_images_with_a_torso(small_synthetic, factor):
    train, annotations = _source(small_synthetic)
    manifest = plan_by_factor(train, annotations, factor, Poses(), seed=0, generator="pona")
    counts = manifest.groupby("pid").size()
    assert counts.equals(train.groupby("pid").size() * factor)  # K·n per identity
    kept = manifest[manifest["source"] == "kept"]
    assert sorted(kept["name"]) == sorted(train["name"])
    added = manifest[manifest["source"] == "generated"]
    pool = set(pool_poses(annotations, list(train["name"])))
    assert len(pool) < len(train)  # the synthetic set has torsoless poses, which the pool leaves out
    assert set(added["target"]) <= pool and (added["target"] != added["condition"]).all()
    for condition, rows in added.groupby("condition"):
        assert len(rows) == factor - 1 and rows["target"].nunique() == factor - 1
        assert (rows["pid"] == parse_name(condition).pid).all() and (rows["camid"] == parse_name(condition).camid).all()
    assert sorted(added["name"]) == sorted(parse_name(c).tagged(f"pona_k{k}") for c in train["name"]
                                           for k in range(1, factor))
    assert plan_by_factor(train, annotations, factor, Poses(), seed=0, generator="pona").equals(manifest)
    assert not plan_by_factor(train, annotations, factor, Poses(), seed=1, generator="pona").equals(manifest)


def test_pool_draws_are_spread_over_the_pool(small_synthetic):
    """Seeded uniform draws: with 9 per image, nearly every pose of the pool is used, none far more than others."""
    train, annotations = _source(small_synthetic)
    targets = factor_targets(train, annotations, 10, Poses(), seed=0)
    used = pd.Series([t for chosen in targets.values() for t in chosen]).value_counts()
    pool = pool_poses(annotations, list(train["name"]))
    assert len(used) >= 0.9 * len(pool) and used.max() <= 4 * used.mean()


def test_kmeans_finds_well_separated_groups():
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=10, size=(5, 6))
    features = np.concatenate([c + rng.normal(scale=0.1, size=(20 + 5 * i, 6)) for i, c in enumerate(centres)])
    labels = kmeans(features, 5, seed=0)
    groups = np.repeat(np.arange(5), [20 + 5 * i for i in range(5)])
    assert all(len(np.unique(labels[groups == g])) == 1 for g in range(5))
    assert len(np.unique(labels)) == 5


def is_lloyd_fixed_point(features: np.ndarray, labels: np.ndarray) -> bool:
    """Whether every row is nearest its own cluster's mean: where Lloyd's iterations stop."""
    means = np.stack([features[labels == c].mean(axis=0) for c in range(labels.max() + 1)])
    distances = np.linalg.norm(features[:, None] - means[None], axis=-1)
    return bool(np.allclose(distances[np.arange(len(features)), labels], distances.min(axis=1)))


def test_kmeans_ends_converged_with_every_cluster_used_and_is_seeded():
    features = np.random.default_rng(4).normal(size=(300, 5))  # no clear groups: the iterations have work to do
    for seed in range(3):
        labels = kmeans(features, 6, seed)
        assert labels.shape == (300,) and set(labels.tolist()) == set(range(6))
        assert is_lloyd_fixed_point(features, labels)
        assert np.array_equal(kmeans(features, 6, seed), labels)


def test_kmeans_refuses_a_cluster_left_empty():
    """Six points where seed 0's k-means++ start loses a cluster during the iterations; seed 1's does not."""
    features = np.array([[-0.08, -0.2], [-0.18, 2.09], [0.63, 0.06], [0.53, -1.12], [0.03, 0.16], [-0.33, 1.48]])
    with pytest.raises(RuntimeError, match="k-means left one of 3 clusters without a pose; try another --seed"):
        kmeans(features, 3, seed=0)
    assert set(kmeans(features, 3, seed=1).tolist()) == {0, 1, 2}


def test_each_canonical_pose_is_the_member_nearest_its_clusters_mean(small_synthetic):
    train, annotations = _source(small_synthetic)
    pool = pool_poses(annotations, list(train["name"]))
    features = normalised_poses(annotations.poses(pool))
    labels = kmeans(features, 6, seed=0)
    assert is_lloyd_fixed_point(features, labels)
    representatives = []
    for c in range(6):
        members = np.flatnonzero(labels == c)
        distances = np.linalg.norm(features[members] - features[members].mean(axis=0), axis=1)
        representatives.append((-len(members), pool[members[np.argmin(distances)]]))
    assert canonical_poses(annotations, pool, 6, seed=0) == [name for _, name in sorted(representatives)]

def test_canonical_poses_are_cluster_representatives_of_the_centred_scaled_poses():
    """Four body configurations, each repeated at other places and scales in the crop: k-means on centred,
    scale-normalised keypoints finds the four, and each canonical pose is one of its group."""
    rng = np.random.default_rng(1)
    base = np.array([[20, 32], [30, 32], [30, 24], [45, 20], [60, 18], [30, 40], [45, 44], [60, 46], [70, 26],
                     [90, 26], [110, 26], [70, 38], [90, 38], [110, 38], [18, 30], [18, 34], [19, 27], [19, 37]], float)
    shapes = [base, base.copy(), base.copy(), base.copy()]
    shapes[1][[4, 7], 0] = 25  # both arms raised
    shapes[2][[10, 13], 1] = [10, 54]  # legs spread
    shapes[3][[0, 14, 15, 16, 17]] = -1  # seen from the back
    names, poses, group = [], [], []
    for g, shape in enumerate(shapes):
        for i in range(6):
            scale, shift = rng.uniform(0.7, 1.0), rng.uniform(-5, 5, size=2)
            pose = np.where(shape < 0, -1, np.round((shape - [64, 32]) * scale + [64, 32] + shift))
            names.append(f"{g + 1:04d}_c1s1_{i:06d}_01.jpg")
            poses.append(pose)
            group.append(g)
    annotations = Annotations(names, np.array(poses))
    canonical = canonical_poses(annotations, sorted(names), 4, seed=0)
    assert sorted(group[names.index(name)] for name in canonical) == [0, 1, 2, 3]
    assert canonical_poses(annotations, sorted(names), 4, seed=0) == canonical
    with pytest.raises(InputError, match="only 24 distinct poses"):
        canonical_poses(annotations, sorted(names), 30, seed=0)


def test_canonical_targets_take_the_n_poses_in_turn(small_synthetic):
    train, annotations = _source(small_synthetic)
    pool = pool_poses(annotations, list(train["name"]))
    canonical = canonical_poses(annotations, pool, 6, seed=0)
    assert len(set(canonical)) == 6 and set(canonical) <= set(pool)
    manifest = plan_by_factor(train, annotations, 4, Poses("canonical", 6), seed=0, generator="pona")
    added = manifest[manifest["source"] == "generated"]
    assert set(added["target"]) == set(canonical)
    assert added["target"].value_counts().max() - added["target"].value_counts().min() <= 1  # each in turn
    assert (added.groupby("condition")["target"].nunique() == 3).all()
    with pytest.raises(InputError, match="at most 6 new poses per image, so K can be at most 7"):
        plan_by_factor(train, annotations, 8, Poses("canonical", 6), seed=0, generator="pona")


def test_real_market_canonical_poses(real_annotations):
    """On the published keypoints of the 12,936 training images: 8 canonical poses, among them front, back
    and side views (a side view shows one eye only)."""
    annotations = read_annotations(real_annotations / "market-annotation-train.csv")
    pool = pool_poses(annotations, annotations.names)
    assert len(pool) == 12116
    canonical = canonical_poses(annotations, pool, 8, seed=0)
    assert len(set(canonical)) == 8
    eyes = annotations.poses(canonical)[:, [14, 15], 0] != -1
    assert {int(e.sum()) for e in eyes} == {0, 1, 2}


def test_controls_duplicate_copies_and_none_is_the_original_set(tmp_path, small_synthetic):
    train, annotations = _source(small_synthetic)
    summary = augment(None, small_synthetic, "duplicate", factor=3, out=tmp_path / "dup", progress=False)
    written = scan_split(tmp_path / "dup", "train")
    assert written.groupby("pid").size().equals(train.groupby("pid").size() * 3)
    manifest = pd.read_csv(tmp_path / "dup" / "manifest.csv", keep_default_na=False)
    copies = manifest[manifest["source"] != "kept"]
    assert (copies["target"] == copies["condition"]).all() and len(copies) == 2 * len(train)
    for row in copies.itertuples():
        assert (tmp_path / "dup" / "bounding_box_train" / row.name).resolve() \
            == (small_synthetic / "bounding_box_train" / row.condition).resolve()
    assert "poses" not in summary["inputs"] and summary["counts"]["training_images"] == 3 * len(train)
    augment(None, small_synthetic, "none", factor=3, out=tmp_path / "none", progress=False)
    assert sorted(scan_split(tmp_path / "none", "train")["name"]) == sorted(train["name"])
    with pytest.raises(InputError, match="no real image exists in a new pose"):
        augment(None, small_synthetic, "real", factor=3, out=tmp_path / "real", progress=False)


@pytest.mark.parametrize("poses", ["pool", "canonical 4"])
def test_generated_set_has_k_times_the_images_in_the_chosen_poses(tmp_path, small_synthetic, tiny_pona, poses):
    train, annotations = _source(small_synthetic)
    summary = augment(None, small_synthetic, "pona", tiny_pona, seed=3, out=tmp_path / "a", progress=False,
                      factor=3, poses=poses)
    out = tmp_path / "a"
    assert scan_split(out, "train").groupby("pid").size().equals(train.groupby("pid").size() * 3)
    manifest = pd.read_csv(out / "manifest.csv", keep_default_na=False)
    written = read_annotations(out / "market-annotation-train.csv")
    assert np.array_equal(written.poses(manifest["name"]), annotations.poses(manifest["target"]))
    assert summary["counts"]["generated_now"] == 2 * len(train) and summary["inputs"]["poses"] == poses
    assert summary["inputs"]["factor"] == 3 and "portion" not in summary["inputs"]
    again = augment(None, small_synthetic, "pona", tiny_pona, seed=3, out=out, progress=False, factor=3, poses=poses)
    assert again["counts"]["generated_now"] == 0  # resumed: nothing left to do
    augment(None, small_synthetic, "pona", tiny_pona, seed=3, out=tmp_path / "b", progress=False, factor=3, poses=poses)
    assert _digest(out / "bounding_box_train") == _digest(tmp_path / "b" / "bounding_box_train")
    with pytest.raises(InputError, match=r"holds a different run \(factor: 3 there, 2 now\)"):
        augment(None, small_synthetic, "pona", tiny_pona, seed=3, out=out, progress=False, factor=2, poses=poses)


@pytest.mark.parametrize("policy", ["generate", "copy", "skip"])
def test_images_without_a_torso_condition_by_the_policy(tmp_path, small_synthetic, policy):
    source, annotations = unposed_source(small_synthetic, tmp_path)
    train = scan_split(source, "train")
    manifest = plan_by_factor(train, annotations, 3, Poses(), seed=0, generator="pona", unposed=policy)
    torsoless = [n for n in train["name"] if not has_torso(annotations.pose(n))]
    from_torsoless = manifest[(manifest["source"] != "kept") & manifest["condition"].isin(torsoless)]
    expected = {"generate": ("generated", 2), "copy": ("copied", 2), "skip": (None, 0)}[policy]
    assert len(from_torsoless) == expected[1] * len(torsoless) > 0 or policy == "skip" and from_torsoless.empty
    assert (from_torsoless["source"] == expected[0]).all()
    if policy == "copy":
        assert (from_torsoless["target"] == from_torsoless["condition"]).all()


def _cli(*args):
    return run_module("augreid.generate", *map(str, args))


def test_bad_factor_inputs_exit_2_before_writing(tmp_path, small_synthetic):
    common = ["--generator", "duplicate", "--data-root", small_synthetic, "--out", tmp_path / "out"]
    cases = [
        (["--factor", "1", *common], "error: --factor 1: must be an integer of at least 2"),
        (["--factor", "2", "--portion", "0.5", *common], "error: --portion and --factor exclude each other"),
        (common, "error: give --portion P (keep p of each identity's images) or --factor K"),
        (["--factor", "3", "--poses", "canonical", *common], "error: --poses canonical: expected 'pool' or"),
        (["--portion", "0.5", "--poses", "canonical", "8", *common], "error: --poses goes with --factor K"),
        (["--factor", "2", "--generator", "real", *common[2:]], "error: --generator real: no real image exists"),
        (["--factor", "9", "--poses", "canonical", "4", "--generator", "pona", "--checkpoint", tmp_path / "absent.pt",
          *common[2:]], f"error: {tmp_path / 'absent.pt'}: generator checkpoint does not exist"),
    ]
    for args, message in cases:
        result = _cli(*args)
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith(message), result.stderr
    assert not (tmp_path / "out").exists()
    ok = _cli("--factor", "2", *common)
    assert ok.returncode == 0 and "kept + " in ok.stdout and "(K = 2)" in ok.stdout and "verified" in ok.stdout


def test_a_generator_elsewhere_fills_the_factor_slots(tmp_path, small_synthetic):
    """`augreid.slots --factors 2` exports each image with its drawn pose; an outside script (the mirror) draws
    them, and `generate --factor 2 --generator external:mirror` reads them back, one per image."""
    from test_external import MIRROR

    from augreid.data.images import load_image
    from augreid.sources.source import GeneratorSpec
    from augreid.study.slots import export_slots

    summary = export_slots(small_synthetic, tmp_path / "slots", [], [0], factors=[2], with_test_pairs=False)
    train, annotations = _source(small_synthetic)
    assert summary["counts"]["slots"] == len(train) and summary["inputs"]["factors"] == [2]
    table = pd.read_csv(tmp_path / "slots" / "slots.csv")
    assert (table["factor"] == 2).all() and table["portion"].isna().all()
    for batch in sorted((tmp_path / "slots").glob("batch_*")):
        subprocess.run([sys.executable, str(MIRROR), str(batch), str(tmp_path / "results")], check=True)
    spec = GeneratorSpec("mirror", "external", str(tmp_path / "results"), pattern="patn")
    result = augment(None, small_synthetic, spec, factor=2, out=tmp_path / "aug", progress=False)
    assert result["counts"]["generated_now"] == len(train)
    manifest = pd.read_csv(tmp_path / "aug" / "manifest.csv", keep_default_na=False)
    row = manifest[manifest["source"] == "generated"].iloc[0]
    drawn = load_image(tmp_path / "aug" / "bounding_box_train" / row["name"]).astype(int)
    condition = load_image(small_synthetic / "bounding_box_train" / row["condition"]).astype(int)
    mirrored, unmirrored = np.abs(drawn - condition[:, ::-1]).mean(), np.abs(drawn - condition).mean()
    assert mirrored < 0.5 * unmirrored, (mirrored, unmirrored)  # the condition mirrored (JPEG-encoded twice since)
