"""Paired comparisons: the bootstrap interval over queries, the t-test over seeds, Table VI's marks and verdicts."""
import numpy as np
import pandas as pd
import pytest

from augreid.study.comparisons import cell_marks, compare_cells, comparison_pairs, verdict_lines, write_comparisons
from augreid.study.statistics import paired_bootstrap, paired_t_over_seeds
from augreid.study.table_vi import results_frame, summarise, to_markdown

RNG = np.random.default_rng(0)
AP = RNG.beta(2, 3, size=300)  # a plausible per-query AP vector


def test_two_runs_without_a_real_difference_give_an_interval_around_zero():
    other = RNG.beta(2, 3, size=300)  # the same distribution, drawn again: no true difference
    interval = paired_bootstrap(AP, other)
    assert interval.low < 0 < interval.high and interval.high - interval.low > 0.01
    assert interval.verdict == "no difference shown"
    same = paired_bootstrap(AP, AP)  # literally the same run: every paired difference is 0, nothing varies
    assert (same.estimate, same.low, same.high) == (0.0, 0.0, 0.0)


def test_a_known_shift_is_recovered_within_the_interval():
    noisy = np.clip(AP + RNG.normal(0, 0.1, size=300), 0, 1)
    for shift in (0.05, -0.03):
        interval = paired_bootstrap(noisy + shift, AP)
        true_shift = (noisy + shift - AP).mean()
        assert interval.low < true_shift < interval.high
        assert interval.low < shift + (noisy - AP).mean() < interval.high
        assert interval.verdict == ("better" if shift > 0 else "worse")
        assert interval.high - interval.low < 0.04  # 300 queries with noise 0.1: the interval is narrow


def test_the_bootstrap_is_seeded_and_its_coverage_is_about_95_percent():
    assert paired_bootstrap(AP, AP[::-1]) == paired_bootstrap(AP, AP[::-1])
    rng, covered = np.random.default_rng(1), 0
    for _ in range(200):  # differences with true mean 0.02: the interval should hold it about 95% of the time
        differences = rng.normal(0.02, 0.2, size=150)
        interval = paired_bootstrap(differences, np.zeros(150), resamples=2000, seed=int(rng.integers(1 << 31)))
        covered += interval.low < 0.02 < interval.high
    assert 0.89 <= covered / 200 <= 0.99


def test_t_test_over_seeds_matches_the_textbook_values():
    test = paired_t_over_seeds(np.array([2.0, 3.0, 4.0]))  # mean 3, sd 1, t(0.975, 2) = 4.3027
    assert (test.seeds, test.mean, test.std) == (3, 3.0, 1.0)
    assert test.interval.low == pytest.approx(3 - 4.302653 / np.sqrt(3), abs=1e-5)
    t = 3 / (1 / np.sqrt(3))  # with 2 degrees of freedom the t CDF is 1/2 + t / (2 sqrt(2 + t^2))
    assert test.p_value == pytest.approx(2 * (0.5 - t / (2 * np.sqrt(2 + t * t))), abs=1e-9)  # 0.0351
    assert test.interval.verdict == "better"
    assert paired_t_over_seeds(np.array([1.0, -1.0])).interval.verdict == "no difference shown"
    with pytest.raises(ValueError):
        paired_t_over_seeds(np.array([1.0]))


def _per_query(tmp_path, name, ap, first):
    path = tmp_path / f"{name}.csv"
    pd.DataFrame({"query": [f"{i:04d}_c1s1_000001_00.jpg" for i in range(len(ap))], "pid": 1, "camid": 1, "ap": ap,
                  "first_match_rank": first}).to_csv(path, index=False)
    return str(path)


