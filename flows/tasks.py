"""The flow's tasks: thin wrappers over augreid's library functions, cached across runs.

Every task is cached on its inputs and its source, and the inputs include digests of what the paths hold (config
file, data set, generator checkpoint, augmented manifest), so a changed file is never answered with a stale
result. A cache entry also counts only while the task's output is still on disk (`cached`).
"""
from __future__ import annotations

import base64
import dataclasses
from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_image_artifact, create_markdown_artifact
from prefect.cache_policies import INPUTS, TASK_SOURCE

from augreid.config import load_config
from augreid.core.atomic import file_sha256
from augreid.data.market import TEST_PAIRS, folder_digest
from augreid.data.pose_estimation import annotate, report_lines
from augreid.data.synthetic import build_synthetic_market
from augreid.evaluation.quality import evaluate, identity_summary, pckh_summary
from augreid.protocol.augmented_set import augment, generator_spec
from augreid.protocol.filtered_set import filter_set
from augreid.protocol.identity_filter import parse_rule
from augreid.protocol.plan import unposed_line
from augreid.reid import train_reid
from augreid.reid.pretrain import pretrain_backbone
from augreid.reid.train import quiet
from augreid.sources.source import GeneratorSpec
from augreid.study.cells import finished_backbone, finished_generator
from augreid.study.report import write_study_report
from augreid.training.trainer import train_generator
from flows.workers import in_worker

CACHED = dict(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)


def cached(task_function, out: str | Path, marker: str):
    """The task, answering from Prefect's cache only while its output is still on disk (someone may have
    deleted `outputs/`); otherwise it runs again and refreshes the cache entry."""
    return task_function.with_options(refresh_cache=not (Path(out) / marker).exists())


def source_of(generator: str, checkpoint: dict | None) -> str | GeneratorSpec:
    """What draws a cell's images: a control's name, or the generator's spec (an external one with the pattern
    and panel its files are read by)."""
    if checkpoint is None:
        return generator
    spec = generator_spec(generator, checkpoint["checkpoint"])
    if "pattern" in checkpoint:
        spec = dataclasses.replace(spec, pattern=checkpoint["pattern"], panel=checkpoint["panel"])
    return spec


STUDY_SPLITS = ["train", "gallery"]  # the generators learn from and draw the first, quality scores the second


@task(**CACHED)
def prepare_data(config: str, config_sha256: str, data_root: str | None, out: str) -> dict:
    """The data set: the given root, its training and test images without keypoints annotated by BlazePose
    (`augreid.annotate`: a folder with complete keypoint files is left as it is), or the synthetic stand-in built
    from the config (reused when present)."""
    if data_root is None:
        data_root = out
        build_synthetic_market(data_root, load_config(config).synthetic, seed=0, progress=False)
    else:
        for line in report_lines(annotate(data_root, STUDY_SPLITS, progress=False)):
            get_run_logger().info("annotate: %s", line)
    return {"root": data_root, "sha256": folder_digest(data_root)}


@task(**CACHED)
def train_generator_task(name: str, data: dict, config: str, config_sha256: str, out: str) -> dict:
    summary = in_worker(train_generator, name, data["root"], load_config(config), out, seed=0, resume=True,
                        progress=False, heldout=False)  # quality_task scores it
    get_run_logger().info("%s: %d iterations at %s it/s on %s in %s s", name, summary["step"],
                          summary["iterations_per_second"], summary["device"], summary["seconds"])
    return finished_generator(out)


@task(**CACHED)
def quality_task(checkpoint: dict, data: dict, config: str, config_sha256: str, reid_model: dict | None,
                 out: str) -> dict:
    """SSIM, mask-SSIM, PSNR on test pairs (the published pairs file when the data root has one), and the
    identity score under `reid_model`."""
    settings = load_config(config).quality
    published = Path(data["root"]) / TEST_PAIRS
    result = in_worker(evaluate, data["root"], source_of(checkpoint["generator"], checkpoint), out,
                       published if published.is_file() else None, settings.pairs, settings.seed,
                       reid_model=reid_model["run"] if reid_model else None)
    get_run_logger().info("%s: SSIM %.4f, mask-SSIM %.4f, PSNR %.2f dB on %d pairs (copy: %.4f, %.4f, %.2f)",
                          result["generator"], result["ssim"], result["mask_ssim"], result["psnr"], result["pairs"],
                          result["copy_ssim"], result["copy_mask_ssim"], result["copy_psnr"])
    for line in pckh_summary({result["generator"]: result}) + identity_summary({result["generator"]: result}):
        get_run_logger().info(line)
    return result


