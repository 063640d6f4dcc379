import json
import os
import subprocess
import sys

import pytest

from augreid.bench import print_table


def test_generators_bench_reports_every_figure(capsys, tmp_path, small_synthetic, flip_plugin):
    from augreid.train_generator import train_generator
    from test_train_generator import TINY

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
    result = subprocess.run([sys.executable, "-m", "augreid.bench", "generators", "--device", "cuda"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.strip() == "error: --device cuda: no CUDA device is available"


def test_reid_bench_times_layouts_threads_and_runs_side_by_side(capsys):
    from augreid.bench import print_reid_table

    result = subprocess.run([sys.executable, "-m", "augreid.bench", "reid", "--device", "cpu", "--batch", "4",
                             "--height", "32", "--width", "16", "--concurrent", "2", "--min-seconds", "0", "--json"],
                            capture_output=True, text=True, check=True)
    report = json.loads(result.stdout)
    layouts = [(row["runs"], row["threads"], row["channels_last"]) for row in report["rows"]]
    assert layouts[:2] == [(1, 1, False), (1, 1, True)] and layouts[-1] == (2, 1, True)
    assert all(row["images_per_second"] > 0 for row in report["rows"])
    print_reid_table(report)
    assert "osnet_x0_25 at 32x16, batch 4" in capsys.readouterr().out
    bad = subprocess.run([sys.executable, "-m", "augreid.bench", "reid", "--model", "vgg_nope"], capture_output=True,
                         text=True)
    assert bad.returncode == 2 and bad.stderr.strip() == "error: --model: torchreid has no model 'vgg_nope'"


def test_annotate_bench_times_the_estimator(small_synthetic):
    result = subprocess.run([sys.executable, "-m", "augreid.bench", "annotate", "--data-root", str(small_synthetic),
                             "--images", "3", "--min-seconds", "0.2"], capture_output=True, text=True, check=True)
    figures = json.loads(result.stdout)
    assert figures["images"] == 3 and figures["estimator"].startswith("BlazePose")
    assert set(figures["images_per_second"]) == {"keypoints + mask", "+ part maps"}
    assert all(rate > 0 for rate in figures["images_per_second"].values())