def test_cells_are_compared_with_both_controls_per_seed_and_over_seeds(tmp_path):
    assert comparison_pairs(["pona", "patn", "none", "duplicate"]) == [
        ("pona", "none"), ("pona", "duplicate"), ("patn", "none"), ("patn", "duplicate"), ("duplicate", "none")]
    runs = []
    for seed in (0, 1, 2):
        rng = np.random.default_rng(seed)
        base = rng.beta(2, 3, size=200)
        for generator, shift in (("pona", 0.10), ("none", 0.0), ("duplicate", 0.10 + 0.001 * (seed - 1))):
            ap = np.clip(base + shift + rng.normal(0, 0.05, 200), 0, 1)
            runs.append(dict(generator=generator, portion=0.2, seed=seed,
                             per_query=_per_query(tmp_path, f"{generator}{seed}", ap, np.where(ap > 0.4, 1, 3))))
    runs.append(dict(generator="none", portion=1.0, seed=0, per_query=runs[1]["per_query"]))  # never compared
    comparisons = compare_cells(pd.DataFrame(runs), ["pona", "none", "duplicate"], resamples=2000)
    assert set(comparisons["portion"]) == {0.2}
    pona_none = comparisons[(comparisons["generator"] == "pona") & (comparisons["baseline"] == "none")]
    assert list(pona_none["seed"]) == ["0", "1", "2", "all"] and list(pona_none["seeds"]) == [1, 1, 1, 3]
    assert (pona_none["verdict"] == "better").all()
    assert pona_none["delta_mAP"].iloc[:3].between(8, 12).all()  # the 0.10 shift, in points
    marks = cell_marks(comparisons)
    assert marks[("pona", 0.2)] == "▲n" and marks[("duplicate", 0.2)] == "▲n"  # vs duplicate: no difference shown
    lines = verdict_lines(comparisons)
    assert len(lines) == 3 and lines[0].startswith("pona vs none at p=0.2: +")
    assert lines[0].endswith(", better") and "over 3 seeds, p = " in lines[0]
    assert lines[1].startswith("pona vs duplicate at p=0.2:") and lines[1].endswith("no difference shown")

    paths = write_comparisons(comparisons, tmp_path / "report", "steps")
    assert pd.read_csv(paths["comparisons_csv"]).shape == (12, len(comparisons.columns))
    document = open(paths["comparisons"]).read()
    assert "re-ID budget: steps" in document and lines[0] in document
    table = to_markdown(summarise(results_frame([dict(generator=r["generator"], portion=r["portion"], seed=r["seed"],
                                                      mAP=50.0, rank1=60.0) for r in runs]),
                                  ["pona", "none", "duplicate"]), marks)
    assert "| pona | 50.0 ± 0.0 (r1 60.0) ▲n |" in table

    by_rank1 = compare_cells(pd.DataFrame(runs), ["pona", "none", "duplicate"], resamples=2000, metric="rank1")
    assert (by_rank1["decided_by"] == "rank-1").all() and (comparisons["decided_by"] == "mAP").all()
    assert by_rank1[["delta_mAP", "delta_rank1"]].equals(comparisons[["delta_mAP", "delta_rank1"]])  # both kept
    decided = by_rank1.apply(lambda r: "better" if r.rank1_low > 0 else "worse" if r.rank1_high < 0
                             else "no difference shown", axis=1)
    assert (by_rank1["verdict"] == decided).all()
    first = verdict_lines(by_rank1)[0]
    row = by_rank1[(by_rank1["generator"] == "pona") & (by_rank1["baseline"] == "none") & (by_rank1["seed"] == "all")]
    assert first.startswith(f"pona vs none at p=0.2: {row['delta_rank1'].iloc[0]:+.1f} rank-1 [")
    assert "only where the rank-1 interval excludes 0" in open(write_comparisons(by_rank1, tmp_path / "r1", "steps")[
        "comparisons"]).read()


def test_runs_over_different_queries_are_not_compared(tmp_path):
    runs = pd.DataFrame([dict(generator="pona", portion=0.5, seed=0, per_query=_per_query(tmp_path, "a", AP[:10], 1)),
                         dict(generator="none", portion=0.5, seed=0, per_query=_per_query(tmp_path, "b", AP[:12], 1))])
    with pytest.raises(ValueError, match="rank different queries"):
        compare_cells(runs, ["pona", "none"])


def test_factor_cells_are_compared_at_the_same_k_with_the_original_set_as_none(tmp_path):
    """Augmentation by K: `none` is one run per seed (the original set) standing at every K; no column is shared
    and dropped as p = 1.0 is."""
    rng = np.random.default_rng(3)
    original = rng.beta(2, 3, size=200)
    none = _per_query(tmp_path, "original", original, 1)
    runs = [dict(generator="none", factor=k, seed=0, per_query=none) for k in (2, 4)]
    for k, shift in ((2, 0.0), (4, 0.08)):
        ap = np.clip(original + shift + rng.normal(0, 0.03, 200), 0, 1)
        runs.append(dict(generator="pona", factor=k, seed=0, per_query=_per_query(tmp_path, f"pona{k}", ap, 1)))
        runs.append(dict(generator="duplicate", factor=k, seed=0, per_query=_per_query(tmp_path, f"dup{k}", original, 1)))
    comparisons = compare_cells(pd.DataFrame(runs), ["pona", "none", "duplicate"], resamples=2000)
    assert "portion" not in comparisons.columns
    assert list(comparisons[["generator", "baseline", "factor"]].itertuples(index=False, name=None)) == [
        ("pona", "none", 2), ("pona", "none", 4), ("pona", "duplicate", 2), ("pona", "duplicate", 4),
        ("duplicate", "none", 2), ("duplicate", "none", 4)]
    marks = cell_marks(comparisons)
    assert marks == {("pona", 4): "▲n ▲d"}
    assert verdict_lines(comparisons)[1].startswith("pona vs none at K=4: +")
    paths = write_comparisons(comparisons, tmp_path / "report", "epochs")
    assert paths["comparisons"].endswith("factor_comparisons.md") and "| pona | none | 4 | 0 |" in open(
        paths["comparisons"]).read()
    summary = summarise(results_frame([dict(r, mAP=40.0 + r["factor"], rank1=50.0) for r in runs], axis="factor"),
                        ["pona", "none", "duplicate"])
    table = to_markdown(summary, marks).splitlines()
    assert table[0] == "| generator | K = 2 | K = 4 |"
    assert table[2] == "| pona | 42.0 (r1 50.0) | 44.0 (r1 50.0) ▲n ▲d |"
