"""Prefect flow `augment-and-evaluate`: the whole Table VI study as one run.

prepare data -> (1) train each generator once, and re-ID on the full set (p = 1.0) per seed -> (2) score each
generator's test images (SSIM, mask-SSIM, PSNR, and their identity under the full set's seed-0 re-ID model), and
for each generator x portion x seed: generate -> train re-ID -> evaluate -> (3) report: Table VI with the marks
of the paired comparisons against `none` and `duplicate`, the comparisons, the quality table. With `factors`, the
same for each generator x factor K x seed (every image kept, K-1 added per image: `augreid/protocol/factor.py`), reported
as a second table whose `none` is the full set's run. Each training is a
child flow `train-generator`, each scoring a child flow `score-generator` and each (generator, portion, seed) a
child flow `augment-and-reid`: in this process one after the other, or with `fan_out` set, as flow runs of the
deployments `<child>/<fan_out>` that the work pool's workers run side by side (one worker per GPU).
"""
# No `from __future__ import annotations` here: a served run builds the parameters' model from the flow's
# annotations outside this module, where string annotations such as "list[Portion]" cannot be resolved.
import dataclasses
import time
from functools import partial
from pathlib import Path
from typing import Annotated, Literal, NoReturn, Union

from prefect import flow, get_run_logger
from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound
from prefect.logging.handlers import APILogHandler
from pydantic import Field

from augreid.config import GENERATOR_NAMES, config_digest, load_config, parse_poses
from augreid.core.cli import ArgumentParser, seed_number
from augreid.core.errors import InputError
from augreid.core.output import check_output
from augreid.data.blazepose import unavailable
from augreid.data.images import check_images
from augreid.data.market import check_complete, scan_market
from augreid.data.pose_estimation import images_without_keypoints
from augreid.models import check_architecture
from augreid.protocol.augmented_set import CONTROLS
from augreid.protocol.conditions import MODES
from augreid.protocol.identity_filter import split_filtered
from augreid.reid.pretrain import BACKBONE
from augreid.sources.external import resolve_pattern
from augreid.sources.source import GeneratorSpec, parse_generator
from augreid.study.cells import AUGMENTED_MARKER, GENERATOR_MARKER, QUALITY_MARKER, REID_MARKER, Study
from augreid.study.table_vi import FULL
from flows.children import Child as ScheduledChild
from flows.children import run_children
from flows.tasks import (STUDY_SPLITS, augment_task, cached, filter_task, prepare_data, pretrain_task, quality_task,
                         reid_task, report_task, train_generator_task)

# Parameter types with their ranges: a served deployment's schema carries them, so the API refuses a bad value
# (`prefect deployment run ... --param portions=[1.5]`) before a flow run exists
Portion = Annotated[float, Field(gt=0.0, le=1.0, description="portion p of each identity's images kept")]
Factor = Annotated[int, Field(ge=2, description="augmentation factor K: K-1 images added per training image")]
Parallel = Annotated[int, Field(ge=1, description="children at once on this machine")]
Seed = Annotated[int, Field(ge=0, description="a seed: which images are kept, and each run's randomness")]
# a generator: built in or a control; an installed plugin's NAME; NAME=CHECKPOINT (a built-in's or a plugin's, e.g.
# converted published weights); external:NAME=DIR (images made elsewhere). Which plugins exist is the business of
# the machine that runs the flow (a pool's workers may have others), so the schema checks only the form. Any of
# them may carry an identity filter: NAME+idT or NAME+topQ.
Generator = Union[Literal[(*GENERATOR_NAMES, *CONTROLS)],
                  Annotated[str, Field(pattern=r"^(?:external:[a-z0-9]+=.+|[a-z0-9]+(?:=.+)?|.+\+(?:id|top)[0-9.]+)$")]]
Condition = Literal[MODES]

DEFAULT_PORTIONS = [0.2, 0.4, 0.6, 0.8, 1.0]
DEFAULT_GENERATORS = ["pona", "patn", "none", "duplicate"]


