"""`python -m augreid.bench generators|reid|annotate|aa [--device cpu|cuda] [--json]`: speed of generators, re-ID
training and the pose estimator, and the A/A calibration of the study's verdicts.

`aa --data-root DIR --config FILE --out DIR`: `--runs` re-ID runs of the config's recipe on one data set, each
with its own seed (a finished run in `--out` is reused), then `--comparisons` A/A comparisons of
`--seeds-per-arm` runs against as many others, each judged with the study's interval
(`augreid/study/calibration.py`): the false-positive rate, the runs' spread (the recipe's seed noise) and the
smallest difference found with 80% power at 2 to 20 seeds. `--run-sd SD --queries N --query-se SE` instead
plans a study without runs: the seeds per arm that each of `--differences` needs.

`annotate --data-root DIR`: images/s of `augreid.annotate`'s BlazePose (keypoints and person mask, one image at a time,
as mediapipe runs it on the CPU) on the first `--images` training images of a folder, and with the part maps drawn
from them.

`reid`: training images/s of a torchreid model (the demo's OSNet-x0.25 at 64x32 by default) with contiguous and
channels_last tensors, at one thread and at all cores, and of `--concurrent` runs side by side (one thread each),
as the flow's `parallel` runs them.

`generators`:
For PoNA-3, PoNA-2, PATN-9, APS, GFLA and SAN (the published Market-1501 shapes, ngf 64; SAN's from its text) at
128x64, and any `--checkpoint` given: parameters, GFLOPs per image (counted by torch's FlopCounterMode: 2 FLOPs per
multiply-add) and generated images/s at batch 1 and a large batch, in eval mode, on the maps of real-looking poses, as
`augreid.generate` runs them (bf16 autocast and channels_last on a GPU), plus the PoNA-3 / PATN-9 throughput
ratio beside the paper's (Table II: 105.18 / 97.37 fps = 1.08, DeepFashion 256x176 on a Titan Xp). `--plugin
NAME[=CHECKPOINT]` also times an installed plugin's generator (`generators/plugins.py`) end to end, uint8 images
and keypoints in, images out (its parameters and FLOPs are its own business: not counted).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.flop_counter import FlopCounterMode

from augreid.cli import ArgumentParser, seed_number
from augreid.config import GeneratorArchitecture, SyntheticConfig
from augreid.device import mixed_precision
from augreid.errors import InputError, exit_on_input_error
from augreid.generators import build_generator, conditioning_maps
from augreid.generators.checkpoint import load_generator
from augreid.generators.layers import parameter_count
from augreid.generators.plugins import Transfer, load_plugin
from augreid.generators.source import parse_generator
from augreid.pose import IMAGE_SIZE
from augreid.synthetic.dataset import plan_dataset

MODELS = (("PoNA-3", "pona", 3), ("PoNA-2", "pona", 2), ("PATN-9", "patn", 9), ("APS", "aps", 4), ("GFLA", "gfla", 3),
          ("SAN", "san", 5))
PAPER_RATIO = 105.18 / 97.37
DEFAULT_LARGE_BATCH = {"cpu": 16, "cuda": 256}


def gflops_per_image(model: torch.nn.Module) -> float:
    height, width = IMAGE_SIZE
    counter = FlopCounterMode(display=False)
    maps = pose_maps(model, 1, torch.device("cpu"))
    with torch.no_grad(), counter:
        model(torch.zeros(1, 3, height, width), maps)
    return counter.get_total_flops() / 1e9


def real_looking_poses(batch: int) -> np.ndarray:
    """(batch, 18, 2) keypoints of the synthetic set's walking people."""
    _, specs = plan_dataset(SyntheticConfig(train_identities=8, test_identities=2), seed=0)
    poses = np.stack([spec.keypoints for spec in specs if spec.split == "train"])
    return poses[np.arange(batch) % len(poses)]


def pose_maps(model: torch.nn.Module, batch: int, device: torch.device) -> torch.Tensor:
    """The model's maps (heatmaps, or SAN's semantic maps) of real-looking poses, as generation feeds them: the time
    of a convolution depends on its values (denormal floats are slow on a CPU), so random maps would mislead."""
    poses = real_looking_poses(batch)
    return conditioning_maps(model, poses, np.roll(poses, 1, axis=0), device)


