"""The identity filter: its rules, its score, its filled slots, and the filter model's leakage rule."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from augreid.config import load_config
from augreid.core.errors import InputError
from augreid.data.market import SPLIT_DIRS, scan_split
from augreid.generate import main as generate
from augreid.protocol.augmented_set import augment
from augreid.protocol.filtered_set import filter_set
from augreid.protocol.identity_filter import (FilterRule, check_fill, check_no_leakage, identity_scores, parse_rule,
                                              passing, split_filtered, training_images)
from augreid.protocol.portion import kept_count
from augreid.reid.train import quiet, train_reid
from augreid.sources.source import parse_generator
from augreid.study.cells import Study
from augreid.study.comparisons import cell_marks, comparison_pairs, legend
from augreid.study.report import filter_lines

TINY = load_config(Path(__file__).parent / "configs" / "tiny.yaml")
PORTION, SEED = 0.5, 0


def study_at(root: Path, data_root: Path) -> Study:
    return Study("tiny.yaml", "c" * 64, root, {"root": str(data_root), "sha256": "d" * 64},
                 ["pona", "pona+top0.5", "none"], [PORTION], [2], [SEED], {"pona": parse_generator("pona", ())},
                 {"condition": "nearest", "unposed": "generate"}, {"poses": "pool", "unposed": "generate"}, None)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, small_synthetic) -> dict:
    """The study's `none` set at p = 0.5 with its re-ID run (the filter model), the full set's run, both where the
    study puts them, and a `duplicate` set at the same p and seed to filter (its slots are 'generated')."""
    root = tmp_path_factory.mktemp("filter")
    study = study_at(root, small_synthetic)
    none = study.cell("none", PORTION, SEED)
    augment(PORTION, small_synthetic, "none", seed=SEED, out=none["augmented_out"], progress=False)
    reid = dataclasses.replace(TINY.reid, epochs=2)
    train_reid(none["augmented_out"], reid, study.filter_model(SEED, PORTION), seed=SEED, log=quiet)
    train_reid(small_synthetic, reid, study.filter_model(SEED), seed=SEED, log=quiet)
    duplicate = augment(PORTION, small_synthetic, "duplicate", seed=SEED, out=root / "duplicate", progress=False)
    return {"study": study, "none_set": Path(none["augmented_out"]), "none": study.filter_model(SEED, PORTION),
            "full": study.filter_model(SEED), "unfiltered": Path(duplicate["out"]), "root": root}


def test_rules_parse_and_bad_ones_are_refused_in_one_line():
    assert parse_rule("id0.5") == FilterRule("id", 0.5) and str(parse_rule("top.25")) == "top0.25"
    assert split_filtered("pona+id0.7") == ("pona", FilterRule("id", 0.7))
    assert split_filtered("external:x=/a+b/c") == ("external:x=/a+b/c", None)
    for bad in ("id1.5", "top0", "top1.5", "xx0.5", "id", "top-1"):
        with pytest.raises(InputError) as refused:
            parse_rule(bad)
        assert f"identity filter '{bad}'" in str(refused.value) and "\n" not in str(refused.value)
    with pytest.raises(InputError, match="filter fill 'both': expected empty"):
        check_fill("both")


def test_the_score_is_the_cosine_to_the_persons_mean_real_feature():
    rng = np.random.default_rng(0)
    real, generated = rng.normal(size=(7, 5)), rng.normal(size=(4, 5))
    real_pids, generated_pids = np.array([3, 3, 8, 8, 8, 1, 1]), np.array([8, 1, 3, 8])
    expected = []
    for feature, pid in zip(generated, generated_pids):
        own = real[real_pids == pid]
        prototype = (own / np.linalg.norm(own, axis=1, keepdims=True)).mean(axis=0)
        expected.append(feature @ prototype / np.linalg.norm(feature) / np.linalg.norm(prototype))
    scores = identity_scores(torch.tensor(generated), generated_pids, torch.tensor(real), real_pids)
    np.testing.assert_allclose(scores, expected, rtol=1e-5)
    with pytest.raises(RuntimeError, match="person 9 has generated images but no real one"):
        identity_scores(torch.tensor(generated), np.array([8, 1, 9, 8]), torch.tensor(real), real_pids)


def test_threshold_keeps_scores_at_least_t_and_top_the_best_fraction_per_identity():
    scores = np.array([0.9, 0.2, 0.5, 0.7, 0.1, 0.3, 0.5, 0.4])
    pids = np.array([1, 1, 1, 1, 2, 2, 2, 5])
    names = np.array([f"n{i}" for i in range(8)])
    assert passing(scores, pids, names, FilterRule("id", 0.5)).tolist() == [1, 0, 1, 1, 0, 0, 1, 0]
    # person 1: round(0.5 * 4) = 2 best (0.9, 0.7); person 2: round(1.5) = 2 (0.5, 0.3); person 5: at least 1
    assert passing(scores, pids, names, FilterRule("top", 0.5)).tolist() == [1, 0, 0, 1, 0, 1, 1, 1]
    tied = passing(np.array([0.5, 0.5, 0.5]), np.array([1, 1, 1]), np.array(["c", "a", "b"]), FilterRule("top", 0.34))
    assert tied.tolist() == [False, True, False]  # round(1.02) = 1, the earlier name


def test_a_filtered_cell_waits_for_the_none_run_of_its_p_and_seed(tmp_path, small_synthetic):
    study = study_at(tmp_path, small_synthetic)
    needs = {child.key: child.needs for child in study.children()}
    assert needs["pona+top0.5 p=0.5 s0"] == ("generator pona", "pona p=0.5 s0", "none p=0.5 s0")
    assert needs["pona+top0.5 K=2 s0"] == ("generator pona", "pona K=2 s0", "full s0")
    assert study.filter_model(0, 0.5) == study.cell("none", 0.5, 0)["reid_out"]
    assert study.filter_model(0) == study.cell("none", 1.0, 0)["reid_out"] == study.factor_cell("none", 2, 0)["reid_out"]


@pytest.mark.parametrize("model", ["none", "full"])
def test_the_filter_model_never_trained_on_a_removed_image(runs, small_synthetic, model):
    """The study's filter model at (p, seed) is the `none` run, whose training images are the kept ones only; the
    full set's run saw the removed images, and the check (and so the filter) refuses it."""
    manifest = pd.read_csv(runs["none_set"] / "manifest.csv")
    kept = manifest["name"].tolist()
    removed = {Path(p).resolve() for p, n in scan_split(small_synthetic, "train")[["path", "name"]].values
               if n not in kept}
    assert removed
    seen = training_images(runs[model])
    if model == "none":
        assert not seen & removed and len(seen) == len(kept)
        check_no_leakage(runs[model], small_synthetic, kept)
    else:
        assert seen & removed == removed
        with pytest.raises(InputError, match=rf"trained on {len(removed)} real images this set removed"):
            check_no_leakage(runs[model], small_synthetic, kept)
        with pytest.raises(InputError, match="use the `none` run of the same p and seed"):
            filter_set(runs["unfiltered"], runs[model], FilterRule("id", 0.5), "empty", runs["root"] / "leaky")