def check_parameters(config: str, data_root: str | None, portions: list[float], generators: list[str],
                     seeds: list[int], parallel: int = 1, output: str = "outputs/flow", factors: list[int] | None = None,
                     poses: str | None = None, patterns: dict[str, str] | None = None,
                     panels: dict[str, int] | None = None) -> None:
    """Fail fast, before any training, with a message naming the bad parameter."""
    factors = factors or []
    if parallel < 1:
        raise ValueError(f"parallel: {parallel} must be at least 1")
    specs = generator_specs(unfiltered_generators(generators, portions), patterns, panels)
    labels = [row_label(g, specs) for g in generators]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise ValueError(f"generators: two generators are named '{repeated[0]}' (each names a row of Table VI)")
    bad = [p for p in portions if not 0.0 < p <= 1.0]
    if bad:
        raise ValueError(f"portions: {bad[0]} is outside (0, 1]")
    too_small = [k for k in factors if k < 2]
    if too_small:
        raise ValueError(f"factors: {too_small[0]} is below 2 (K = 1 is the original set)")
    negative = [s for s in seeds if s < 0]
    if negative:
        raise ValueError(f"seeds: {negative[0]} is negative (seeds are whole numbers from 0)")
    if not (portions or factors) or not generators or not seeds:
        raise ValueError("portions (or factors), generators and seeds must each name at least one value")
    if data_root is not None:
        if not Path(data_root).is_dir():
            raise ValueError(f"data_root: {data_root} does not exist")
        check_complete(data_root)
        images = scan_market(data_root)  # the three split folders, with Market-1501 or DukeMTMC-reID names
        check_images(images["path"])  # a broken image is refused here, not by a child minutes later
        unannotated = images_without_keypoints(data_root, STUDY_SPLITS)
        if unannotated and unavailable():
            raise ValueError(f"data_root: {unannotated} training and test images have no keypoints, and they cannot "
                             f"be estimated here: {unavailable()}")
    check_output(output, data_root)
    settings = load_config(config)  # a bad config file fails here too
    try:
        chosen = parse_poses(poses or settings.augmentation.poses)
    except InputError:
        raise ValueError(f"poses: '{poses}' is neither 'pool' nor 'canonical N' with N >= 1 nor 'rare [N]'") from None
    if chosen.mode == "canonical" and factors and max(factors) - 1 > chosen.count:
        raise ValueError(f"factors: K = {max(factors)} adds {max(factors) - 1} poses per image, more than the "
                         f"{chosen.count} canonical poses")
    for text, spec in specs.items():
        if spec.kind == "model" and spec.path is None:  # trained here
            check_architecture(spec.label, settings.generators.architecture(spec.label))
        elif spec.kind == "external" and (spec.path is None or not Path(spec.path).is_dir()):
            raise ValueError(f"generators: {text}: needs an existing folder of images (external:NAME=DIR)")
        elif spec.kind != "external" and spec.path is not None and not Path(spec.path).is_file():
            raise ValueError(f"generators: {text}: checkpoint {spec.path} does not exist")


def unfiltered_generators(generators: list[str], portions: list[float] | None = None) -> list[str]:
    """The generators behind the rows, once each (`pona+id0.5` is `pona`'s images filtered). A filter on a
    control, a bad rule, or a filtered row at a p < 1 without `none` (whose run is its filter model) is refused."""
    bases = []
    for generator in generators:
        try:
            base, rule = split_filtered(generator)
        except InputError as err:
            raise ValueError(f"generators: {err}") from None
        if rule is not None and base in CONTROLS:
            raise ValueError(f"generators: {generator}: the identity filter scores generated images; {base} has none")
        if rule is not None and any(p < FULL for p in portions or []) and "none" not in generators:
            raise ValueError(f"generators: {generator} needs none among the generators (the none run of the same p "
                             "and seed is its filter model: it never saw a removed image)")
        bases.append(base)
    return list(dict.fromkeys(bases))


def row_label(generator: str, specs: dict[str, GeneratorSpec]) -> str:
    """A generator's Table VI row (`Study.label`), before the study exists."""
    base, rule = split_filtered(generator)
    label = specs[base].label if base in specs else base
    return f"{label}+{rule}" if rule else label