def plugin_images_per_second(transfer: Transfer, batch: int, min_seconds: float) -> float:
    """A plugin's throughput, end to end, after one warm-up call."""
    poses = real_looking_poses(batch)
    images = np.random.default_rng(0).integers(0, 256, (batch, *IMAGE_SIZE, 3), dtype=np.uint8)
    transfer(images, poses, np.roll(poses, 1, axis=0))
    runs, started = 0, time.perf_counter()
    while runs < 3 or time.perf_counter() - started < min_seconds:
        transfer(images, poses, np.roll(poses, 1, axis=0))
        runs += 1
    return runs * batch / (time.perf_counter() - started)


def images_per_second(model: torch.nn.Module, batch: int, device: torch.device, min_seconds: float) -> float:
    """Forward throughput after a warm-up, timed over at least `min_seconds` and 3 batches."""
    height, width = IMAGE_SIZE
    image = torch.rand(batch, 3, height, width, device=device) * 2 - 1
    maps = pose_maps(model, batch, device)
    cuda = device.type == "cuda"
    if cuda:
        image, maps = (t.contiguous(memory_format=torch.channels_last) for t in (image, maps))
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    with torch.no_grad(), mixed_precision(device):
        for _ in range(3 if cuda else 1):
            model(image, maps)
        sync()
        runs, started = 0, time.perf_counter()
        while runs < 3 or time.perf_counter() - started < min_seconds:
            model(image, maps)
            runs += 1
            sync()
        elapsed = time.perf_counter() - started
    return runs * batch / elapsed


def _models(checkpoints: list[Path]):
    trained = [(f"{payload['generator']}:{path}", model)  # read first: a bad file fails before any timing
               for path in checkpoints for model, payload in [load_generator(path)]]
    for label, name, blocks in MODELS:
        torch.manual_seed(0)
        yield label, build_generator(name, GeneratorArchitecture(blocks=blocks, ngf=64)).eval()
    yield from trained


def plugin_spec(text: str):
    spec = parse_generator(text)
    if spec.kind != "plugin":
        raise InputError(f"--plugin {text}: not an installed plugin's generator (time built-in checkpoints with "
                         "--checkpoint)")
    return spec


