import json
import os
import subprocess
import sys

import numpy as np
import pytest

from augreid.benchmarks.generators import print_table
from tests.tools.forked_cli import run_module


def test_generators_bench_reports_every_figure(capsys, tmp_path, small_synthetic, flip_plugin):
    from test_train_generator import TINY

    from augreid.training.trainer import train_generator

    train_generator("pona", small_synthetic, TINY, tmp_path / "run", stop_after=1, progress=False)
    checkpoint = tmp_path / "run" / "generator.pt"
    result = subprocess.run([sys.executable, "-m", "augreid.bench", "generators", "--device", "cpu", "--batch", "2",
                             "--min-seconds", "0", "--json", "--checkpoint", str(checkpoint), "--plugin", "flip"],
                            capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(flip_plugin)})
    report = json.loads(result.stdout)
    rows = {row["model"]: row for row in report["rows"]}
    tiny = rows.pop(f"pona:{checkpoint}")
    plugin = rows.pop("plugin flip")  # timed end to end; its size is its own business
    assert plugin["parameters"] is None and plugin["images_per_second_batch_2"] > 0
    assert tiny["parameters"] < 1_000_000 and tiny["images_per_second_batch_2"] > 0
    assert [rows[m]["parameters"] for m in ("PoNA-3", "PoNA-2", "PATN-9", "APS", "GFLA", "SAN")] == [
        34_330_444, 23_300_233, 41_365_763, 38_975_939, 12_926_471, 22_003_971]
    # each PoNA block adds the same work: 3 blocks minus 2 blocks is one block's worth, more than the rest
    block = rows["PoNA-3"]["gflops_per_image"] - rows["PoNA-2"]["gflops_per_image"]
    assert 8 < block < rows["PoNA-2"]["gflops_per_image"] / 2 + 8
    assert all(row[f"images_per_second_batch_{b}"] > 0 for row in rows.values() for b in (1, 2))
    assert report["pona3_over_patn9"]["batch_2"] == pytest.approx(
        rows["PoNA-3"]["images_per_second_batch_2"] / rows["PATN-9"]["images_per_second_batch_2"], abs=1e-3)
    assert report["paper_ratio"] == 1.080
    print_table(report)
    table = capsys.readouterr().out
    assert "PoNA-3 / PATN-9 throughput:" in table and "34,330,444" in table
    assert any(line.startswith("plugin flip") and " - " in line for line in table.splitlines())


def test_cuda_without_a_gpu_is_a_clear_error():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    result = run_module("augreid.bench", "generators", "--device", "cuda")
    assert result.returncode == 2 and result.stderr.strip() == "error: --device cuda: no CUDA device is available"


def test_reid_bench_times_layouts_threads_and_runs_side_by_side(capsys):
    from augreid.benchmarks.reid import print_reid_table

    result = run_module("augreid.bench", "reid", "--device", "cpu", "--batch", "4", "--height", "32", "--width", "16",
                        "--concurrent", "2", "--min-seconds", "0", "--json", check=True)
    report = json.loads(result.stdout)
    layouts = [(row["runs"], row["threads"], row["channels_last"]) for row in report["rows"]]
    assert layouts[:2] == [(1, 1, False), (1, 1, True)] and layouts[-1] == (2, 1, True)
    assert all(row["images_per_second"] > 0 for row in report["rows"])
    print_reid_table(report)
    assert "osnet_x0_25 at 32x16, batch 4" in capsys.readouterr().out
    bad = run_module("augreid.bench", "reid", "--model", "vgg_nope")
    assert bad.returncode == 2 and bad.stderr.strip() == "error: --model: torchreid has no model 'vgg_nope'"


def test_annotate_bench_times_the_estimator(small_synthetic):
    result = run_module("augreid.bench", "annotate", "--data-root", str(small_synthetic), "--images", "3",
                        "--min-seconds", "0.2", check=True)
    figures = json.loads(result.stdout)
    assert figures["images"] == 3 and figures["estimator"].startswith("BlazePose")
    assert set(figures["images_per_second"]) == {"keypoints + mask", "+ part maps"}
    assert all(rate > 0 for rate in figures["images_per_second"].values())