def generator_specs(generators: list[str], patterns: dict[str, str] | None = None,
                    panels: dict[str, int] | None = None) -> dict[str, GeneratorSpec]:
    """Each generator that is not a control, parsed (an unknown name fails here); an external one with its file
    names' pattern and panel (`patterns`, `panels`: by the generator's name; default: the authors' names and
    the last panel)."""
    patterns, panels = patterns or {}, panels or {}
    try:
        specs = {g: parse_generator(g, CONTROLS) for g in generators if g not in CONTROLS}
    except InputError as err:
        raise ValueError(f"generators: {err}") from None
    external = {spec.label for spec in specs.values() if spec.kind == "external"}
    for name, option in (("patterns", patterns), ("panels", panels)):
        stray = sorted(set(option) - external)
        if stray:
            raise ValueError(f"{name}: '{stray[0]}' is not one of the generators made elsewhere "
                             f"({', '.join(sorted(external)) or 'none given'})")
    for text, spec in specs.items():
        if spec.kind == "external" and spec.path is not None:
            try:
                pattern = resolve_pattern(patterns.get(spec.label), spec.label, Path(spec.path))
            except InputError as err:
                raise ValueError(f"patterns: {spec.label}: {err}") from None
            specs[text] = dataclasses.replace(spec, pattern=pattern, panel=panels.get(spec.label, -1))
    return specs


def refuse(error: Exception) -> NoReturn:
    """Fail the run with the reason in its log, sent before the run's state turns Failed: `prefect deployment run
    --watch` stops at that state, and would otherwise print no reason at all."""
    get_run_logger().error("refused: %s", error)
    APILogHandler().flush()  # drains the process's queue of logs for the API
    raise error


def check_fan_out(fan_out: str) -> None:
    """Every child deployment must exist before anything is trained."""
    with get_client(sync_client=True) as client:
        for child in (train_generator_flow, pretrain_flow, score_generator_flow, augment_and_reid):
            try:
                client.read_deployment_by_name(f"{child.name}/{fan_out}")
            except ObjectNotFound:
                raise ValueError(f"fan_out: no deployment '{child.name}/{fan_out}' on this server "
                                 "(create them with `prefect deploy --all`)") from None


def timed(function, *args) -> tuple[object, float]:
    started = time.perf_counter()
    return function(*args), time.perf_counter() - started


@flow(name="train-generator")
def train_generator_flow(generator: str, data: dict, config: str, config_sha256: str, out: str) -> dict:
    """One generator, trained once per config and data set (resumes a crashed training). Returns the seconds
    this run spent, by kind of work."""
    _, seconds = timed(cached(train_generator_task, out, GENERATOR_MARKER), generator, data, config, config_sha256, out)
    return {f"generator training ({generator})": seconds}


@flow(name="score-generator")
def score_generator_flow(checkpoint: dict, data: dict, config: str, config_sha256: str, reid_model: dict,
                         out: str) -> dict:
    """One trained generator scored on test pairs: image metrics, and the identity of its images under the re-ID
    model of the real training set."""
    _, seconds = timed(cached(quality_task, out, QUALITY_MARKER), checkpoint, data, config, config_sha256,
                       reid_model, out)
    return {"generator scoring": seconds}


@flow(name="pretrain-backbone")
def pretrain_flow(config: str, config_sha256: str, out: str) -> dict:
    """The synthetic backbone that every re-ID run starts from, trained once per config."""
    _, seconds = timed(cached(pretrain_task, out, BACKBONE), config, config_sha256, out)
    return {"re-ID backbone": seconds}


@flow(name="augment-and-reid")
def augment_and_reid(generator: str, portion: float | None, seed: int, data: dict, checkpoint: dict | None,
                     config: str, config_sha256: str, augmented_out: str | None, reid_out: str,
                     filling: dict | None = None, factor: int | None = None, backbone: dict | None = None,
                     identity_filter: dict | None = None) -> dict:
    """One cell of Table VI: fill the missing (1 - p) with the generator (`filling`: the condition mode and the
    unposed policy), then train and evaluate re-ID. At p = 1.0 nothing is missing and re-ID trains on the data
    set itself. Or one cell of the factor table: K-1 images added per image (`filling`: the poses and the unposed
    policy). A filtered row's cell (`identity_filter`) builds its generator's set (cached: made once), then
    filters it."""
    seconds = {}
    if factor is not None or portion != FULL:
        unfiltered = identity_filter["unfiltered"] if identity_filter else augmented_out
        source = identity_filter["generator"] if identity_filter else generator
        data, seconds["generation"] = timed(cached(augment_task, unfiltered, AUGMENTED_MARKER), portion, data,
                                            source, checkpoint, seed, unfiltered, filling, factor)
    if identity_filter:
        cell = f"{generator} {'p=' if factor is None else 'K='}{portion if factor is None else factor:g} s{seed}"
        data, seconds["identity filter"] = timed(cached(filter_task, augmented_out, AUGMENTED_MARKER), data,
                                                 identity_filter, cell, augmented_out)
    _, seconds["re-ID runs"] = timed(cached(reid_task, reid_out, REID_MARKER), data, config, config_sha256, seed,
                                     reid_out, backbone)
    return seconds