def bench_generators(device: torch.device, batches: tuple[int, int], min_seconds: float,
                     checkpoints: list[Path] = (), plugins: list[str] = ()) -> dict:
    transfers = [(text, load_plugin(spec.label, spec.path, device))  # loaded first: a bad name fails before timing
                 for text in plugins for spec in [plugin_spec(text)]]
    rows = []
    for label, model in _models(list(checkpoints)):
        row = {"model": label, "parameters": parameter_count(model), "gflops_per_image": round(gflops_per_image(model), 2)}
        model = model.to(device)
        if device.type == "cuda":
            model = model.to(memory_format=torch.channels_last)
        for batch in batches:
            row[f"images_per_second_batch_{batch}"] = round(images_per_second(model, batch, device, min_seconds), 2)
        rows.append(row)
    for text, transfer in transfers:
        rows.append({"model": f"plugin {text}", "parameters": None, "gflops_per_image": None,
                     **{f"images_per_second_batch_{b}": round(plugin_images_per_second(transfer, b, min_seconds), 2)
                        for b in batches}})
    by_model = {row["model"]: row for row in rows}
    ratios = {f"batch_{b}": round(by_model["PoNA-3"][f"images_per_second_batch_{b}"]
                                  / by_model["PATN-9"][f"images_per_second_batch_{b}"], 3) for b in batches}
    return {"device": _device_name(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
            "rows": rows, "pona3_over_patn9": ratios, "paper_ratio": round(PAPER_RATIO, 3)}


def reid_images_per_second(model_name: str, size: tuple[int, int], batch: int, threads: int, channels_last: bool,
                           device: torch.device, min_seconds: float) -> float:
    """Training throughput (forward, backward, Adam step) of a torchreid softmax model on random images."""
    from augreid.compat import import_torchreid

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = import_torchreid().reid.models.build_model(model_name, num_classes=100, loss="softmax",
                                                       pretrained=False).to(device).train()
    images = torch.randn(batch, 3, *size, device=device)
    labels = torch.randint(0, 100, (batch,), device=device)
    if channels_last:
        model, images = model.to(memory_format=torch.channels_last), images.contiguous(memory_format=torch.channels_last)
    optimiser = torch.optim.Adam(model.parameters(), 3e-3)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def step() -> None:
        loss = torch.nn.functional.cross_entropy(model(images), labels)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()

    for _ in range(3):
        step()
    sync()
    runs, started = 0, time.perf_counter()
    while runs < 5 or time.perf_counter() - started < min_seconds:
        step()
        runs += 1
    sync()
    return runs * batch / (time.perf_counter() - started)


def _reid_worker(arguments: tuple) -> float:
    return reid_images_per_second(*arguments)


def bench_reid(model_name: str, size: tuple[int, int], batch: int, device: torch.device, min_seconds: float,
               concurrent: int) -> dict:
    import multiprocessing

    from augreid.device import cores

    settings = [(threads, layout) for threads in sorted({1, cores()}) for layout in (False, True)]
    rows = [{"runs": 1, "threads": threads, "channels_last": layout,
             "images_per_second": round(reid_images_per_second(model_name, size, batch, threads, layout, device,
                                                               min_seconds), 1)} for threads, layout in settings]
    if concurrent > 1 and device.type == "cpu":
        with multiprocessing.get_context("spawn").Pool(concurrent) as pool:
            each = pool.map(_reid_worker, [(model_name, size, batch, 1, True, device, min_seconds)] * concurrent)
        rows.append({"runs": concurrent, "threads": 1, "channels_last": True,
                     "images_per_second": round(sum(each), 1)})
    return {"device": _device_name(device), "torch": torch.__version__, "model": model_name, "size": list(size),
            "batch": batch, "rows": rows}


def print_reid_table(result: dict) -> None:
    height, width = result["size"]
    print(f"re-ID training, {result['model']} at {height}x{width}, batch {result['batch']}, on {result['device']} "
          f"(torch {result['torch']})")
    print(f"{'runs':>4s} {'threads':>7s} {'layout':>14s} {'images/s (all runs)':>20s}")
    for row in result["rows"]:
        layout = "channels_last" if row["channels_last"] else "contiguous"
        print(f"{row['runs']:4d} {row['threads']:7d} {layout:>14s} {row['images_per_second']:20.1f}")


def bench_annotate(data_root: Path, count: int, min_seconds: float) -> dict:
    from augreid.annotate import read_pixels
    from augreid.images import check_images
    from augreid.market import scan_split
    from augreid.pose_estimator.blazepose import BlazePose, describe
    from augreid.semantic import body_parts

    paths = scan_split(data_root, "train")["path"].tolist()[:count]
    if not paths:
        raise InputError(f"{data_root}: no training images to time")
    check_images(paths)  # a broken file is refused before any timing
    images = [read_pixels(path) for path in paths]
    rates = {}
    with BlazePose() as estimator:
        estimator.estimate(images[0])  # builds the graph
        for label, with_parts in (("keypoints + mask", False), ("+ part maps", True)):
            done, started = 0, time.perf_counter()
            while time.perf_counter() - started < min_seconds or done < len(images):
                estimate = estimator.estimate(images[done % len(images)])
                if with_parts and estimate is not None:
                    body_parts(estimate.mask, estimate.keypoints)
                done += 1
            rates[label] = round(done / (time.perf_counter() - started), 1)
    return {"estimator": describe(), "images": len(images), "data_root": str(data_root), "cpu": platform.processor()
            or platform.machine(), "images_per_second": rates}


def _aa_run(arguments: tuple) -> tuple[int, dict]:
    from augreid.reid.train import quiet, train_reid

    data_root, config, out, seed, weights = arguments
    with contextlib.redirect_stdout(sys.stderr):  # torchreid prints its data summary: stdout keeps the report alone
        return seed, train_reid(data_root, config, out, seed=seed, weights=weights, device="cpu", log=quiet)


def _aa_backbone(arguments: tuple) -> str:
    from augreid.reid.pretrain import pretrain_backbone
    from augreid.reid.train import quiet

    settings, out = arguments
    with contextlib.redirect_stdout(sys.stderr):
        return pretrain_backbone(settings, out, device="cpu", log=quiet)["backbone"]


def aa_runs(data_root: Path, config_path: Path, out: Path, runs: int, first_seed: int, parallel: int,
            weights: Path | None = None) -> list[Path]:
    """The pool of runs, `parallel` at a time in processes of one thread each; finished ones (their metrics.json)
    are kept. Without --weights, a config with `reid.backbone: synthetic` first gets its backbone, trained once
    under `out` in such a process, as the flow trains it. Returns the runs' folders in seed order."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from augreid.config import load_config
    from augreid.output import check_output

    settings = load_config(config_path)
    config = settings.reid
    check_output(out, data_root)
    folders = {seed: out / f"seed_{seed}" for seed in range(first_seed, first_seed + runs)}
    missing = [seed for seed, folder in folders.items() if not (folder / "metrics.json").is_file()]
    print(f"A/A: {runs} runs of {config.model} ({config_path}) on {data_root}, seeds {first_seed}-"
          f"{first_seed + runs - 1}; {runs - len(missing)} already there", file=sys.stderr, flush=True)
    if not missing:
        return list(folders.values())
    started = time.perf_counter()
    # a process pool whose workers may start processes of their own (the backbone's population is rendered so)
    with ProcessPoolExecutor(parallel, mp_context=multiprocessing.get_context("spawn"),
                             initializer=torch.set_num_threads, initargs=(1,)) as pool:
        start = str(weights) if weights else None
        if start is None and config.pretrained and config.backbone == "synthetic":
            print("A/A: the config's synthetic backbone first", file=sys.stderr, flush=True)
            start = pool.submit(_aa_backbone, (settings, out / "backbone")).result()
        todo = [(str(data_root), config, str(folders[seed]), seed, start) for seed in missing]
        runs_done = as_completed([pool.submit(_aa_run, arguments) for arguments in todo])
        for done, (seed, metrics) in enumerate((future.result() for future in runs_done), 1):
            elapsed = time.perf_counter() - started
            print(f"  run {done}/{len(todo)} (seed {seed}): mAP {metrics['mAP']:.2f}, "
                  f"{metrics['wall_seconds']:.0f} s; eta {elapsed / done * (len(todo) - done):.0f} s",
                  file=sys.stderr, flush=True)
    return list(folders.values())


def print_calibration(result: dict) -> None:
    runs, per_arm = result["run_mAP"], result["seeds_per_arm"]
    low, high = result["rate_interval"]
    print(f"per-run mAP over {result['runs']} seeds: mean {np.mean(runs):.2f}, sd {result['run_sd']:.2f} "
          f"(min {min(runs):.2f}, max {max(runs):.2f}); {result['queries']} queries")
    print(f"A/A comparisons, {per_arm} seeds against {per_arm} others: {result['comparisons']}, of which "
          f"{result['disjoint_comparisons']} on disjoint runs")
    print(f"called different (false positives): {result['false_positives']} of {result['comparisons']} = "
          f"{100 * result['false_positive_rate']:.1f}% [95% CI {100 * low:.1f}, {100 * high:.1f}]; disjoint: "
          f"{result['disjoint_false_positives']} of {result['disjoint_comparisons']}")
    print(f"query standard error of a difference: {result['query_se']:.2f} mAP")
    print("detectable difference (80% power, 95% interval), mAP points: " + ", ".join(
        f"{seeds} seeds {size:.1f}" for seeds, size in result["detectable"].items()))


def plan_study(run_sd: float, query_se: float, queries: int, differences: list[float]) -> list[dict]:
    from augreid.study.calibration import seeds_needed

    return [{"difference": d, "seeds_per_arm": seeds_needed(d, run_sd, query_se, queries)} for d in differences]


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        model = platform.processor() or platform.machine()
    return f"cpu ({model})"


def print_table(result: dict) -> None:
    batches = [key.rsplit("_", 1)[1] for key in result["rows"][0] if key.startswith("images_per_second")]
    print(f"generators at 128x64 on {result['device']} (torch {result['torch']}, {result['threads']} threads)")
    width = max(8, *(len(row["model"]) for row in result["rows"]))
    header = f"{'model':{width}s} {'params':>12s} {'GFLOPs/img':>11s}" + "".join(f" {'img/s b' + b:>11s}" for b in batches)
    print(header)
    for row in result["rows"]:
        counted = row["parameters"] is not None
        print(f"{row['model']:{width}s} {row['parameters'] if counted else '-':>12{',d' if counted else 's'}} "
              f"{row['gflops_per_image'] if counted else '-':>11{'.2f' if counted else 's'}}"
              + "".join(f" {row['images_per_second_batch_' + b]:11.2f}" for b in batches))
    ratios = ", ".join(f"{v:.3f} at batch {k.split('_')[1]}" for k, v in result["pona3_over_patn9"].items())
    print(f"PoNA-3 / PATN-9 throughput: {ratios} (paper Table II: {result['paper_ratio']:.3f})")


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m augreid.bench", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    generators = commands.add_parser("generators", help="parameters, GFLOPs and images/s of PoNA-3, PoNA-2, PATN-9")
    generators.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=("cpu", "cuda"))
    generators.add_argument("--batch", type=int, help="the large batch (default 16 on cpu, 256 on cuda)")
    generators.add_argument("--min-seconds", type=float, default=3.0, help="time each measurement at least this long")
    generators.add_argument("--checkpoint", type=Path, action="append", default=[],
                            help="also time this generator.pt (e.g. the demo's), as augreid.generate runs it")
    generators.add_argument("--plugin", action="append", default=[], metavar="NAME[=CHECKPOINT]",
                            help="also time an installed plugin's generator")
    generators.add_argument("--json", action="store_true", help="print JSON instead of a table")
    reid = commands.add_parser("reid", help="training images/s of a torchreid model: layouts, threads, runs side by side")
    reid.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=("cpu", "cuda"))
    reid.add_argument("--model", default="osnet_x0_25", help="a torchreid model name")
    reid.add_argument("--height", type=int, default=64)
    reid.add_argument("--width", type=int, default=32)
    reid.add_argument("--batch", type=int, default=32)
    reid.add_argument("--concurrent", type=int, default=2, help="runs side by side, one thread each (CPU)")
    reid.add_argument("--min-seconds", type=float, default=3.0)
    reid.add_argument("--json", action="store_true", help="print JSON instead of a table")
    annotate = commands.add_parser("annotate", help="images/s of augreid.annotate's pose estimator")
    annotate.add_argument("--data-root", required=True, type=Path, help="a Market-1501-layout folder")
    annotate.add_argument("--images", type=int, default=50, help="how many of its training images to cycle through")
    annotate.add_argument("--min-seconds", type=float, default=3.0)
    aa = commands.add_parser("aa", help="A/A calibration: false-positive rate and detectable difference of verdicts")
    aa.add_argument("--data-root", type=Path, help="a Market-1501-layout folder (e.g. the demo's outputs/demo/data)")
    aa.add_argument("--config", type=Path, default=Path("configs/demo.yaml"), help="its reid: section is the recipe")
    aa.add_argument("--out", type=Path, default=Path("outputs/aa"), help="the runs' folders (finished ones reused)")
    aa.add_argument("--runs", type=int, default=40, help="runs in the pool, one seed each (default 40)")
    aa.add_argument("--first-seed", type=seed_number, default=100, help="seeds first-seed, first-seed + 1, ... (default 100)")
    aa.add_argument("--seeds-per-arm", type=int, default=3, help="seeds per arm of a comparison (default 3)")
    aa.add_argument("--comparisons", type=int, default=200, help="A/A comparisons drawn (default 200)")
    aa.add_argument("--parallel", type=int, default=2, help="runs at once, one thread each (default 2)")
    aa.add_argument("--weights", type=Path, help="initial weights when reid.pretrained (default: ImageNet's file, or "
                                                 "for reid.backbone synthetic the config's backbone, trained once)")
    aa.add_argument("--run-sd", type=float, help="plan only: a recipe's sd of mAP over seeds (no runs)")
    aa.add_argument("--query-se", type=float, help="plan only: the queries' standard error of a difference")
    aa.add_argument("--queries", type=int, default=3368, help="plan only: query images (default Market-1501's)")
    aa.add_argument("--differences", type=float, nargs="+", default=[0.5, 1.0, 1.5],
                    help="plan only: differences (mAP points) to detect")
    aa.add_argument("--json", action="store_true", help="print JSON instead of a summary")
    args = parser.parse_args(argv)
    if args.command == "aa":
        return run_aa(args)
    if args.command == "annotate":
        if args.images < 1:
            raise InputError(f"--images {args.images}: must be at least 1")
        result = bench_annotate(args.data_root, args.images, args.min_seconds)
        print(json.dumps(result, indent=2))
        return 0
    if args.device == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: no CUDA device is available")
    device = torch.device(args.device)
    if args.command == "reid":
        if min(args.height, args.width, args.batch, args.concurrent) < 1:
            raise InputError("--height, --width, --batch and --concurrent must be at least 1")
        from augreid.compat import import_torchreid

        if args.model not in import_torchreid().reid.models.__model_factory:
            raise InputError(f"--model: torchreid has no model '{args.model}'")
        result = bench_reid(args.model, (args.height, args.width), args.batch, device, args.min_seconds,
                            args.concurrent)
        if args.json:
            print(json.dumps(result, indent=2))
        else:
            print_reid_table(result)
        return 0
    large = args.batch or DEFAULT_LARGE_BATCH[device.type]
    if large < 2:
        raise InputError(f"--batch {large}: the large batch must be at least 2")
    result = bench_generators(device, (1, large), args.min_seconds, args.checkpoint, args.plugin)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)
    return 0


def run_aa(args: argparse.Namespace) -> int:
    from augreid.study.calibration import calibrate

    if args.run_sd is not None:
        if args.run_sd < 0 or args.query_se is None or args.query_se < 0 or args.queries < 2:
            raise InputError("--run-sd plans a study: give --run-sd >= 0, --query-se >= 0 and --queries >= 2")
        rows = plan_study(args.run_sd, args.query_se, args.queries, args.differences)
        if args.json:
            print(json.dumps(rows, indent=2))
        for row in rows if not args.json else []:
            needed = row["seeds_per_arm"] or "more than 200"
            print(f"a difference of {row['difference']:g} mAP: {needed} seeds per arm (80% power, 95% interval; run sd "
                  f"{args.run_sd:g}, query se {args.query_se:g})")
        return 0
    if args.data_root is None or not args.data_root.is_dir():
        raise InputError(f"--data-root {args.data_root}: not a folder (the A/A runs need a data set)")
    if args.seeds_per_arm < 2 or args.runs < 2 * args.seeds_per_arm or args.comparisons < 1 or args.parallel < 1:
        raise InputError(f"--seeds-per-arm {args.seeds_per_arm} must be at least 2, --runs {args.runs} at least twice "
                         "that, --comparisons and --parallel at least 1")
    if args.first_seed < 0:
        raise InputError(f"--first-seed {args.first_seed}: seeds are non-negative")
    folders = aa_runs(args.data_root, args.config, args.out, args.runs, args.first_seed, args.parallel, args.weights)
    tables = [pd.read_csv(folder / "per_query.csv") for folder in folders]
    result = calibrate(tables, args.seeds_per_arm, args.comparisons).as_dict()
    result.update(data_root=str(args.data_root), config=str(args.config), first_seed=args.first_seed)
    from augreid.atomic import atomic_write_text

    atomic_write_text(args.out / "aa.json", json.dumps(result, indent=2) + "\n")
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_calibration(result)
        print(f"-> {args.out / 'aa.json'}")
    return 0


run = exit_on_input_error(main)

if __name__ == "__main__":
    run()