def test_aa_mode_runs_a_pool_then_judges_it_against_itself(tmp_path, small_synthetic):
    """A pool of 6 tiny runs, 3 seeds against 3 others: the report's figures are those of the runs' own files,
    recomputed here; a second call trains nothing."""
    import pandas as pd

    from augreid.study.calibration import arm_draws
    from augreid.study.comparisons import compare_arms

    config = tmp_path / "aa.yaml"
    config.write_text("reid: {model: osnet_x0_25, pretrained: false, height: 32, width: 16, batch_size: 16, "
                      "epochs: 1, optimizer: adam, lr: 0.003, workers: 0, preload: true}\n")
    command = ["aa", "--data-root", str(small_synthetic), "--config", str(config), "--out", str(tmp_path / "aa"),
               "--runs", "6", "--first-seed", "10", "--seeds-per-arm", "3", "--comparisons", "4", "--json"]
    first = run_module("augreid.bench", *command, check=True)
    report = json.loads(first.stdout)
    tables = [pd.read_csv(tmp_path / "aa" / f"seed_{s}" / "per_query.csv") for s in range(10, 16)]
    run_map = [round(100 * t["ap"].mean(), 2) for t in tables]
    assert report["run_mAP"] == run_map and report["run_sd"] == pytest.approx(np.std(run_map, ddof=1), abs=0.01)
    assert report["comparisons"] == 4 and report["disjoint_comparisons"] == 1
    assert 0 <= report["false_positives"] <= 4 and set(report["detectable"]) == {"2", "3", "5", "10", "20"}
    assert report["detectable"]["2"] > report["detectable"]["3"] > report["detectable"]["20"] > 0
    positives = [compare_arms([tables[i] for i in arm], [tables[i] for i in other])[0].interval.verdict != "no difference "
                 "shown" for arm, other in arm_draws(6, 3, 4)]
    assert (report["disjoint_false_positives"], report["false_positives"]) == (positives[0], sum(positives))
    assert json.loads((tmp_path / "aa" / "aa.json").read_text())["false_positives"] == report["false_positives"]
    mtimes = [(tmp_path / "aa" / f"seed_{s}" / "metrics.json").stat().st_mtime_ns for s in range(10, 16)]
    second = run_module("augreid.bench", *command, check=True)
    assert "6 already there" in second.stderr
    assert mtimes == [(tmp_path / "aa" / f"seed_{s}" / "metrics.json").stat().st_mtime_ns for s in range(10, 16)]
    assert compare_arms(tables[:3], tables[3:])[2] == report["queries"]


def test_aa_plan_names_the_fewest_seeds_with_80_percent_power():
    from augreid.study.calibration import seeds_needed
    from augreid.study.statistics import detectable_difference

    result = run_module("augreid.bench", "aa", "--run-sd", "0.5", "--query-se", "0.1", "--differences", "0.5", "1.0",
                        "1.5", "--json", check=True)
    rows = json.loads(result.stdout)
    needed = [row["seeds_per_arm"] for row in rows]
    assert needed[0] > needed[1] > needed[2] >= 2
    for difference, seeds in zip((1.0, 1.5), needed[1:]):
        assert detectable_difference(np.sqrt(2) * 0.5, seeds, 0.1, 3368) <= difference
        assert seeds == 2 or detectable_difference(np.sqrt(2) * 0.5, seeds - 1, 0.1, 3368) > difference
    assert seeds_needed(0.5, 0.5, 0.25, 3368) is None  # below the queries' own floor: no number of seeds will do
    refused = run_module("augreid.bench", "aa", "--run-sd", "0.5")
    assert refused.returncode == 2 and refused.stderr.startswith("error: --run-sd plans a study")


def test_bench_gpu_dry_runs_every_measurement_on_the_cpu():
    """The GPU command's code path on small shapes: every rate measured and positive, no projection printed."""
    result = run_module("augreid.bench", "gpu", "--dry", "--json", timeout=600)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["dry"] is True and figures["device"].startswith("cpu")
    assert set(figures["rates"]) == {"training_pona", "training_patn", "generation_pona", "generation_patn",
                                     "reid_ide", "reid_bot", "loader_per_worker"}
    assert all(rate > 0 for rate in figures["rates"].values())
    assert figures["batches"]["reid"] == {"ide": 4, "bot": 4}
    refused = run_module("augreid.bench", "gpu", timeout=120)
    assert refused.returncode == 2 and refused.stderr.startswith("error: gpu: no CUDA device is available")


def test_bench_scale_runs_every_step_at_every_size(tmp_path):
    from augreid.benchmarks.scale import MARKET, STEPS

    fractions = [0.005, 0.01]
    result = run_module("augreid.bench", "scale", "--out", str(tmp_path), "--json", "--fractions", *map(str, fractions),
                        check=True)
    report = json.loads(result.stdout)
    assert [row["step"] for row in report["steps"]] == [step.name for step in STEPS]
    for row in report["steps"]:
        assert len(row["seconds"]) == len(row["peak_mb"]) == len(row["n"]) == len(fractions)
        assert all(s > 0 for s in row["seconds"]) and all(mb > 0 for mb in row["peak_mb"])
        assert row["n"] == sorted(set(row["n"])) and np.isfinite(row["exponent"])
    for size, fraction in zip(report["sizes"], fractions):
        scaled = {name: round(count * fraction) for name, count in MARKET.items()}
        assert size["counts"] == {"train": scaled["train_images"], "query": scaled["query_images"],
                                  "gallery": scaled["gallery_identity_images"] + scaled["junk_images"]
                                  + scaled["distractor_images"]}
        assert size["synthetic"]["train_identities"] == round(751 * fraction)


