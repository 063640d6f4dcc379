"""Paired comparisons between Table VI cells: runs paired by seed and query, the interval over both, Table VI's
marks and verdicts. (The interval's own coverage is tested in test_statistics.py.)"""
import numpy as np
import pandas as pd
import pytest

from augreid.study.comparisons import (cell_marks, compare_arms, compare_cells, comparison_pairs, verdict_lines,
                                       write_comparisons)
from augreid.study.statistics import NO_VERDICT, seeds_and_queries
from augreid.study.table_vi import results_frame, summarise, to_markdown

RNG = np.random.default_rng(0)
AP = RNG.beta(2, 3, size=300)  # a plausible per-query AP vector


def _table(ap, first, names=None) -> pd.DataFrame:
    names = names if names is not None else [f"{i:04d}_c1s1_000001_00.jpg" for i in range(len(ap))]
    return pd.DataFrame({"query": names, "pid": 1, "camid": 1, "ap": ap, "first_match_rank": first})


def _per_query(tmp_path, name, ap, first):
    path = tmp_path / f"{name}.csv"
    _table(ap, first).to_csv(path, index=False)
    return str(path)


def test_arms_are_paired_by_query_name_whatever_the_row_order():
    arm = [_table(AP, np.where(AP > 0.4, 1, 3))]
    shuffled = _table(AP, np.where(AP > 0.4, 1, 3)).sample(frac=1, random_state=0)
    mean_ap, rank1, queries = compare_arms(arm * 2, [shuffled] * 2)
    assert queries == 300 and mean_ap.interval.estimate == 0.0 and rank1.interval.estimate == 0.0
    assert (mean_ap.interval.low, mean_ap.interval.high) == (0.0, 0.0)  # the same runs: nothing varies


def test_the_comparison_is_the_seeds_and_queries_interval_in_points():
    rng = np.random.default_rng(1)
    a = [_table(np.clip(AP + 0.05 + rng.normal(0, 0.05, 300), 0, 1), 1) for _ in range(3)]
    b = [_table(np.clip(AP + rng.normal(0, 0.05, 300), 0, 1), 2) for _ in range(3)]
    mean_ap, rank1, _ = compare_arms(a, b)
    expected = seeds_and_queries(np.stack([100 * t["ap"] for t in a]), np.stack([100 * t["ap"] for t in b]))
    assert mean_ap == expected
    assert rank1.interval.estimate == 100.0 and rank1.interval.verdict == "better"  # every query top-1 in a only
    with pytest.raises(ValueError, match="paired runs"):
        compare_arms(a, b[:2])


def test_runs_over_different_queries_are_not_compared(tmp_path):
    runs = pd.DataFrame([dict(generator="pona", portion=0.5, seed=0, per_query=_per_query(tmp_path, "a", AP[:10], 1)),
                         dict(generator="none", portion=0.5, seed=0, per_query=_per_query(tmp_path, "b", AP[:12], 1))])
    with pytest.raises(ValueError, match="rank different queries"):
        compare_cells(runs, ["pona", "none"])


def _study(tmp_path, seeds, seed_sd=0.0):
    """pona 10 points above none at p = 0.2; duplicate equal to pona but for training noise of `seed_sd`."""
    runs = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        base = rng.beta(2, 3, size=200)
        for generator, shift in (("pona", 0.10), ("none", 0.0), ("duplicate", 0.10)):
            ap = np.clip(base + shift + rng.normal(0, seed_sd) + rng.normal(0, 0.05, 200), 0, 1)
            runs.append(dict(generator=generator, portion=0.2, seed=seed,
                             per_query=_per_query(tmp_path, f"{generator}{seed}", ap, np.where(ap > 0.4, 1, 3))))
    runs.append(dict(generator="none", portion=1.0, seed=seeds[0], per_query=runs[1]["per_query"]))  # never compared
    return pd.DataFrame(runs)


