"""`python -m augreid.bench generators|reid|busy|annotate|gpu|aa|scale [--device cpu|cuda] [--json]`: speed of
generators, re-ID training (on a quiet and a busy machine) and the pose estimator, one GPU's projection of Table VI,
the A/A calibration of the verdicts, and a full-size rehearsal of a study's data-side steps.

`busy`: training images/s of one re-ID run at the thread count augreid picks, quiet and beside `--load` CPU-bound
processes (default twice the usable CPUs), the share of its quiet speed it keeps and the share fair scheduling would
give it (`benchmarks/busy.py`); `--omp-wait-policy unset|passive|active` times it with that OpenMP wait policy.

`scale [--out DIR] [--fractions F ...] [--config FILE]`: Market-sized synthetic sets at each fraction of
Market-1501 (default 1/4, 1/2, 1), every data-side step of a study on each, in a process of its own, with the
config's data-side settings and tiny models: wall time, peak memory and the growth exponent per step
(`benchmarks/scale.py`).

`gpu [--dry]`: on one GPU, at the Market-1501 configs' shapes and batches, training iterations/s of PoNA and PATN,
their generation images/s, IDE and BoT re-ID training images/s at 256x128, data-loader images/s per worker, and the
wall time of Table VI they project on 1, 2, 4 and 8 GPUs (`benchmarks/gpu.py`); `--dry` runs it on the CPU with
small shapes.

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
import json
import sys
from pathlib import Path

import pandas as pd
import torch

from augreid.benchmarks.busy import WAIT_POLICIES, bench_busy, print_busy
from augreid.benchmarks.calibration_runs import aa_runs, plan_study, print_calibration
from augreid.benchmarks.generators import DEFAULT_LARGE_BATCH, bench_generators, print_table
from augreid.benchmarks.pose_estimator import bench_annotate
from augreid.benchmarks.gpu import bench_gpu, print_gpu
from augreid.benchmarks.reid import bench_reid, print_reid_table
from augreid.benchmarks.scale import bench_scale, print_scale
from augreid.core.cli import ArgumentParser, command, positive_number, seed_number
from augreid.core.errors import InputError


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m augreid.bench", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    generators = commands.add_parser("generators", help="parameters, GFLOPs and images/s of PoNA-3, PoNA-2, PATN-9, "
                                                        "APS, GFLA, SAN")
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
    busy = commands.add_parser("busy", help="re-ID training images/s on the CPU, quiet and beside CPU-bound processes")
    busy.add_argument("--model", default="osnet_x0_25", help="a torchreid model name")
    busy.add_argument("--height", type=positive_number, default=64)
    busy.add_argument("--width", type=positive_number, default=32)
    busy.add_argument("--batch", type=positive_number, default=32)
    busy.add_argument("--min-seconds", type=float, default=5.0, help="time each run at least this long")
    busy.add_argument("--load", type=int, help="CPU-bound background processes (default twice the usable CPUs)")
    busy.add_argument("--omp-wait-policy", choices=WAIT_POLICIES, default="augreid",
                      help="the timed runs' OpenMP waits: augreid's (default: your OMP_WAIT_POLICY and "
                           "GOMP_SPINCOUNT as they are), unset (libgomp's default), OMP_WAIT_POLICY=passive or active")
    busy.add_argument("--json", action="store_true", help="print JSON instead of a summary")
    annotate = commands.add_parser("annotate", help="images/s of augreid.annotate's pose estimator")
    annotate.add_argument("--data-root", required=True, type=Path, help="a Market-1501-layout folder")
    annotate.add_argument("--images", type=int, default=50, help="how many of its training images to cycle through")
    annotate.add_argument("--min-seconds", type=float, default=3.0)
    gpu = commands.add_parser("gpu", help="one GPU's rates for a Market-1501 study and the wall time of Table VI they "
                                          "project (at most 8 minutes)")
    gpu.add_argument("--dry", action="store_true", help="small shapes on the CPU: checks the command, projects nothing")
    gpu.add_argument("--json", action="store_true", help="print JSON instead of a summary")
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
    scale = commands.add_parser("scale", help="a full-size rehearsal: every data-side step of a study on Market-sized "
                                              "synthetic sets at several fractions; time, peak memory, growth")
    scale.add_argument("--out", type=Path, default=Path("outputs/scale"), help="the sets and the steps' outputs")
    scale.add_argument("--fractions", type=float, nargs="+", default=[0.25, 0.5, 1.0],
                       help="of Market-1501's size, increasing (default 0.25 0.5 1)")
    scale.add_argument("--config", type=Path, default=Path("configs/market1501.yaml"),
                       help="its data-side settings are used, with tiny models (default configs/market1501.yaml)")
    scale.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if args.command == "scale":
        result = bench_scale(args.out, args.fractions, args.config,
                             progress=lambda line: print(line, file=sys.stderr, flush=True))
        if args.json:
            print(json.dumps(result, indent=2))
        else:
            print_scale(result)
        return 0
    if args.command == "aa":
        return run_aa(args)
    if args.command == "gpu":
        if not args.dry and not torch.cuda.is_available():
            raise InputError("gpu: no CUDA device is available (--dry runs it on the CPU with small shapes)")
        result = bench_gpu(torch.device("cpu" if args.dry else "cuda"), dry=args.dry)
        if args.json:
            print(json.dumps(result, indent=2))
        else:
            print_gpu(result)
        return 0
    if args.command == "busy":
        return run_busy(args)
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
        from augreid.core.compat import import_torchreid

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


def run_busy(args: argparse.Namespace) -> int:
    from augreid.core.compat import import_torchreid
    from augreid.core.threads import thread_count, usable_cpus

    cpus = usable_cpus()
    load = 2 * cpus if args.load is None else args.load
    if load < 0 or args.min_seconds < 0:
        raise InputError(f"--load {load} and --min-seconds {args.min_seconds:g} must be at least 0")
    if args.model not in import_torchreid().reid.models.__model_factory:
        raise InputError(f"--model: torchreid has no model '{args.model}'")
    result = bench_busy(args.model, (args.height, args.width), args.batch, thread_count(), cpus, load,
                        args.min_seconds, args.omp_wait_policy)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_busy(result)
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
    from augreid.core.atomic import atomic_write_text

    atomic_write_text(args.out / "aa.json", json.dumps(result, indent=2) + "\n")
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_calibration(result)
        print(f"-> {args.out / 'aa.json'}")
    return 0


run = command(main)

if __name__ == "__main__":
    run()
