"""Factor K's `rare` policy: target poses drawn inversely to the size of their pose cluster (view x k-means), and
the pose-cluster entropy that shows how far it moves the pose distribution."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from augreid.config import Poses, load_config, parse_poses
from augreid.core.errors import InputError
from augreid.data.annotations import read_annotations
from augreid.data.market import GENERATED_SUMMARY, scan_split
from augreid.data.pose import JOINT, present
from augreid.data.view import BACK, FRONT, SIDE, views
from augreid.protocol.augmented_set import augment
from augreid.protocol.factor import factor_targets, pool_poses, pose_cells
from augreid.protocol.pose_entropy import entropy_notes
from augreid.study.report import factor_note
from tests.tools.forked_cli import run_module


def _source(root):
    return scan_split(root, "train"), read_annotations(root / "market-annotation-train.csv")


def bits(labels: list[int]) -> float:
    """Shannon entropy of the labels' occupancy, in bits, by hand."""
    counts = np.unique(labels, return_counts=True)[1]
    shares = counts / counts.sum()
    return float(-(shares * np.log2(shares)).sum())


def test_poses_rare_is_parsed_with_its_cluster_count():
    assert parse_poses("rare") == Poses("rare", 8) and parse_poses(["rare", "5"]) == Poses("rare", 5)
    assert str(parse_poses("rare")) == "rare 8" and str(Poses("canonical", 4)) == "canonical 4"
    for bad in ("rare x", "rare 0", "rare 3 4", "rare -2"):
        with pytest.raises(InputError, match=rf"^--poses {bad}: expected 'pool' or 'canonical N' with N >= 1, or "
                                             r"'rare \[N\]'$"):
            parse_poses(bad)


def test_a_malformed_rare_in_a_config_is_refused_in_one_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("augmentation:\n  poses: rare x\n")
    with pytest.raises(InputError) as refusal:
        load_config(path)
    assert str(refusal.value) == (f"{path}:2:10: augmentation.poses: must be 'pool' or 'canonical N' with N >= 1, "
                                  "or 'rare [N]', got 'rare x'")
    path.write_text("augmentation:\n  poses: rare 3\n")
    assert load_config(path).augmentation.poses == "rare 3"


def pose(shoulders_x: tuple[int, int], eyes: tuple[bool, bool]) -> np.ndarray:
    """A standing pose, its torso 40 px high, with the right and left shoulders at the given columns."""
    keypoints = np.full((18, 2), -1)
    keypoints[JOINT["r_shoulder"]], keypoints[JOINT["l_shoulder"]] = (30, shoulders_x[0]), (30, shoulders_x[1])
    keypoints[JOINT["r_hip"]], keypoints[JOINT["l_hip"]] = (70, 28), (70, 36)
    for joint, seen in zip(("r_eye", "l_eye"), eyes):
        if seen:
            keypoints[JOINT[joint]] = (15, 32)
    return keypoints


def test_views_read_the_shoulders_span_and_the_eyes():
    """Span as a part of the torso's 40 px: front when the right shoulder is on the image's left, back when on its
    right, side when narrower than 0.3 (12 px) or when one eye shows."""
    cases = [(pose((22, 42), (True, True)), FRONT), (pose((42, 22), (False, False)), BACK),
             (pose((22, 42), (False, False)), FRONT),  # the face hidden: the shoulders decide
             (pose((27, 38), (True, True)), SIDE), (pose((38, 27), (False, False)), SIDE),  # 11 px apart
             (pose((22, 42), (True, False)), SIDE), (pose((42, 22), (False, True)), SIDE),  # one eye
             (pose((26, 38), (True, True)), FRONT)]  # 12 px: wide enough
    assert views(np.stack([p for p, _ in cases])).tolist() == [view for _, view in cases]


def test_real_market_views(real_annotations):
    """On the published training keypoints the views agree with the face: front views show it, back views not."""
    annotations = read_annotations(real_annotations / "market-annotation-train.csv")
    poses = annotations.poses(pool_poses(annotations, annotations.names))
    found = views(poses)
    assert np.bincount(found).tolist() == [4965, 3772, 3379]
    face = present(poses)[:, [JOINT["nose"], JOINT["r_eye"], JOINT["l_eye"]]].any(axis=1)
    assert face[found == FRONT].mean() > 0.92 and face[found == BACK].mean() < 0.005


