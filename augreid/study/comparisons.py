"""Paired comparisons between Table VI cells: does a generator's set beat the controls at the same p?

Every generator's cell is compared with `none` (the reduced set alone: are the extra images worth anything?) and
with `duplicate` (the condition images copied into the missing slots: the same count and, with any budget, the
same steps, without pose transfer: is it the *new poses* that help?), and `duplicate` with `none`. A comparison
pairs the two cells' runs by seed (the same seed keeps the same images and starts from the same weights) and by
query; its 95% interval covers both the training's run-to-run noise and the choice of queries
(`augreid/study/statistics.py`). A verdict is "better" or "worse" only when the interval of the leading figure
(`report.metric`: mAP, or rank-1) excludes 0; with one seed there is no verdict, since one run cannot show how
far another seed would move it.

Augmentation by a factor K (`augreid/protocol/factor.py`) is compared the same way at the same K: against `none`, the
original set (one run per seed, the same at every K), and `duplicate`, K-1 copies of each image.

A filtered row (`pona+id0.5`: `augreid/protocol/identity_filter.py`) is also compared with its unfiltered generator.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from augreid.core.atomic import atomic_file, atomic_write_text
from augreid.protocol.identity_filter import split_filtered
from augreid.study.statistics import CONFIDENCE, SeedsAndQueries, seeds_and_queries
from augreid.study.table_vi import AXES, FULL, LEADING, axis_of

BASELINES = ("none", "duplicate")
MARKS = {("none", "better"): "▲n", ("none", "worse"): "▼n", ("duplicate", "better"): "▲d",
         ("duplicate", "worse"): "▼d", ("unfiltered", "better"): "▲u", ("unfiltered", "worse"): "▼u"}
METHOD_TEXT = ("Method (augreid/study/statistics.py): the difference has two sources of error, the training's "
               "run-to-run noise (the per-seed differences' standard error, with seeds - 1 degrees of freedom) and "
               "the choice of queries (the seed-averaged per-query differences' standard error); each is scaled by "
               "its own t quantile and the two are added in quadrature. `seed sd` is the sd of the per-seed "
               "differences, `query se` the standard error from the queries alone. A query-only interval (this "
               "tool's before 2026-12) called identical configurations different in 4 of 6 pairs on the demo.")


def columns(axis: str = "portion") -> list[str]:
    return ["generator", "baseline", axis, "seeds", "queries", "delta_mAP", "mAP_low", "mAP_high", "per_seed_mAP",
            "seed_sd_mAP", "query_se_mAP", "delta_rank1", "rank1_low", "rank1_high", "per_seed_rank1",
            "verdict", "decided_by"]


CONTROLS_MEANING = {"portion": ("the kept images alone", "condition images copied into the missing slots"),
                    "factor": ("the original set", "K-1 copies of each image")}


def legend(metric: str = "map", axis: str = "portion", filtered: bool = False) -> str:
    """What the marks of Table VI (or of the factor table) mean; `filtered`: the table has filtered rows."""
    name, symbol, (none, duplicate) = LEADING[metric][1], AXES[axis][0], CONTROLS_MEANING[axis]
    against_unfiltered = ", ▲u / ▼u: a filtered row above / below its unfiltered generator" if filtered else ""
    return (f"▲n / ▼n: {name} above / below `none` ({none}) at the same {symbol}, ▲d / ▼d: above / below "
            f"`duplicate` ({duplicate}){against_unfiltered}; marked only where the 95% interval of the difference "
            "excludes 0. The interval covers the training's run-to-run noise (the spread of the per-seed differences) "
            "and the choice of queries; with one seed there is no verdict.")


def comparison_pairs(generators: list[str]) -> list[tuple[str, str]]:
    """(generator, baseline) pairs to compare: each generator with each control present, `duplicate` with
    `none`, a filtered row also with its unfiltered generator when present."""
    return [(g, b) for g in generators for b in (*BASELINES, unfiltered(g)) if b in generators and g not in (b, "none")]


def unfiltered(generator: str) -> str:
    """A filtered row's generator (`pona+id0.5` -> `pona`); a row that is not filtered is its own."""
    return split_filtered(generator)[0]


