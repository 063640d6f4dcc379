"""Table VI of the PoNA paper: re-ID mAP by generator (rows) and kept portion p (columns); and its counterpart for
augmentation by a factor K (columns K = 2, 3, ...; `augreid/protocol/factor.py`), where `none` is the original set.

At p = 1.0 nothing is generated, so one shared run fills that column for every generator, as in the paper.
With several seeds a cell reads `mean ± std`; rank-1 stands beside mAP. `metric` "rank1" (`report.metric`) turns
the cells round, rank-1 first with mAP beside it, as in IMAGPose's table; the plot follows the leading figure.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from augreid.core.atomic import atomic_file, atomic_write_text  # noqa: E402

FULL = 1.0
# report.metric -> (the leading column, its name in tables, the other column, the other's short name in a cell)
LEADING = {"map": ("mAP", "mAP", "rank1", "r1"), "rank1": ("rank1", "rank-1", "mAP", "mAP")}
# the protocol's column -> (its symbol in tables, its name on a plot's axis, the files' stem, the plot's name)
AXES = {"portion": ("p", "kept portion p", "table_vi", "map_vs_portion"),
        "factor": ("K", "augmentation factor K", "factor_k", "map_vs_factor")}


def axis_of(frame: pd.DataFrame) -> str:
    """`portion` (Table VI) or `factor` (augmentation by K): which protocol a results or comparisons table holds."""
    return "factor" if "factor" in frame.columns else "portion"


def results_frame(results: Iterable[dict], axis: str = "portion") -> pd.DataFrame:
    """One row per re-ID run: generator, portion (or factor), seed, mAP, rank1 (percent)."""
    frame = pd.DataFrame(list(results), columns=["generator", axis, "seed", "mAP", "rank1"])
    return frame.astype({axis: float, "seed": int, "mAP": float, "rank1": float})


def expand_full(frame: pd.DataFrame, generators: list[str]) -> pd.DataFrame:
    """Rows per (generator, portion or factor): the shared p = 1.0 rows repeated for every generator, then only
    the given generators' rows."""
    axis = axis_of(frame)
    full = frame[frame[axis] == FULL] if axis == "portion" else frame.iloc[:0]
    partial = frame.drop(full.index)
    expanded = pd.concat([partial] + [full.assign(generator=g) for g in generators if not full.empty],
                         ignore_index=True)
    return expanded[expanded["generator"].isin(generators)]


def summarise(frame: pd.DataFrame, generators: list[str], intervals: pd.DataFrame | None = None) -> pd.DataFrame:
    """Long table: generator, portion (or factor), seeds, mAP mean / std, rank-1 mean / std; the p = 1.0 runs
    shared by all. `intervals` (`comparisons.cell_intervals`) adds each cell's 95% half-widths over seeds and
    queries, `mAP_ci95` and `rank1_ci95`."""
    axis = axis_of(frame)
    grouped = expand_full(frame, generators).groupby(["generator", axis])
    summary = grouped.agg(seeds=("seed", "nunique"), mAP_mean=("mAP", "mean"), mAP_std=("mAP", "std"),
                          rank1_mean=("rank1", "mean"), rank1_std=("rank1", "std")).reset_index()
    if intervals is not None:
        summary = summary.merge(expand_full(intervals, generators), on=["generator", axis], how="left")
    summary["generator"] = pd.Categorical(summary["generator"], categories=generators, ordered=True)
    return summary.sort_values(["generator", axis]).reset_index(drop=True).fillna({"mAP_std": 0.0, "rank1_std": 0.0})


def _cell(row: pd.Series, metric: str = "map") -> str:
    lead, _, other, short = LEADING[metric]
    spread = f" ± {row[f'{lead}_std']:.1f}" if row["seeds"] > 1 else ""
    return f"{row[f'{lead}_mean']:.1f}{spread} ({short} {row[f'{other}_mean']:.1f})"


def cells_note(metric: str = "map") -> str:
    layout = "mAP (r1 rank-1)" if metric == "map" else "rank-1 (mAP in brackets)"
    return f"Cells: {layout}; mean ± std over seeds."


def to_markdown(summary: pd.DataFrame, marks: dict[tuple[str, float], str] | None = None, metric: str = "map") -> str:
    """One row per generator, one column per portion (or factor), the `metric` leading; `marks` (from the paired
    comparisons) follow their cells."""
    marks, axis = marks or {}, axis_of(summary)
    portions = sorted(summary[axis].unique())
    header = "| generator | " + " | ".join(f"{AXES[axis][0]} = {p:g}" for p in portions) + " |"
    lines = [header, "|---|" + "---|" * len(portions)]
    for generator, rows in summary.groupby("generator", observed=True, sort=True):
        cells = {row[axis]: " ".join(filter(None, (_cell(row, metric), marks.get((generator, row[axis])))))
                 for _, row in rows.iterrows()}
        lines.append(f"| {generator} | " + " | ".join(cells.get(p, "") for p in portions) + " |")
    return "\n".join(lines) + "\n"


def write_report(summary: pd.DataFrame, out: str | Path, title: str | None = None,
                 marks: dict[tuple[str, float], str] | None = None, notes: str = "", metric: str = "map") -> dict:
    """`table_vi.md` (with `notes` under the table: the marks' legend, the budget), `table_vi.csv` and
    `map_vs_portion.png` (the leading figure against p) in `out`; for a factor table `factor_k.*` and
    `map_vs_factor.png`. Returns their paths."""
    lead, name, _, _ = LEADING[metric]
    axis = axis_of(summary)
    _, label, stem, plot = AXES[axis]
    title = title or (f"Table VI: re-ID {name} (%) by kept portion p" if axis == "portion"
                      else f"Re-ID {name} (%) by augmentation factor K")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out / f"{stem}.md", "csv": out / f"{stem}.csv", "plot": out / f"{plot}.png"}
    atomic_write_text(paths["markdown"], f"# {title}\n\n{cells_note(metric)}\n\n"
                      + to_markdown(summary, marks, metric) + (f"\n{notes}\n" if notes else ""))
    with atomic_file(paths["csv"]) as tmp:
        summary.to_csv(tmp, index=False, float_format="%.3f", lineterminator="\n")
    figure, axes = plt.subplots(figsize=(6, 4))
    bars = f"{lead}_ci95" if f"{lead}_ci95" in summary else f"{lead}_std"  # the interval where there is one
    for generator, rows in summary.groupby("generator", observed=True, sort=True):
        axes.errorbar(rows[axis], rows[f"{lead}_mean"], yerr=rows[bars], marker="o", capsize=3, label=generator)
    caption = "bars: 95% interval over seeds and queries" if bars.endswith("ci95") else "bars: sd over seeds"
    axes.set(xlabel=f"{label} ({caption})", ylabel=f"{name} (%)", title=title, xticks=sorted(summary[axis].unique()))
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    with atomic_file(paths["plot"]) as tmp:
        figure.savefig(tmp, format="png", dpi=120)
    plt.close(figure)
    return {key: str(path) for key, path in paths.items()}