@pytest.mark.parametrize("fill", ["empty", "copy"])
def test_failing_slots_are_left_empty_or_filled_with_their_condition(runs, small_synthetic, fill):
    summary = filter_set(runs["unfiltered"], runs["none"], FilterRule("top", 0.5), fill, runs["root"] / fill)
    out = Path(summary["out"])
    unfiltered = pd.read_csv(runs["unfiltered"] / "manifest.csv", keep_default_na=False)
    generated = unfiltered[unfiltered["source"] == "generated"]
    expected_passed = sum(kept_count(0.5, n) for n in generated.groupby("pid").size())
    counts = summary["filter"]
    assert (counts["scored"], counts["passed"], counts["filtered"]) == \
        (len(generated), expected_passed, len(generated) - expected_passed)
    scores = pd.read_csv(out / "scores.csv")
    assert scores["passed"].sum() == expected_passed and scores["score"].between(-1, 1).all()
    manifest = pd.read_csv(out / "manifest.csv", keep_default_na=False)
    written = scan_split(out, "train")
    assert sorted(written["name"]) == sorted(manifest["name"])
    failed = set(scores.loc[~scores["passed"], "name"])
    if fill == "empty":
        assert len(manifest) == len(unfiltered) - len(failed) and not failed & set(manifest["name"])
    else:
        assert len(manifest) == len(unfiltered) == summary["counts"]["training_images"]
        copies = manifest[manifest["name"].isin(failed)]
        assert (copies["source"] == "copied").all() and len(copies) == len(failed)
        for name, condition in copies[["name", "condition"]].values:
            assert (out / SPLIT_DIRS["train"] / name).resolve() == \
                (small_synthetic / SPLIT_DIRS["train"] / condition).resolve()
    again = filter_set(runs["unfiltered"], runs["none"], FilterRule("top", 0.5), fill, out)
    assert again["filter"] == counts  # a finished set is found, not rebuilt


def test_filtered_rows_are_compared_with_their_generator_and_counted_in_the_report():
    generators = ["pona", "pona+id0.5", "none", "duplicate"]
    assert comparison_pairs(generators) == [("pona", "none"), ("pona", "duplicate"), ("pona+id0.5", "none"),
                                            ("pona+id0.5", "duplicate"), ("pona+id0.5", "pona"),
                                            ("duplicate", "none")]
    rows = pd.DataFrame([{"generator": "pona+id0.5", "baseline": "pona", "portion": 0.2, "verdict": "better"}])
    assert cell_marks(rows) == {("pona+id0.5", 0.2): "▲u"}
    assert "▲u / ▼u" in legend(filtered=True) and "▲u" not in legend()
    results = [{"generator": "pona+id0.5", "portion": 0.2, "seed": 1, "scored": 40, "filtered": 12, "fill": "copy"},
               {"generator": "pona", "portion": 0.2, "seed": 1}]
    assert filter_lines(results, "portion") == [
        "- filtered: 12 of 40 generated images (pona+id0.5, p=0.2, seed 1), filled with their condition image"]


def test_bad_filter_options_exit_with_one_line(tmp_path, small_synthetic, runs):
    common = ["--portion", "0.5", "--data-root", str(small_synthetic), "--out", str(tmp_path / "out")]
    cases = [
        (["--filter", "id2", "--filter-model", runs["none"]], "identity filter 'id2': 2 is out of range"),
        (["--filter", "id0.5", "--generator", "duplicate", "--filter-model", runs["none"]],
         "--filter: the identity filter scores generated images; --generator duplicate has none"),
        (["--filter", "id0.5"], "--filter needs --filter-model RUN"),
        (["--filter", "id0.5", "--filter-model", str(tmp_path)], f"--filter-model {tmp_path}: not an augreid.reid"),
        (["--filter-fill", "copy"], "--filter-model, --filter-fill and --unfiltered go with --filter RULE"),
    ]
    for args, message in cases:
        with pytest.raises(InputError) as refused:
            generate([*common, *args])
        assert str(refused.value).startswith(message) and "\n" not in str(refused.value)
    assert not (tmp_path / "out").exists()