def test_bench_scale_refuses_fractions_that_do_not_increase(tmp_path):
    result = run_module("augreid.bench", "scale", "--out", str(tmp_path), "--fractions", "0.5", "0.25")
    assert result.returncode == 2 and result.stderr.strip().splitlines() == [
        "error: --fractions 0.5 0.25: two or more, strictly increasing, in (0, 1]"]


def test_busy_bench_reports_the_share_kept_and_the_fair_one(capsys):
    from augreid.benchmarks.busy import print_busy, proportional_share
    from augreid.core.threads import usable_cpus

    env = {key: value for key, value in os.environ.items() if key not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    result = run_module("augreid.bench", "busy", "--batch", "4", "--height", "32", "--width", "16", "--min-seconds", "0",
                        "--load", "1", "--json", check=True, env={**env, "AUGREID_THREADS": "2"})
    report = json.loads(result.stdout)
    assert (report["threads"], report["load"], report["cpus"]) == (2, 1, usable_cpus())
    assert report["omp_wait_policy"] == "augreid" and report["wait_policy_set"] is None
    assert report["spin_count_set"] is None
    assert report["quiet_images_per_second"] > 0 and report["loaded_images_per_second"] > 0
    assert report["share"] == pytest.approx(report["loaded_images_per_second"] / report["quiet_images_per_second"],
                                            rel=1e-2, abs=1e-3)  # of the figures as rounded
    assert report["proportional_share"] == pytest.approx(proportional_share(2, 1, usable_cpus()), abs=1e-3)
    assert report["keeps_proportional_share"] == (report["share"] >= report["proportional_share"])
    assert report["reference_share"] > 0
    assert report["keeps_reference_share"] == (report["share"] >= report["reference_share"])
    assert report["cpu_share"] == pytest.approx(report["loaded_cpus"] / report["quiet_cpus"], rel=1e-2, abs=2e-3)
    assert 0 < report["loaded_cpus"] <= 2.1 and 0 < report["quiet_cpus"] <= 2.1  # two threads: two CPUs at most
    print_busy(report)
    shown = capsys.readouterr().out
    assert f"share kept: {report['share']:.3f}; proportional share: {report['proportional_share']:.3f}" in shown
    assert "beside 1 busy process:" in shown and "OMP_WAIT_POLICY=(unset) (--omp-wait-policy augreid)" in shown
    bad = run_module("augreid.bench", "busy", "--load", "-1")
    assert bad.returncode == 2 and bad.stderr.startswith("error: --load -1 and --min-seconds 5 must be at least 0")


@pytest.mark.parametrize("threads, load, cpus, expected", [
    (2, 4, 2, 1 / 3),  # the case: 2 threads among 6 on 2 cores get 2/3 of a CPU, of 2
    (1, 4, 2, 2 / 5),
    (4, 4, 2, 1 / 2),  # more threads than cores: quiet, they share the 2 cores already
    (1, 1, 4, 1.0),  # fewer runnable threads than cores: nothing to share
    (2, 0, 2, 1.0),
])
def test_proportional_share_is_the_runs_fair_part_of_its_quiet_cpus(threads, load, cpus, expected):
    from augreid.benchmarks.busy import proportional_share

    assert proportional_share(threads, load, cpus) == pytest.approx(expected)


def test_busy_bench_times_the_wait_policy_asked_for():
    from augreid.benchmarks.busy import run_environment

    user = {"PATH": "/bin", "OMP_WAIT_POLICY": "ACTIVE", "GOMP_SPINCOUNT": "1000"}
    assert run_environment("augreid", user) == user  # a user's own setting is kept
    assert run_environment("unset", user) == {"PATH": "/bin"}  # libgomp's defaults
    assert run_environment("passive", user) == {"PATH": "/bin", "OMP_WAIT_POLICY": "PASSIVE"}
    assert run_environment("active", {})["OMP_WAIT_POLICY"] == "ACTIVE"


def test_the_background_load_is_stopped_however_the_bench_ends():
    from augreid.benchmarks.busy import background_load

    with pytest.raises(KeyboardInterrupt):
        with background_load(2) as processes:
            assert len(processes) == 2 and all(process.poll() is None for process in processes)
            raise KeyboardInterrupt
    assert all(process.poll() is not None for process in processes)