@flow(name="augment-and-evaluate")
def augment_and_evaluate(config: str = "configs/demo.yaml", data_root: str | None = None,
                         portions: list[Portion] = DEFAULT_PORTIONS, generators: list[Generator] = DEFAULT_GENERATORS,
                         seeds: list[Seed] = [0, 1, 2], output: str = "outputs/flow",  # noqa: B006
                         fan_out: str | None = None, parallel: Parallel = 1,
                         condition: Condition | None = None, factors: list[Factor] = [],  # noqa: B006
                         poses: str | None = None, patterns: dict[str, str] = {},  # noqa: B006
                         panels: dict[str, int] = {}) -> dict:  # noqa: B006
    """Table VI for the given generators, portions and seeds; p = 1.0 is one shared run per seed. `parallel`:
    children run at once in this process (on a 2-core CPU, 2 runs of one core each beat one run of two).
    `condition`: which kept image conditions each generated one (default: the config's `augmentation.condition`).
    `factors`: also augment the full set by each factor K, reported in a second table (`portions` may then be
    empty); `poses`: where the added poses come from, `pool`, `canonical N` or `rare [N]` (default: the config's).
    `patterns`, `panels`: for a generator made elsewhere (`external:NAME=DIR`), by NAME, its files' name pattern
    (a preset or `{from}`/`{to}` text; default: the authors' names) and which panel of a strip holds the image."""
    started = time.perf_counter()
    try:
        check_parameters(config, data_root, portions, generators, seeds, parallel, output, factors, poses, patterns,
                         panels)
        if fan_out is not None:
            check_fan_out(fan_out)
    except (InputError, ValueError) as err:
        refuse(err)
    config_sha256 = config_digest(config)  # a base it extends included
    settings = load_config(config)
    filling = {"condition": condition or settings.augmentation.condition, "unposed": settings.augmentation.unposed}
    factor_filling = {"poses": poses or settings.augmentation.poses, "unposed": settings.augmentation.unposed}
    root = Path(output)
    data_out = root / "data"
    # a given data set is digested afresh on every run (it may have changed); the synthetic one follows the config
    refresh = data_root is not None or not (data_out / "synthetic.json").exists()
    data, data_seconds = timed(prepare_data.with_options(refresh_cache=refresh), config, config_sha256, data_root,
                               str(data_out))
    reid = settings.reid
    backbone_out = (str(root / "backbone" / f"{reid.model}_{config_sha256[:8]}")
                    if reid.pretrained and reid.backbone == "synthetic" else None)
    study = Study(config, config_sha256, root, data, generators, portions, factors, seeds,
                  generator_specs(unfiltered_generators(generators), patterns, panels), filling, factor_filling,
                  backbone_out, filter_fill=settings.augmentation.filter_fill)

    children = [ScheduledChild(child.key, CHILD_FLOWS[child.kind], partial(study.parameters, child), child.needs)
                for child in study.children()]
    seconds = run_children(children, fan_out, parallel)

    # (3) the report
    report, report_seconds = timed(report_task, study.results(), [study.label(g) for g in generators],
                                   study.galleries(), study.quality(), output, filling, settings.report.metric,
                                   study.factor_results(), factor_filling)
    work = {"data": data_seconds, **seconds, "report": report_seconds}
    return {**report, "seconds": work, "wall_seconds": time.perf_counter() - started}


CHILD_FLOWS = {"backbone": pretrain_flow, "generator": train_generator_flow, "score": score_generator_flow,
               "cell": augment_and_reid}


