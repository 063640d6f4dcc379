import pandas as pd
import pytest
from PIL import Image

from augreid.study.table_vi import results_frame, summarise, to_markdown, write_report

RUNS = [
    {"generator": "pona", "portion": 0.2, "seed": 0, "mAP": 50.0, "rank1": 70.0},
    {"generator": "pona", "portion": 0.2, "seed": 1, "mAP": 54.0, "rank1": 72.0},
    {"generator": "none", "portion": 0.2, "seed": 0, "mAP": 40.0, "rank1": 60.0},
    {"generator": "none", "portion": 0.2, "seed": 1, "mAP": 42.0, "rank1": 62.0},
    {"generator": "none", "portion": 1.0, "seed": 0, "mAP": 70.0, "rank1": 85.0},
    {"generator": "none", "portion": 1.0, "seed": 1, "mAP": 72.0, "rank1": 87.0},
]


def test_summary_shares_the_full_row_and_averages_seeds():
    summary = summarise(results_frame(RUNS), ["pona", "none"])
    assert list(summary["generator"]) == ["pona", "pona", "none", "none"]
    pona_02 = summary[(summary["generator"] == "pona") & (summary["portion"] == 0.2)].iloc[0]
    assert pona_02["mAP_mean"] == 52.0 and pona_02["mAP_std"] == pytest.approx(2 ** 0.5 * 2)  # sample std of 50, 54
    assert pona_02["seeds"] == 2
    full = summary[summary["portion"] == 1.0]
    assert list(full["mAP_mean"]) == [71.0, 71.0]  # one shared run set fills p = 1.0 for every generator


def test_markdown_table_has_a_row_per_generator_and_a_column_per_portion():
    markdown = to_markdown(summarise(results_frame(RUNS), ["pona", "none"]))
    assert markdown.splitlines() == [
        "| generator | p = 0.2 | p = 1 |",
        "|---|---|---|",
        "| pona | 52.0 ± 2.8 (r1 71.0) | 71.0 ± 1.4 (r1 86.0) |",
        "| none | 41.0 ± 1.4 (r1 61.0) | 71.0 ± 1.4 (r1 86.0) |",
    ]


def test_single_seed_cells_carry_no_spread(tmp_path):
    summary = summarise(results_frame(RUNS[::2]), ["pona", "none"])
    paths = write_report(summary, tmp_path)
    assert "| pona | 50.0 (r1 70.0) | 70.0 (r1 85.0) |" in open(paths["markdown"]).read()
    csv = pd.read_csv(paths["csv"])
    assert list(csv.columns) == ["generator", "portion", "seeds", "mAP_mean", "mAP_std", "rank1_mean", "rank1_std"]
    assert Image.open(paths["plot"]).format == "PNG"


def test_report_metric_rank1_leads_every_cell_and_the_title(tmp_path):
    summary = summarise(results_frame(RUNS), ["pona", "none"])
    assert to_markdown(summary, {("pona", 0.2): "▲n"}, metric="rank1").splitlines()[2:] == [
        "| pona | 71.0 ± 1.4 (mAP 52.0) ▲n | 86.0 ± 1.4 (mAP 71.0) |",
        "| none | 61.0 ± 1.4 (mAP 41.0) | 86.0 ± 1.4 (mAP 71.0) |",
    ]
    text = open(write_report(summary, tmp_path, metric="rank1")["markdown"]).read()
    assert text.startswith("# Table VI: re-ID rank-1 (%) by kept portion p\n\nCells: rank-1 (mAP in brackets); ")
    assert list(pd.read_csv(tmp_path / "table_vi.csv").columns)[3:] == ["mAP_mean", "mAP_std", "rank1_mean",
                                                                        "rank1_std"]  # both figures stay


def test_the_config_names_the_leading_figure(tmp_path):
    from augreid.config import load_config
    from augreid.core.errors import InputError

    assert load_config("configs/demo.yaml").report.metric == "map"
    (tmp_path / "r.yaml").write_text("report:\n  metric: rank1\n")
    assert load_config(tmp_path / "r.yaml").report.metric == "rank1"
    (tmp_path / "bad.yaml").write_text("report:\n  metric: rank5\n")
    with pytest.raises(InputError, match="bad.yaml:2:11: report.metric: Input should be 'map' or 'rank1', got 'rank5'"):
        load_config(tmp_path / "bad.yaml")


def test_cells_carry_their_interval_over_seeds_and_queries(tmp_path):
    """Each cell's half-width is its mean's interval against zero, over its seeds and queries; the shared p = 1.0
    interval stands in every row; one seed gives none."""
    import numpy as np

    from augreid.study.comparisons import cell_intervals
    from augreid.study.statistics import seeds_and_queries

    rng, runs = np.random.default_rng(0), []
    for run in RUNS:
        ap = rng.beta(2, 3, 50)
        path = tmp_path / f"{run['generator']}_{run['portion']}_{run['seed']}.csv"
        pd.DataFrame({"query": [f"q{i}.jpg" for i in range(50)], "ap": ap,
                      "first_match_rank": np.where(ap > 0.4, 1, 2)}).to_csv(path, index=False)
        runs.append({**run, "per_query": str(path), "ap": ap})
    intervals = cell_intervals(pd.DataFrame(runs))
    summary = summarise(results_frame(RUNS), ["pona", "none"], intervals)
    pona = np.stack([100 * r["ap"] for r in runs[:2]])
    expected = seeds_and_queries(pona, np.zeros_like(pona)).interval
    row = summary[(summary["generator"] == "pona") & (summary["portion"] == 0.2)].iloc[0]
    assert row["mAP_ci95"] == pytest.approx(expected.high - expected.estimate) and row["rank1_ci95"] > 0
    full = summary[summary["portion"] == 1.0]["mAP_ci95"]
    assert full.nunique() == 1 and full.iloc[0] > 0  # the one shared interval
    paths = write_report(summary, tmp_path / "report")
    assert "mAP_ci95" in pd.read_csv(paths["csv"]).columns
    one_seed = cell_intervals(pd.DataFrame(runs[::2]))
    assert one_seed["mAP_ci95"].isna().all()