def test_pose_cells_are_the_view_times_the_kmeans_cluster(small_synthetic):
    train, annotations = _source(small_synthetic)
    pool = pool_poses(annotations, list(train["name"]))
    cells = pose_cells(annotations, pool, 8, seed=0)
    assert np.array_equal(cells // 8, views(annotations.poses(pool))) and set((cells % 8).tolist()) == set(range(8))
    assert np.array_equal(pose_cells(annotations, pool, 8, seed=0), cells)
    with pytest.raises(InputError, match=rf"^--poses rare 500: the training set has only {len(pool)} distinct poses"):
        pose_cells(annotations, pool, 500, seed=0)


def cluster_counts(targets: dict[str, list[str]], cell: dict[str, int]) -> pd.Series:
    return pd.Series([cell[t] for chosen in targets.values() for t in chosen]).value_counts()


@pytest.mark.parametrize("seed", [0, 1])
def test_rare_draws_every_cluster_about_as_often_where_pool_follows_their_sizes(small_synthetic, seed):
    """With 9 poses per image (720 draws over 15 clusters of 1 to 16 poses): `rare`'s clusters within a factor 2 of
    each other, `pool`'s over 10 apart; each image's poses distinct, never its own; the same seed, the same draw."""
    train, annotations = _source(small_synthetic)
    pool = pool_poses(annotations, list(train["name"]))
    cell = dict(zip(pool, pose_cells(annotations, pool, 8, seed).tolist()))
    rare = factor_targets(train, annotations, 10, Poses("rare", 8), seed)
    drawn, by_pool = cluster_counts(rare, cell), cluster_counts(factor_targets(train, annotations, 10, Poses(), seed),
                                                                 cell)
    assert len(drawn) == len(set(cell.values())) and drawn.max() < 2 * drawn.min()
    assert by_pool.max() > 10 * by_pool.min()
    assert all(len(set(chosen)) == 9 and name not in chosen for name, chosen in rare.items())
    assert factor_targets(train, annotations, 10, Poses("rare", 8), seed) == rare
    assert factor_targets(train, annotations, 10, Poses("rare", 8), seed + 2) != rare


def test_rare_raises_the_added_images_entropy_over_pool_and_the_summary_says_so(tmp_path, small_synthetic,
                                                                               tiny_pona):
    """The summary's figures equal the entropies computed here from the manifest's targets and pool's draw at the
    same seed; `rare`'s added images spread over the clusters more evenly than `pool`'s."""
    train, annotations = _source(small_synthetic)
    pool = pool_poses(annotations, list(train["name"]))
    cell = dict(zip(pool, pose_cells(annotations, pool, 8, seed=0).tolist()))
    summary = augment(None, small_synthetic, "pona", tiny_pona, seed=0, out=tmp_path / "rare", progress=False,
                      factor=2, poses="rare")
    figures = summary["pose_clusters"]
    assert figures == json.loads((tmp_path / "rare" / GENERATED_SUMMARY).read_text())["pose_clusters"]
    manifest = pd.read_csv(tmp_path / "rare" / "manifest.csv", keep_default_na=False)
    added = manifest.loc[manifest["source"] == "generated", "target"].map(cell).tolist()
    kept = [cell[n] for n in manifest.loc[manifest["source"] == "kept", "name"] if n in cell]
    by_pool = [cell[t] for chosen in factor_targets(train, annotations, 2, Poses(), 0).values() for t in chosen]
    assert len(added) == len(by_pool) == len(train)
    assert figures["added"] == pytest.approx(bits(added), abs=1e-4)
    assert figures["pool_added"] == pytest.approx(bits(by_pool), abs=1e-4)
    assert figures["augmented"] == pytest.approx(bits(kept + added), abs=1e-4)
    assert figures["training"] == pytest.approx(bits(list(cell.values())), abs=1e-4)
    assert figures["occupied"] == len(set(cell.values())) and figures["clusters"] == 8
    assert figures["policy"] == "rare 8" and figures["added"] > figures["pool_added"] + 0.3
    assert figures["augmented"] > bits(kept + by_pool)


def test_the_report_quotes_the_entropy_per_factor_over_seeds():
    measured = [{"policy": "rare 8", "clusters": 8, "occupied": occupied, "training": 3.8, "added": added,
                 "pool_added": 3.7, "augmented": 4.0} for occupied, added in ((15, 4.1), (16, 4.2))]
    results = [{"generator": g, "factor": 2, "seed": s, "pose_clusters": measured[s] if g == "pona" else None}
               for g in ("pona", "none", "duplicate") for s in (0, 1)]
    results += [{**r, "generator": "patn"} for r in results if r["generator"] == "pona"]  # the same poses
    assert entropy_notes(results) == [
        "Pose-cluster entropy at K = 2, mean over 2 seeds (8 k-means clusters x 3 views, 15.5 occupied): training "
        "3.80 bits; added images: pool 3.70, rare 8 4.15 bits; augmented set 4.00 bits"]
    note = factor_note([{**r, "budget": "epochs", "steps": 10, "map_rule": "torchreid"} for r in results],
                       {"poses": "rare", "unposed": "generate"})
    assert "in poses drawn inversely to the size of their pose cluster (8 k-means clusters x front, back and side " \
           "views);" in note and note.endswith(f" {entropy_notes(results)[0]}.")
    assert entropy_notes([{**r, "pose_clusters": None} for r in results]) == []  # sets made before the figure


def test_bad_rare_inputs_exit_2_before_writing(tmp_path, small_synthetic, tiny_pona):
    common = ["--factor", "2", "--generator", "pona", "--checkpoint", tiny_pona, "--data-root", small_synthetic,
              "--out", tmp_path / "out"]
    train, annotations = _source(small_synthetic)
    pool = len(pool_poses(annotations, list(train["name"])))
    cases = [(["--poses", "rare", "x"], "error: --poses rare x: expected 'pool' or 'canonical N' with N >= 1, or "
                                        "'rare [N]'"),
             (["--poses", "rare", "500"], f"error: --poses rare 500: the training set has only {pool} distinct poses "
                                          "with shoulders and hips")]
    for args, message in cases:
        result = run_module("augreid.generate", *map(str, common + args))
        assert result.returncode == 2 and result.stderr.strip() == message, result.stderr
    assert not (tmp_path / "out").exists()
