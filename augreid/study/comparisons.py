"""Paired comparisons between Table VI cells: does a generator's set beat the controls at the same p and seed?

Every generator's cell is compared with `none` (the reduced set alone: are the extra images worth anything?) and
with `duplicate` (the condition images copied into the missing slots: the same count and, with any budget, the
same steps, without pose transfer: is it the *new poses* that help?), and `duplicate` with `none`. Per seed, the
difference in mAP and rank-1 comes with a 95% paired-bootstrap interval over queries; with two or more seeds, the
verdict comes from a paired t-test over the per-seed differences. A verdict is "better" or "worse" only when the
interval of the leading figure (`report.metric`: mAP, or rank-1) excludes 0.

Augmentation by a factor K (`augreid/factor.py`) is compared the same way at the same K: against `none`, the
original set (one run per seed, the same at every K), and `duplicate`, K-1 copies of each image.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from augreid.atomic import atomic_file, atomic_write_text
from augreid.study.statistics import CONFIDENCE, RESAMPLES, Interval, paired_bootstrap, paired_t_over_seeds
from augreid.study.table_vi import AXES, FULL, LEADING, axis_of

BASELINES = ("none", "duplicate")
MARKS = {("none", "better"): "▲n", ("none", "worse"): "▼n", ("duplicate", "better"): "▲d",
         ("duplicate", "worse"): "▼d"}


def columns(axis: str = "portion") -> list[str]:
    return ["generator", "baseline", axis, "seed", "seeds", "queries", "method", "delta_mAP", "mAP_low", "mAP_high",
            "delta_rank1", "rank1_low", "rank1_high", "p_value", "verdict", "decided_by"]


CONTROLS_MEANING = {"portion": ("the kept images alone", "condition images copied into the missing slots"),
                    "factor": ("the original set", "K-1 copies of each image")}


def legend(metric: str = "map", axis: str = "portion") -> str:
    """What the marks of Table VI (or of the factor table) mean."""
    name, symbol, (none, duplicate) = LEADING[metric][1], AXES[axis][0], CONTROLS_MEANING[axis]
    return (f"▲n / ▼n: {name} above / below `none` ({none}) at the same {symbol}, ▲d / ▼d: above / below "
            f"`duplicate` ({duplicate}); marked only where the 95% interval of the "
            "difference excludes 0 (paired bootstrap over queries with one seed, paired t-test over seeds with more).")


def comparison_pairs(generators: list[str]) -> list[tuple[str, str]]:
    """(generator, baseline) pairs to compare: each generator with each control present, `duplicate` with
    `none`."""
    return [(g, b) for g in generators for b in BASELINES if b in generators and g not in (b, "none")]


def compare_runs(run: pd.DataFrame, baseline: pd.DataFrame, resamples: int = RESAMPLES,
                 seed: int = 0) -> tuple[Interval, Interval, int]:
    """Δ mAP and Δ rank-1 (points, run - baseline) with paired-bootstrap intervals over their common queries
    (per_query.csv tables; both runs must rank the same queries), and the number of queries."""
    merged = run.merge(baseline, on="query", suffixes=("", "_baseline"), validate="one_to_one")
    if not len(merged) == len(run) == len(baseline):
        raise ValueError(f"the two runs rank different queries ({len(run)} and {len(baseline)}, {len(merged)} shared)")
    top1 = lambda ranks: 100.0 * (ranks == 1)  # noqa: E731
    mean_ap = paired_bootstrap(100 * merged["ap"], 100 * merged["ap_baseline"], resamples, seed)
    rank1 = paired_bootstrap(top1(merged["first_match_rank"]), top1(merged["first_match_rank_baseline"]),
                             resamples, seed)  # the same seed: the same resampled queries as for mAP
    return mean_ap, rank1, len(merged)


def _row(generator: str, baseline: str, axis: str, value: float, seed: str, seeds: int, queries: int, method: str,
         mean_ap: Interval, rank1: Interval, metric: str, p_value: float = np.nan) -> dict:
    deciding = mean_ap if metric == "map" else rank1
    return dict(generator=generator, baseline=baseline, **{axis: value}, seed=seed, seeds=seeds, queries=queries,
                method=method,
                delta_mAP=mean_ap.estimate, mAP_low=mean_ap.low, mAP_high=mean_ap.high, delta_rank1=rank1.estimate,
                rank1_low=rank1.low, rank1_high=rank1.high, p_value=p_value, verdict=deciding.verdict,
                decided_by=LEADING[metric][1])


def compare_cells(runs: pd.DataFrame, generators: list[str], resamples: int = RESAMPLES,
                  metric: str = "map") -> pd.DataFrame:
    """`runs`: generator, portion (or factor), seed and per_query (the run's per_query.csv). One row per compared
    cell and seed (`seed` as text), then, with two or more seeds, one row per cell over the seeds (`seed` "all");
    the verdict by the `metric`'s interval (mAP or rank-1)."""
    rows, axis = [], axis_of(runs)
    partial = runs[runs[axis] != FULL] if axis == "portion" else runs
    for generator, baseline in comparison_pairs(generators):
        for value in sorted(partial.loc[partial["generator"] == generator, axis].unique()):
            cell = []
            for run in partial[(partial["generator"] == generator) & (partial[axis] == value)].itertuples():
                base = partial[(partial["generator"] == baseline) & (partial[axis] == value)
                               & (partial["seed"] == run.seed)]
                if base.empty:
                    continue
                mean_ap, rank1, queries = compare_runs(pd.read_csv(run.per_query), pd.read_csv(base.iloc[0].per_query),
                                                       resamples)
                cell.append(_row(generator, baseline, axis, value, str(run.seed), 1, queries,
                                 f"paired bootstrap over queries ({resamples} resamples)", mean_ap, rank1, metric))
            rows += sorted(cell, key=lambda r: int(r["seed"]))
            if len(cell) >= 2:
                over_map = paired_t_over_seeds(np.array([r["delta_mAP"] for r in cell]))
                over_rank1 = paired_t_over_seeds(np.array([r["delta_rank1"] for r in cell]))
                deciding = over_map if metric == "map" else over_rank1
                rows.append(_row(generator, baseline, axis, value, "all", len(cell), cell[0]["queries"],
                                 f"paired t-test over {len(cell)} seeds (std {deciding.std:.2f})",
                                 over_map.interval, over_rank1.interval, metric, deciding.p_value))
    return pd.DataFrame(rows, columns=columns(axis))


def verdicts(comparisons: pd.DataFrame) -> pd.DataFrame:
    """The row that decides each (generator, baseline, portion): the test over seeds when there is one, else
    the single seed's bootstrap."""
    if comparisons.empty:
        return comparisons
    decisive = comparisons.assign(over_seeds=comparisons["seed"] == "all")
    decisive = decisive.sort_values("over_seeds", kind="stable").groupby(
        ["generator", "baseline", axis_of(comparisons)], sort=False).tail(1)
    return decisive.drop(columns="over_seeds").sort_index()


def cell_marks(comparisons: pd.DataFrame) -> dict[tuple[str, float], str]:
    """Table VI marks per (generator, portion or factor), e.g. '▲n ▼d'."""
    marks: dict[tuple[str, float], list[str]] = {}
    axis = axis_of(comparisons)
    for row in verdicts(comparisons).itertuples():
        mark = MARKS.get((row.baseline, row.verdict))
        if mark:
            marks.setdefault((row.generator, getattr(row, axis)), []).append(mark)
    return {cell: " ".join(sorted(found, key=list(MARKS.values()).index)) for cell, found in marks.items()}


def verdict_lines(comparisons: pd.DataFrame) -> list[str]:
    """One line per generator, baseline and portion in the figure that decided it, e.g.
    `pona vs duplicate at p=0.2: +3.1 mAP [1.2, 5.0], better` (or `at K=2`)."""
    lines, axis = [], axis_of(comparisons)
    for row in verdicts(comparisons).itertuples():
        over = f" over {row.seeds} seeds, p = {row.p_value:.3f}" if row.seed == "all" else ""
        column = "mAP" if row.decided_by == "mAP" else "rank1"
        estimate, low, high = (getattr(row, name) for name in (f"delta_{column}", f"{column}_low", f"{column}_high"))
        lines.append(f"{row.generator} vs {row.baseline} at {AXES[axis][0]}={getattr(row, axis):g}: "
                     f"{estimate:+.1f} {row.decided_by} "
                     f"[{low:.1f}, {high:.1f}]{over}, {row.verdict}")
    return lines


def to_markdown(comparisons: pd.DataFrame) -> str:
    axis = axis_of(comparisons)
    header = (f"| generator | vs | {AXES[axis][0]} | seed | queries | Δ mAP [95% CI] | Δ rank-1 [95% CI] | method | "
              "verdict |\n|---|---|---|---|---|---|---|---|---|\n")
    return header + "".join(
        f"| {r.generator} | {r.baseline} | {getattr(r, axis):g} | {r.seed} | {r.queries} | {r.delta_mAP:+.2f} "
        f"[{r.mAP_low:+.2f}, {r.mAP_high:+.2f}] | {r.delta_rank1:+.2f} [{r.rank1_low:+.2f}, {r.rank1_high:+.2f}] | "
        f"{r.method}{'' if np.isnan(r.p_value) else f', p = {r.p_value:.3f}'} | {r.verdict} |\n"
        for r in comparisons.itertuples())


def write_comparisons(comparisons: pd.DataFrame, out: str | Path, budget: str) -> dict[str, str]:
    """`comparisons.csv` and `comparisons.md` (with the verdicts) in `out`, `factor_comparisons.*` for a factor
    table's; returns their paths."""
    out = Path(out)
    stem = "comparisons" if axis_of(comparisons) == "portion" else "factor_comparisons"
    paths = {"comparisons_csv": out / f"{stem}.csv", "comparisons": out / f"{stem}.md"}
    with atomic_file(paths["comparisons_csv"]) as tmp:
        comparisons.to_csv(tmp, index=False, float_format="%.4f", lineterminator="\n")
    atomic_write_text(paths["comparisons"], comparisons_document(comparisons, budget))
    return {key: str(path) for key, path in paths.items()}


def decided_by(comparisons: pd.DataFrame) -> str:
    return comparisons["decided_by"].iloc[0] if not comparisons.empty else "mAP"


def comparisons_document(comparisons: pd.DataFrame, budget: str) -> str:
    """The markdown report: what was compared, how, the table and the verdict lines."""
    verdict_text = "\n".join(f"- {line}" for line in verdict_lines(comparisons)) or "- (no comparable cells)"
    return (f"# Paired comparisons at the same {AXES[axis_of(comparisons)][0]} and seed (re-ID budget: {budget})\n\n"
            f"Δ = generator - control, in points of mAP and rank-1; {int(CONFIDENCE * 100)}% intervals. "
            f"\"better\" / \"worse\" only where the {decided_by(comparisons)} interval excludes 0; \"no difference "
            "shown\" means the data cannot tell the two apart, not that they are equal.\n\n"
            f"{to_markdown(comparisons)}\n## Verdicts\n\n{verdict_text}\n")
