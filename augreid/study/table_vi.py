"""Table VI of the PoNA paper: re-ID mAP by generator (rows) and kept portion p (columns).

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

from augreid.atomic import atomic_file, atomic_write_text  # noqa: E402

FULL = 1.0
# report.metric -> (the leading column, its name in tables, the other column, the other's short name in a cell)
LEADING = {"map": ("mAP", "mAP", "rank1", "r1"), "rank1": ("rank1", "rank-1", "mAP", "mAP")}


def results_frame(results: Iterable[dict]) -> pd.DataFrame:
    """One row per re-ID run: generator, portion, seed, mAP, rank1 (percent)."""
    frame = pd.DataFrame(list(results), columns=["generator", "portion", "seed", "mAP", "rank1"])
    return frame.astype({"portion": float, "seed": int, "mAP": float, "rank1": float})


def summarise(frame: pd.DataFrame, generators: list[str]) -> pd.DataFrame:
    """Long table: generator, portion, seeds, mAP mean / std, rank-1 mean / std; the p = 1.0 runs shared by all."""
    full = frame[frame["portion"] == FULL]
    partial = frame[frame["portion"] != FULL]
    expanded = pd.concat([partial] + [full.assign(generator=g) for g in generators if not full.empty],
                         ignore_index=True)
    expanded = expanded[expanded["generator"].isin(generators)]
    grouped = expanded.groupby(["generator", "portion"])
    summary = grouped.agg(seeds=("seed", "nunique"), mAP_mean=("mAP", "mean"), mAP_std=("mAP", "std"),
                          rank1_mean=("rank1", "mean"), rank1_std=("rank1", "std")).reset_index()
    summary["generator"] = pd.Categorical(summary["generator"], categories=generators, ordered=True)
    return summary.sort_values(["generator", "portion"]).reset_index(drop=True).fillna({"mAP_std": 0.0,
                                                                                           "rank1_std": 0.0})


def _cell(row: pd.Series, metric: str = "map") -> str:
    lead, _, other, short = LEADING[metric]
    spread = f" ± {row[f'{lead}_std']:.1f}" if row["seeds"] > 1 else ""
    return f"{row[f'{lead}_mean']:.1f}{spread} ({short} {row[f'{other}_mean']:.1f})"


def cells_note(metric: str = "map") -> str:
    layout = "mAP (r1 rank-1)" if metric == "map" else "rank-1 (mAP in brackets)"
    return f"Cells: {layout}; mean ± std over seeds."


def to_markdown(summary: pd.DataFrame, marks: dict[tuple[str, float], str] | None = None, metric: str = "map") -> str:
    """One row per generator, one column per portion, the `metric` leading; `marks` (from the paired comparisons)
    follow their cells."""
    marks = marks or {}
    portions = sorted(summary["portion"].unique())
    header = "| generator | " + " | ".join(f"p = {p:g}" for p in portions) + " |"
    lines = [header, "|---|" + "---|" * len(portions)]
    for generator, rows in summary.groupby("generator", observed=True, sort=True):
        cells = {row["portion"]: " ".join(filter(None, (_cell(row, metric), marks.get((generator, row["portion"])))))
                 for _, row in rows.iterrows()}
        lines.append(f"| {generator} | " + " | ".join(cells.get(p, "") for p in portions) + " |")
    return "\n".join(lines) + "\n"


def write_report(summary: pd.DataFrame, out: str | Path, title: str | None = None,
                 marks: dict[tuple[str, float], str] | None = None, notes: str = "", metric: str = "map") -> dict:
    """`table_vi.md` (with `notes` under the table: the marks' legend, the budget), `table_vi.csv` and
    `map_vs_portion.png` (the leading figure against p) in `out`; returns their paths."""
    lead, name, _, _ = LEADING[metric]
    title = title or f"Table VI: re-ID {name} (%) by kept portion p"
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out / "table_vi.md", "csv": out / "table_vi.csv", "plot": out / "map_vs_portion.png"}
    atomic_write_text(paths["markdown"], f"# {title}\n\n{cells_note(metric)}\n\n"
                      + to_markdown(summary, marks, metric) + (f"\n{notes}\n" if notes else ""))
    with atomic_file(paths["csv"]) as tmp:
        summary.to_csv(tmp, index=False, float_format="%.3f", lineterminator="\n")
    figure, axes = plt.subplots(figsize=(6, 4))
    for generator, rows in summary.groupby("generator", observed=True, sort=True):
        axes.errorbar(rows["portion"], rows[f"{lead}_mean"], yerr=rows[f"{lead}_std"], marker="o", capsize=3,
                      label=generator)
    axes.set(xlabel="kept portion p", ylabel=f"{name} (%)", title=title)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    with atomic_file(paths["plot"]) as tmp:
        figure.savefig(tmp, format="png", dpi=120)
    plt.close(figure)
    return {key: str(path) for key, path in paths.items()}
