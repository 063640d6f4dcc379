"""The flow's tasks: thin wrappers over augreid's library functions, cached across runs.

Every task is cached on its inputs and its source, and the inputs include digests of what the paths hold (config
file, data set, generator checkpoint, augmented manifest), so a changed file is never answered with a stale
result. A cache entry also counts only while the task's output is still on disk (`cached`).
"""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from pathlib import Path

import pandas as pd
from prefect import get_run_logger, task
from prefect.artifacts import create_image_artifact, create_markdown_artifact
from prefect.cache_policies import INPUTS, TASK_SOURCE

from augreid.config import load_config, parse_poses
from augreid.core.atomic import atomic_write_text, file_sha256, files_digest
from augreid.data.market import ANNOTATION_FILES, GENERATED_SUMMARY, SPLIT_DIRS, TEST_PAIRS
from augreid.data.pose_estimation import annotate, report_lines
from augreid.data.synthetic import build_synthetic_market
from augreid.evaluation.gallery import write_gallery
from augreid.evaluation.quality import evaluate, identity_summary, pckh_summary, quality_table
from augreid.protocol.augmented_set import augment, generator_spec
from augreid.protocol.plan import unposed_line
from augreid.reid import train_reid
from augreid.reid.pretrain import BACKBONE, pretrain_backbone
from augreid.reid.train import quiet
from augreid.sources.plugins import plugin_digest
from augreid.sources.source import GeneratorSpec
from augreid.study.comparisons import (cell_intervals, cell_marks, compare_cells, legend, verdict_lines,
                                       write_comparisons)
from augreid.study.table_vi import AXES, LEADING, cells_note, results_frame, summarise, to_markdown, write_report
from augreid.training.trainer import train_generator
from flows.workers import in_worker