def time_breakdown(seconds: dict[str, float], wall: float, parallel: int) -> str:
    """Where the time went: seconds per kind of work (summed over children that ran side by side) and the
    wall-clock time; steps answered from the cache take about nothing."""
    kinds = ", ".join(f"{kind} {value:.0f} s" for kind, value in seconds.items())
    return f"Time: {kinds} (summed over {parallel} children at a time); {wall:.0f} s wall"


def named_values(texts: list[str], flag: str, kind: type) -> dict:
    """`NAME=VALUE` arguments as {NAME: VALUE}."""
    values = {}
    for text in texts:
        name, _, value = text.partition("=")
        try:
            if not (name and value):
                raise ValueError
            values[name] = kind(value)
        except ValueError:
            raise ValueError(f"{flag} {text}: expected NAME={'INDEX' if kind is int else 'PATTERN'}") from None
    return values


def main(argv: list[str] | None = None) -> int:
    """Run the flow once in this process (`make demo`); a served deployment is the other way in."""
    import sys

    parser = ArgumentParser(prog="python -m flows.augment_and_evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/demo.yaml")
    parser.add_argument("--data-root", help="a Market-1501-layout folder (default: the synthetic set)")
    parser.add_argument("--portions", type=float, nargs="*", default=DEFAULT_PORTIONS,
                        help="kept portions p of Table VI (none given: only the factors)")
    parser.add_argument("--generators", nargs="+", default=DEFAULT_GENERATORS)
    parser.add_argument("--seeds", type=seed_number, nargs="+", default=[0, 1, 2],
                        help="one run per cell and seed; verdicts need two or more (default 0 1 2)")
    parser.add_argument("--output", default="outputs/flow")
    parser.add_argument("--parallel", type=int, default=1, help="children at once in this process (CPU: one thread "
                                                               "each, so up to the usable CPUs)")
    parser.add_argument("--condition", choices=MODES, help="nearest or random (default: the config's)")
    parser.add_argument("--factors", type=int, nargs="+", default=[],
                        help="also augment the full set by each factor K (K-1 images added per image)")
    parser.add_argument("--pattern", action="append", default=[], metavar="NAME=PATTERN",
                        help="file names of the images external:NAME=DIR holds (a preset or {from}/{to} text)")
    parser.add_argument("--panel", action="append", default=[], metavar="NAME=INDEX",
                        help="the panel of external:NAME's strips that holds the image (default -1, the last)")
    parser.add_argument("--poses", nargs="+", metavar="MODE",
                        help="the factors' added poses: pool, canonical N or rare [N] (default: the config's)")
    args = parser.parse_args(argv)
    poses = " ".join(args.poses) if args.poses else None
    try:
        patterns = named_values(args.pattern, "--pattern", str)
        panels = named_values(args.panel, "--panel", int)
        check_parameters(args.config, args.data_root, args.portions, args.generators, args.seeds, args.parallel,
                         args.output, args.factors, poses, patterns, panels)
    except (InputError, ValueError) as err:  # the config loader's and the checks' refusals; a bug keeps its traceback
        print(f"error: {err}", file=sys.stderr)
        return 2
    report = augment_and_evaluate(config=args.config, data_root=args.data_root, portions=args.portions,
                                  generators=args.generators, seeds=args.seeds, output=args.output,
                                  parallel=args.parallel, condition=args.condition, factors=args.factors,
                                  poses=poses, patterns=patterns, panels=panels)
    for prefix in ("", "factor_"):
        if report[f"{prefix}table"]:
            print(f"\n{report[f'{prefix}heading']}\n\n{report[f'{prefix}table']}\n{report[f'{prefix}notes']}\n")
    if report["quality_table"]:
        print(f"Generation quality on test pairs\n\n{report['quality_table']}")
        print("\n".join(report["identity"]) + "\n")
    print("report: " + ", ".join(report["paths"].values()))
    print(time_breakdown(report["seconds"], report["wall_seconds"], args.parallel))
    verdicts = report["verdicts"] + report["factor_verdicts"]
    if verdicts:
        print("\nVerdicts (Δ, 95% interval):\n" + "\n".join(verdicts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