@task(**CACHED)
def augment_task(portion: float | None, data: dict, generator: str, checkpoint: dict | None, seed: int, out: str,
                 filling: dict, factor: int | None = None) -> dict:
    """The augmented set by a portion p kept (`filling`: condition, unposed) or by a factor K (`filling`: poses,
    unposed)."""
    summary = in_worker(augment, portion, data["root"], source_of(generator, checkpoint), None, seed, out,
                        filling.get("condition", "nearest"), progress=False, unposed=filling["unposed"],
                        factor=factor, poses=filling.get("poses", "pool"))
    counts, cell = summary["counts"], f"p={portion:g}" if factor is None else f"K={factor}"
    speed = f"{summary['images_per_second']} images/s" if summary["images_per_second"] else "nothing generated"
    get_run_logger().info("%s %s: %d kept + %d filled = %d training images (%s)", generator, cell,
                          counts["kept"], counts["filled"], counts["training_images"], speed)
    get_run_logger().info("%s %s: %s", generator, cell, unposed_line(summary["unposed"]))
    return {"root": out, "sha256": file_sha256(Path(out) / "manifest.csv")}


@task(**CACHED)
def filter_task(unfiltered: dict, identity_filter: dict, cell: str, out: str) -> dict:
    """The unfiltered set's generated images that pass the identity filter (`identity_filter`: rule, fill and
    the filter's re-ID model), in `out`."""
    summary = in_worker(filter_set, unfiltered["root"], identity_filter["model"]["run"],
                        parse_rule(identity_filter["rule"]), identity_filter["fill"], out)
    counts = summary["filter"]
    get_run_logger().info("%s: filtered %d of %d generated images (mean score %s), slots %s: %d training images",
                          cell, counts["filtered"], counts["scored"], counts["mean_score"], counts["fill"],
                          summary["counts"]["training_images"])
    return {"root": out, "sha256": file_sha256(Path(out) / "manifest.csv")}


@task(**CACHED)
def pretrain_task(config: str, config_sha256: str, out: str) -> dict:
    """The synthetic backbone every re-ID run starts from (`reid.backbone: synthetic`)."""
    summary = in_worker(pretrain_backbone, load_config(config), out, log=quiet)
    get_run_logger().info("re-ID backbone: %s from synthetic population seed %d (mAP %.2f on its own test split)",
                          summary["model"], summary["population_seed"], summary["own_mAP"])
    return finished_backbone(out)


@task(**CACHED)
def reid_task(data: dict, config: str, config_sha256: str, seed: int, out: str, backbone: dict | None = None) -> dict:
    metrics = in_worker(train_reid, data["root"], load_config(config).reid, out, seed=seed,
                        weights=backbone["backbone"] if backbone else None, log=quiet)
    get_run_logger().info("re-ID on %s: mAP %.2f, rank-1 %.2f (%d images, %s images/s)", data["root"], metrics["mAP"],
                          metrics["rank1"], metrics["train_images"], metrics["images_per_second"])
    return metrics


def png_data_url(path: str | Path) -> str:
    """An image the Prefect UI shows without access to this machine's files."""
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode()


@task
def report_task(results: list[dict], generators: list[str], galleries: dict[str, dict], quality: dict[str, dict],
                output: str, filling: dict, metric: str = "map", factor_results: list[dict] | None = None,
                factor_filling: dict | None = None) -> dict:
    """The study's report (`augreid.study.report`), its tables logged and its artifacts published."""
    report = write_study_report(results, generators, galleries, quality, output, filling, metric, factor_results,
                                factor_filling)
    for text in report["logged"]:
        get_run_logger().info("%s", text)
    for artifact in report["artifacts"]:
        if artifact["kind"] == "markdown":
            create_markdown_artifact(markdown=artifact["markdown"], key=artifact["key"],
                                     description=artifact["description"])
        else:
            create_image_artifact(png_data_url(artifact["path"]), key=artifact["key"],
                                  description=artifact["description"])
    return {k: v for k, v in report.items() if k not in ("artifacts", "logged")}