CACHED = dict(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
GENERATOR_MARKER, AUGMENTED_MARKER, REID_MARKER = "summary.json", GENERATED_SUMMARY, "metrics.json"
QUALITY_MARKER = "quality.json"


def folder_digest(root: str | Path) -> str:
    """What a Market-layout folder holds: the bytes of every split's images (as `augreid.generate` digests a set)
    and of the annotation files, so that an image replaced by another of the same size changes the key."""
    root = Path(root)
    digest = hashlib.sha256()
    for folder in SPLIT_DIRS.values():
        digest.update(f"{folder}:{files_digest((root / folder).glob('*.jpg'))}\n".encode())
    for name in ANNOTATION_FILES.values():
        if (root / name).is_file():
            digest.update(file_sha256(root / name).encode())
    return digest.hexdigest()


def cached(task_function, out: str | Path, marker: str):
    """The task, answering from Prefect's cache only while its output is still on disk (someone may have
    deleted `outputs/`); otherwise it runs again and refreshes the cache entry."""
    return task_function.with_options(refresh_cache=not (Path(out) / marker).exists())


def finished_generator(out: str | Path) -> dict:
    """A trained generator as the later steps see it: its checkpoint and that file's digest."""
    checkpoint = Path(out) / "generator.pt"
    return {"checkpoint": str(checkpoint), "sha256": file_sha256(checkpoint)}


def given_generator(text: str, spec: GeneratorSpec) -> dict:
    """A generator the flow does not train, as the later steps see it: its name as given, and the digest of what
    draws its images (the checkpoint, the images' folder, or the plugin's package)."""
    if spec.kind == "external":
        sha256 = files_digest(p for p in Path(spec.path).iterdir() if p.is_file())
        return {"generator": text, "checkpoint": None, "sha256": sha256, "pattern": spec.pattern, "panel": spec.panel}
    sha256 = file_sha256(spec.path) if spec.path else plugin_digest(spec.label)
    return {"generator": text, "checkpoint": None, "sha256": sha256}


def source_of(generator: str, checkpoint: dict | None) -> str | GeneratorSpec:
    """What draws a cell's images: a control's name, or the generator's spec (an external one with the pattern
    and panel its files are read by)."""
    if checkpoint is None:
        return generator
    spec = generator_spec(generator, checkpoint["checkpoint"])
    if "pattern" in checkpoint:
        spec = dataclasses.replace(spec, pattern=checkpoint["pattern"], panel=checkpoint["panel"])
    return spec


def finished_reid(out: str | Path) -> dict:
    return json.loads((Path(out) / REID_MARKER).read_text())


def finished_reid_model(out: str | Path) -> dict:
    """A trained re-ID run as the identity score sees it: its folder and its weights' digest."""
    return {"run": str(out), "sha256": file_sha256(Path(out) / "model.pt")}


def finished_quality(out: str | Path) -> dict:
    return json.loads((Path(out) / QUALITY_MARKER).read_text())


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
def pretrain_task(config: str, config_sha256: str, out: str) -> dict:
    """The synthetic backbone every re-ID run starts from (`reid.backbone: synthetic`)."""
    summary = in_worker(pretrain_backbone, load_config(config), out, log=quiet)
    get_run_logger().info("re-ID backbone: %s from synthetic population seed %d (mAP %.2f on its own test split)",
                          summary["model"], summary["population_seed"], summary["own_mAP"])
    return finished_backbone(out)


def finished_backbone(out: str | Path) -> dict:
    return {"backbone": str(Path(out) / BACKBONE), "sha256": file_sha256(Path(out) / BACKBONE)}


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


CONDITIONS = {"nearest": "kept image of the same person whose pose is nearest (condition: nearest)",
              "random": "a random kept image of the same person (condition: random)"}
UNPOSED = {"generate": "generated like the others", "copy": "filled with their condition image",
           "skip": "left out"}
MAP_RULES = {"torchreid": "torchreid's average precision (the mean precision at each true match)",
             "devkit": "the Market-1501 devkit's average precision (trapezoid rule, as the PoNA paper's baseline)"}


def budget_note(results: list[dict]) -> str:
    """The re-ID runs' budget and mAP rule, in the report's words."""
    budgets = sorted({r["budget"] for r in results})
    steps = sorted({r["steps"] for r in results})
    if budgets == ["steps"]:
        budget = f"Re-ID budget: steps (every run took the full set's {steps[0]} optimizer steps)."
    else:
        budget = (f"Re-ID budget: {', '.join(budgets)} (the same epochs whatever the set's size: "
                  f"{steps[0]} to {steps[-1]} optimizer steps).")
    rules = sorted({r["map_rule"] for r in results})
    return f"{budget} mAP: " + "; ".join(MAP_RULES[rule] for rule in rules) + "."


def protocol_note(results: list[dict], filling: dict) -> str:
    """The filling's condition mode and unposed policy, the re-ID runs' budget and mAP rule."""
    return (f"Missing images conditioned on the {CONDITIONS[filling['condition']]}; those without shoulders or hips "
            f"{UNPOSED[filling['unposed']]}. {budget_note(results)}")


FACTOR_UNPOSED = {"generate": "generated like the others", "copy": "copies of the image", "skip": "not added"}


def factor_note(results: list[dict], filling: dict) -> str:
    """Augmentation by K: where the added poses came from, the unposed policy, what `none` is, the budget."""
    poses = parse_poses(filling["poses"])
    source = ("drawn from the poses of other training images with shoulders and hips" if poses.mode == "pool" else
              f"the {poses.count} canonical poses (k-means on centred, scale-normalised training poses), in turn")
    return (f"Every training image kept and K-1 added, conditioned on it, in poses {source}; the additions of an "
            f"image without shoulders or hips {FACTOR_UNPOSED[filling['unposed']]}. `none` is the original set (one "
            f"run per seed, the same at every K). {budget_note(results)}")


PROTOCOLS = {  # axis -> (artifact and path key prefix, the table's description)
    "portion": ("", "by generator and kept portion"),
    "factor": ("factor_", "by generator and augmentation factor K"),
}


def protocol_report(results: list[dict], generators: list[str], report: Path, note: str, metric: str,
                    axis: str) -> dict:
    """One protocol's table (markdown with the comparisons' marks, CSV, plot; `metric` leading) and its paired
    comparisons, written under `report` and published as artifacts."""
    prefix, description = PROTOCOLS[axis]
    runs = pd.DataFrame(results)
    comparisons = compare_cells(runs, generators, metric=metric)
    marks = cell_marks(comparisons)
    notes = f"{note}\n\n{legend(metric, axis)}" if not comparisons.empty else note
    summary = summarise(results_frame(results, axis), generators, cell_intervals(runs))
    paths = write_report(summary, report, marks=marks, notes=notes, metric=metric)
    paths.update(write_comparisons(comparisons, report, ", ".join(sorted({r["budget"] for r in results}))))
    markdown, name = to_markdown(summary, marks, metric), LEADING[metric][1]
    title = f"Table VI: re-ID {name} (%)" if axis == "portion" else f"Re-ID {name} (%) by augmentation factor K"
    files = "\n".join(f"- {key}: `{Path(path).resolve()}`" for key, path in paths.items())
    key = prefix.replace("_", "-")
    create_markdown_artifact(markdown=f"# {title}\n\n{cells_note(metric)}\n\n{markdown}\n{notes}\n\n{files}\n",
                             key=AXES[axis][2].replace("_", "-"),
                             description=f"re-ID {name} {description}")
    create_markdown_artifact(markdown=Path(paths["comparisons"]).read_text(), key=f"{key}comparisons",
                             description=f"each generator against none and duplicate at the same "
                                         f"{AXES[axis][0]}: Δ mAP / rank-1, 95% intervals")
    create_image_artifact(png_data_url(paths["plot"]), key=f"map-vs-{axis}", description=f"{name} against {AXES[axis][1]}")
    verdicts = verdict_lines(comparisons)
    get_run_logger().info("%s\n%s\n%s", title, markdown, "\n".join(verdicts))
    heading = f"{title} ({'r1 rank-1' if metric == 'map' else 'mAP in brackets'})"
    return {"paths": {f"{prefix}{k}": v for k, v in paths.items()}, "table": markdown, "heading": heading,
            "notes": notes, "verdicts": verdicts}


@task
def report_task(results: list[dict], generators: list[str], galleries: dict[str, dict], quality: dict[str, dict],
                output: str, filling: dict, metric: str = "map", factor_results: list[dict] | None = None,
                factor_filling: dict | None = None) -> dict:
    """Table VI (when portions ran) and the factor table (when factors ran), each with its paired comparisons; the
    quality table and one gallery per generator under `output/report/`, also published as artifacts: the tables
    as markdown, the plots and the galleries as images."""
    report = Path(output) / "report"
    empty = {"paths": {}, "table": "", "heading": "", "notes": "", "verdicts": []}
    table_vi = protocol_report(results, generators, report, protocol_note(results, filling), metric, "portion") \
        if results else empty
    by_factor = protocol_report(factor_results, [g for g in generators if g != "real"], report,
                                factor_note(factor_results, factor_filling), metric, "factor") \
        if factor_results else empty
    paths = {**table_vi["paths"], **by_factor["paths"]}
    quality_markdown = quality_table(quality) if quality else ""
    if quality:
        paths["quality"] = str(report / "quality.md")
        atomic_write_text(report / "quality.md", "# Generation quality on test pairs\n\n" + quality_markdown)
        create_markdown_artifact(markdown="# Generation quality on test pairs\n\n" + quality_markdown, key="quality",
                                 description="SSIM, mask-SSIM, PSNR and identity score per generator, beside "
                                             "copying the condition and the real target")
    for generator, sets in galleries.items():
        if write_gallery(sets["augmented"], sets["source"], report / f"gallery_{generator}.png"):
            paths[f"gallery_{generator}"] = str(report / f"gallery_{generator}.png")
    for key in (k for k in paths if k.startswith("gallery_")):
        create_image_artifact(png_data_url(paths[key]), key=key.replace("_", "-"),
                              description="condition | target pose | generated | real")
    return {"paths": paths, "table": table_vi["table"], "heading": table_vi["heading"], "notes": table_vi["notes"],
            "verdicts": table_vi["verdicts"], "factor_table": by_factor["table"],
            "factor_heading": by_factor["heading"], "factor_notes": by_factor["notes"],
            "factor_verdicts": by_factor["verdicts"], "quality_table": quality_markdown,
            "identity": identity_summary(quality)}
