"""Prefect flow `augment-and-evaluate`: the whole Table VI study as one run.

prepare data -> train each generator once -> for each generator x portion x seed: generate -> train re-ID ->
evaluate -> collect -> report. The tasks only call augreid's library functions. Every task is cached across runs
on its inputs and its source, and the inputs include digests of what the paths hold (config file, data set,
generator checkpoint), so a changed file is never answered with a stale result.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import INPUTS, TASK_SOURCE
from prefect.task_runners import ThreadPoolTaskRunner

from augreid.atomic import file_sha256
from augreid.config import load_config
from augreid.generate import GENERATORS, MODELS, augment
from augreid.market import ANNOTATION_FILES, SPLIT_DIRS
from augreid.reid import train_reid
from augreid.synthetic import build_synthetic_market
from augreid.table_vi import FULL, results_frame, summarise, to_markdown, write_report
from augreid.train_generator import train_generator

CACHED = dict(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
DEFAULT_PORTIONS = [0.2, 0.4, 0.6, 0.8, 1.0]
DEFAULT_GENERATORS = ["pona", "patn", "none", "duplicate"]


def folder_digest(root: str | Path) -> str:
    """What a Market-layout folder holds: image names and sizes of every split, and the annotation files."""
    root = Path(root)
    digest = hashlib.sha256()
    for folder in SPLIT_DIRS.values():
        for image in sorted((root / folder).glob("*.jpg")):
            digest.update(f"{folder}/{image.name}:{image.stat().st_size}\n".encode())
    for name in ANNOTATION_FILES.values():
        if (root / name).is_file():
            digest.update(file_sha256(root / name).encode())
    return digest.hexdigest()


def check_parameters(config: str, data_root: str | None, portions: list[float], generators: list[str],
                     seeds: list[int]) -> None:
    """Fail fast, before any training, with a message naming the bad parameter."""
    unknown = [g for g in generators if g not in GENERATORS]
    if unknown:
        raise ValueError(f"generators: unknown generator '{unknown[0]}' (known: {', '.join(GENERATORS)})")
    bad = [p for p in portions if not 0.0 < p <= 1.0]
    if bad:
        raise ValueError(f"portions: {bad[0]} is outside (0, 1]")
    if not portions or not generators or not seeds:
        raise ValueError("portions, generators and seeds must each name at least one value")
    if data_root is not None and not Path(data_root).is_dir():
        raise ValueError(f"data_root: {data_root} does not exist")
    load_config(config)  # a bad config file fails here too


def cached(task_function, out: Path, marker: str):
    """The task, answering from Prefect's cache only while its output is still on disk (someone may have
    deleted `outputs/`); otherwise it runs again and refreshes the cache entry."""
    return task_function.with_options(refresh_cache=not (out / marker).exists())


@task(**CACHED)
def prepare_data(config: str, config_sha256: str, data_root: str | None, out: str) -> dict:
    """The data set: the given root, or the synthetic stand-in built from the config (reused when present)."""
    if data_root is None:
        data_root = out
        build_synthetic_market(data_root, load_config(config).synthetic, seed=0, progress=False)
    return {"root": data_root, "sha256": folder_digest(data_root)}


@task(**CACHED)
def train_generator_task(name: str, data: dict, config: str, config_sha256: str, out: str) -> dict:
    train_generator(name, data["root"], load_config(config), out, seed=0, resume=True, progress=False)
    checkpoint = Path(out) / "generator.pt"
    return {"checkpoint": str(checkpoint), "sha256": file_sha256(checkpoint)}


@task(**CACHED)
def augment_task(portion: float, data: dict, generator: str, checkpoint: dict | None, seed: int, out: str) -> dict:
    augment(portion, data["root"], generator, checkpoint["checkpoint"] if checkpoint else None, seed, out,
            progress=False)
    return {"root": out, "sha256": file_sha256(Path(out) / "manifest.csv")}


@task(**CACHED)
def reid_task(data: dict, config: str, config_sha256: str, seed: int, out: str) -> dict:
    return train_reid(data["root"], load_config(config).reid, out, seed=seed)


@task
def report_task(results: list[dict], generators: list[str], output: str) -> dict:
    summary = summarise(results_frame(results), generators)
    paths = write_report(summary, Path(output) / "report")
    markdown = to_markdown(summary)
    create_markdown_artifact(markdown=f"# Table VI: re-ID mAP (%)\n\n{markdown}", key="table-vi",
                             description="re-ID mAP by generator and kept portion")
    get_run_logger().info("Table VI\n%s", markdown)
    return {**paths, "table": markdown}


@flow(name="augment-and-evaluate", task_runner=ThreadPoolTaskRunner(max_workers=1))
def augment_and_evaluate(config: str = "configs/demo.yaml", data_root: str | None = None,
                         portions: list[float] = DEFAULT_PORTIONS, generators: list[str] = DEFAULT_GENERATORS,
                         seeds: list[int] = [0], output: str = "outputs/flow") -> dict:  # noqa: B006
    """Table VI for the given generators, portions and seeds; p = 1.0 is one shared run per seed."""
    check_parameters(config, data_root, portions, generators, seeds)
    config_sha256 = file_sha256(config)
    root = Path(output)
    data_out = root / "data"
    # a given data set is digested afresh on every run (it may have changed); the synthetic one follows the config
    refresh = data_root is not None or not (data_out / "synthetic.json").exists()
    data = prepare_data.with_options(refresh_cache=refresh)(config, config_sha256, data_root, str(data_out))
    checkpoints = {}
    for generator in (g for g in generators if g in MODELS):
        out = root / "generators" / f"{generator}_{config_sha256[:8]}_{data['sha256'][:8]}"
        checkpoints[generator] = cached(train_generator_task, out, "summary.json")(
            generator, data, config, config_sha256, str(out))
    runs = []
    for seed in seeds:
        if FULL in portions:
            out = root / "reid" / f"full_s{seed}_{config_sha256[:8]}_{data['sha256'][:8]}"
            runs.append(("none", FULL, seed, cached(reid_task, out, "metrics.json").submit(
                data, config, config_sha256, seed, str(out))))
        for generator in generators:
            key = checkpoints[generator]["sha256"][:8] if generator in checkpoints else data["sha256"][:8]
            for portion in (p for p in portions if p != FULL):
                name = f"{generator}_p{portion:g}_s{seed}_{key}"
                augmented_out = root / "augmented" / name
                augmented = cached(augment_task, augmented_out, "manifest.csv").submit(
                    portion, data, generator, checkpoints.get(generator), seed, str(augmented_out))
                reid_out = root / "reid" / f"{name}_{config_sha256[:8]}"
                runs.append((generator, portion, seed, cached(reid_task, reid_out, "metrics.json").submit(
                    augmented, config, config_sha256, seed, str(reid_out))))
    results = [{"generator": g, "portion": p, "seed": s, "mAP": future.result()["mAP"],
                "rank1": future.result()["rank1"]} for g, p, s, future in runs]
    return report_task(results, generators, output)


def main(argv: list[str] | None = None) -> int:
    """Run the flow once in this process (`make demo`); a served deployment is the other way in."""
    import argparse
    import sys
    import time

    parser = argparse.ArgumentParser(prog="python -m flows.augment_and_evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/demo.yaml")
    parser.add_argument("--data-root", help="a Market-1501-layout folder (default: the synthetic set)")
    parser.add_argument("--portions", type=float, nargs="+", default=DEFAULT_PORTIONS)
    parser.add_argument("--generators", nargs="+", default=DEFAULT_GENERATORS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--output", default="outputs/flow")
    args = parser.parse_args(argv)
    try:
        check_parameters(args.config, args.data_root, args.portions, args.generators, args.seeds)
    except Exception as err:  # InputError from the config loader, ValueError from the checks
        print(f"error: {err}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    report = augment_and_evaluate(config=args.config, data_root=args.data_root, portions=args.portions,
                                  generators=args.generators, seeds=args.seeds, output=args.output)
    print(f"\nTable VI: re-ID mAP (%) (r1 rank-1), {time.perf_counter() - started:.0f} s\n\n{report['table']}")
    print(f"report: {report['markdown']}, {report['csv']}, {report['plot']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