def test_cells_are_compared_with_both_controls_over_their_common_seeds(tmp_path):
    assert comparison_pairs(["pona", "patn", "none", "duplicate"]) == [
        ("pona", "none"), ("pona", "duplicate"), ("patn", "none"), ("patn", "duplicate"), ("duplicate", "none")]
    runs = _study(tmp_path, [0, 1, 2], seed_sd=0.01)
    comparisons = compare_cells(runs, ["pona", "none", "duplicate"])
    assert set(comparisons["portion"]) == {0.2} and list(comparisons["seeds"]) == [3, 3, 3]
    pona_none = comparisons[(comparisons["generator"] == "pona") & (comparisons["baseline"] == "none")].iloc[0]
    assert pona_none["verdict"] == "better" and 8 < pona_none["delta_mAP"] < 12  # the 0.10 shift, in points
    assert len(pona_none["per_seed_mAP"].split()) == 3 and pona_none["seed_sd_mAP"] > 0
    marks = cell_marks(comparisons)
    assert marks[("pona", 0.2)] == "▲n" and marks[("duplicate", 0.2)] == "▲n"  # vs duplicate: no difference
    lines = verdict_lines(comparisons)
    assert len(lines) == 3 and lines[0].startswith("pona vs none at p=0.2: +") and lines[0].endswith(", better")
    assert " over 3 seeds (per seed +" in lines[0]
    assert lines[1].startswith("pona vs duplicate at p=0.2:") and lines[1].endswith("no difference shown")

    paths = write_comparisons(comparisons, tmp_path / "report", "steps")
    assert pd.read_csv(paths["comparisons_csv"]).shape == (3, len(comparisons.columns))
    document = open(paths["comparisons"]).read()
    assert "re-ID budget: steps" in document and lines[0] in document and "Welch" not in document
    table = to_markdown(summarise(results_frame([dict(generator=r["generator"], portion=r["portion"], seed=r["seed"],
                                                      mAP=50.0, rank1=60.0) for r in runs.to_dict("records")]),
                                  ["pona", "none", "duplicate"]), marks)
    assert "| pona | 50.0 ± 0.0 (r1 60.0) ▲n |" in table

    by_rank1 = compare_cells(runs, ["pona", "none", "duplicate"], metric="rank1")
    assert (by_rank1["decided_by"] == "rank-1").all() and (comparisons["decided_by"] == "mAP").all()
    assert by_rank1[["delta_mAP", "delta_rank1"]].equals(comparisons[["delta_mAP", "delta_rank1"]])  # both kept
    decided = by_rank1.apply(lambda r: "better" if r.rank1_low > 0 else "worse" if r.rank1_high < 0
                             else "no difference shown", axis=1)
    assert (by_rank1["verdict"] == decided).all()
    assert "only where the rank-1 interval excludes 0" in open(write_comparisons(by_rank1, tmp_path / "r1", "steps")[
        "comparisons"]).read()


def test_one_seed_gives_no_verdict_and_no_mark(tmp_path):
    comparisons = compare_cells(_study(tmp_path, [0]), ["pona", "none", "duplicate"])
    assert (comparisons["verdict"] == NO_VERDICT).all() and comparisons["mAP_low"].isna().all()
    assert cell_marks(comparisons) == {}
    assert verdict_lines(comparisons)[0].startswith("pona vs none at p=0.2: +")
    assert "[no interval] over 1 seed, no verdict" in verdict_lines(comparisons)[0]


def test_cells_with_no_common_seed_are_not_compared(tmp_path):
    runs = _study(tmp_path, [0, 1])
    runs = runs[~((runs["generator"] == "none") & (runs["seed"] == 0))]
    comparisons = compare_cells(runs, ["pona", "none", "duplicate"])
    assert list(comparisons.loc[comparisons["baseline"] == "none", "seeds"]) == [1, 1]


def test_factor_cells_are_compared_at_the_same_k_with_the_original_set_as_none(tmp_path):
    """Augmentation by K: `none` is one run per seed (the original set) standing at every K; no column is shared
    and dropped as p = 1.0 is."""
    rng = np.random.default_rng(3)
    runs = []
    for seed in (0, 1, 2):
        original = rng.beta(2, 3, size=200)
        none = _per_query(tmp_path, f"original{seed}", original, 1)
        runs += [dict(generator="none", factor=k, seed=seed, per_query=none) for k in (2, 4)]
        for k, shift in ((2, 0.0), (4, 0.08)):
            ap = np.clip(original + shift + rng.normal(0, 0.03, 200), 0, 1)
            runs.append(dict(generator="pona", factor=k, seed=seed,
                             per_query=_per_query(tmp_path, f"pona{k}_{seed}", ap, 1)))
            runs.append(dict(generator="duplicate", factor=k, seed=seed,
                             per_query=_per_query(tmp_path, f"dup{k}_{seed}", original, 1)))
    comparisons = compare_cells(pd.DataFrame(runs), ["pona", "none", "duplicate"])
    assert "portion" not in comparisons.columns
    assert list(comparisons[["generator", "baseline", "factor"]].itertuples(index=False, name=None)) == [
        ("pona", "none", 2), ("pona", "none", 4), ("pona", "duplicate", 2), ("pona", "duplicate", 4),
        ("duplicate", "none", 2), ("duplicate", "none", 4)]
    assert cell_marks(comparisons) == {("pona", 4): "▲n ▲d"}
    assert verdict_lines(comparisons)[1].startswith("pona vs none at K=4: +")
    paths = write_comparisons(comparisons, tmp_path / "report", "epochs")
    assert paths["comparisons"].endswith("factor_comparisons.md") and "| pona | none | 4 | 3 |" in open(
        paths["comparisons"]).read()
    summary = summarise(results_frame([dict(r, mAP=40.0 + r["factor"], rank1=50.0) for r in runs], axis="factor"),
                        ["pona", "none", "duplicate"])
    table = to_markdown(summary, cell_marks(comparisons)).splitlines()
    assert table[0] == "| generator | K = 2 | K = 4 |"
    assert table[2] == "| pona | 42.0 ± 0.0 (r1 50.0) | 44.0 ± 0.0 (r1 50.0) ▲n ▲d |"