def score_matrices(tables: list[pd.DataFrame]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The runs' queries (each run must rank the same ones) and their (runs x queries) AP and top-1 hits, in points,
    from per_query.csv tables."""
    queries = sorted(tables[0]["query"])
    for table in tables[1:]:
        if len(table) != len(tables[0]) or sorted(table["query"]) != queries:
            raise ValueError(f"the runs rank different queries ({len(tables[0])} and {len(table)}, "
                             f"{len(set(queries) & set(table['query']))} shared)")
    aligned = [table.set_index("query").loc[queries] for table in tables]
    ap = np.stack([100 * table["ap"].to_numpy(dtype=float) for table in aligned])
    top1 = np.stack([100.0 * (table["first_match_rank"].to_numpy() == 1) for table in aligned])
    return queries, ap, top1


def compare_arms(arm: list[pd.DataFrame], baseline: list[pd.DataFrame],
                 confidence: float = CONFIDENCE) -> tuple[SeedsAndQueries, SeedsAndQueries, int]:
    """Δ mAP and Δ rank-1 (points, arm - baseline) of runs paired by position (seed), with their intervals over
    seeds and queries, and the number of queries."""
    if len(arm) != len(baseline) or not arm:
        raise ValueError(f"arms of paired runs are needed, got {len(arm)} and {len(baseline)} runs")
    queries, ap, top1 = score_matrices(arm + baseline)
    seeds = len(arm)
    return (seeds_and_queries(ap[:seeds], ap[seeds:], confidence),
            seeds_and_queries(top1[:seeds], top1[seeds:], confidence), len(queries))


def cell_intervals(runs: pd.DataFrame, confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Each cell's 95% half-widths of mAP and rank-1 over its seeds and queries (the interval of its mean against
    zero; NaN with one seed), from `runs` with generator, portion (or factor), seed and per_query."""
    axis, rows = axis_of(runs), []
    for (generator, value), cell in runs.groupby(["generator", axis], sort=False):
        _, ap, top1 = score_matrices([pd.read_csv(path) for path in cell.sort_values("seed")["per_query"]])
        halves = [seeds_and_queries(m, np.zeros_like(m), confidence).interval for m in (ap, top1)]
        rows.append({"generator": generator, axis: value, "mAP_ci95": halves[0].high - halves[0].estimate,
                     "rank1_ci95": halves[1].high - halves[1].estimate})
    return pd.DataFrame(rows, columns=["generator", axis, "mAP_ci95", "rank1_ci95"])


def _per_seed_text(result: SeedsAndQueries) -> str:
    return " ".join(f"{d:+.2f}" for d in result.per_seed)


def _row(generator: str, baseline: str, axis: str, value: float, seeds: int, queries: int, mean_ap: SeedsAndQueries,
         rank1: SeedsAndQueries, metric: str) -> dict:
    deciding = mean_ap if metric == "map" else rank1
    return dict(generator=generator, baseline=baseline, **{axis: value}, seeds=seeds, queries=queries,
                delta_mAP=mean_ap.interval.estimate, mAP_low=mean_ap.interval.low, mAP_high=mean_ap.interval.high,
                per_seed_mAP=_per_seed_text(mean_ap), seed_sd_mAP=mean_ap.seed_sd, query_se_mAP=mean_ap.query_se,
                delta_rank1=rank1.interval.estimate, rank1_low=rank1.interval.low,
                rank1_high=rank1.interval.high, per_seed_rank1=_per_seed_text(rank1),
                verdict=deciding.interval.verdict, decided_by=LEADING[metric][1])


def compare_cells(runs: pd.DataFrame, generators: list[str], metric: str = "map") -> pd.DataFrame:
    """`runs`: generator, portion (or factor), seed and per_query (the run's per_query.csv). One row per compared
    cell, over the seeds both cells ran; the verdict by the `metric`'s interval (mAP or rank-1)."""
    rows, axis, tables = [], axis_of(runs), {}

    def read(path: str) -> pd.DataFrame:  # a control's runs stand in several comparisons: each file is read once
        if path not in tables:
            tables[path] = pd.read_csv(path)
        return tables[path]

    partial = runs[runs[axis] != FULL] if axis == "portion" else runs
    for generator, baseline in comparison_pairs(generators):
        for value in sorted(partial.loc[partial["generator"] == generator, axis].unique()):
            arm = partial[(partial["generator"] == generator) & (partial[axis] == value)].set_index("seed")
            base = partial[(partial["generator"] == baseline) & (partial[axis] == value)].set_index("seed")
            seeds = sorted(set(arm.index) & set(base.index))
            if not seeds:
                continue
            mean_ap, rank1, queries = compare_arms([read(arm.loc[s, "per_query"]) for s in seeds],
                                                   [read(base.loc[s, "per_query"]) for s in seeds])
            rows.append(_row(generator, baseline, axis, value, len(seeds), queries, mean_ap, rank1, metric))
    return pd.DataFrame(rows, columns=columns(axis))


def cell_marks(comparisons: pd.DataFrame) -> dict[tuple[str, float], str]:
    """Table VI marks per (generator, portion or factor), e.g. '▲n ▼d'."""
    marks: dict[tuple[str, float], list[str]] = {}
    axis = axis_of(comparisons)
    for row in comparisons.itertuples():
        mark = MARKS.get((row.baseline if row.baseline in BASELINES else "unfiltered", row.verdict))
        if mark:
            marks.setdefault((row.generator, getattr(row, axis)), []).append(mark)
    return {cell: " ".join(sorted(found, key=list(MARKS.values()).index)) for cell, found in marks.items()}


def _bounds(low: float, high: float) -> str:
    return "[no interval]" if np.isnan(low) else f"[{low:+.1f}, {high:+.1f}]"


def verdict_lines(comparisons: pd.DataFrame) -> list[str]:
    """One line per generator, baseline and portion in the figure that decided it, e.g.
    `pona vs duplicate at p=0.2: +3.1 mAP [+1.2, +5.0] over 3 seeds (sd 1.4), better` (or `at K=2`)."""
    lines, axis = [], axis_of(comparisons)
    for row in comparisons.itertuples():
        column = "mAP" if row.decided_by == "mAP" else "rank1"
        estimate, low, high = (getattr(row, name) for name in (f"delta_{column}", f"{column}_low", f"{column}_high"))
        spread = f" (per seed {getattr(row, f'per_seed_{column}')})" if row.seeds > 1 else ""
        lines.append(f"{row.generator} vs {row.baseline} at {AXES[axis][0]}={getattr(row, axis):g}: "
                     f"{estimate:+.1f} {row.decided_by} {_bounds(low, high)} over {row.seeds} "
                     f"seed{'s' if row.seeds > 1 else ''}{spread}, {row.verdict}")
    return lines


def to_markdown(comparisons: pd.DataFrame) -> str:
    axis = axis_of(comparisons)
    header = (f"| generator | vs | {AXES[axis][0]} | seeds | queries | Δ mAP [95% CI] | Δ mAP per seed | seed sd | "
              "query se | Δ rank-1 [95% CI] | verdict |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
    return header + "".join(
        f"| {r.generator} | {r.baseline} | {getattr(r, axis):g} | {r.seeds} | {r.queries} | {r.delta_mAP:+.2f} "
        f"{_bounds(r.mAP_low, r.mAP_high)} | {r.per_seed_mAP} | {r.seed_sd_mAP:.2f} | {r.query_se_mAP:.2f} | "
        f"{r.delta_rank1:+.2f} {_bounds(r.rank1_low, r.rank1_high)} | {r.verdict} |\n"
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
    return (f"# Paired comparisons at the same {AXES[axis_of(comparisons)][0]}, over seeds and queries "
            f"(re-ID budget: {budget})\n\n"
            f"Δ = generator - control, in points of mAP and rank-1, averaged over the seeds both cells ran (paired by "
            f"seed and query); {int(CONFIDENCE * 100)}% intervals. {METHOD_TEXT}\n\n"
            f"\"better\" / \"worse\" only where the {decided_by(comparisons)} interval excludes 0; \"no difference "
            "shown\" means the data cannot tell the two apart, not that they are equal; \"no verdict\" means one seed, "
            "which cannot show the training's noise.\n\n"
            f"{to_markdown(comparisons)}\n## Verdicts\n\n{verdict_text}\n")
