"""The study's report: Table VI (and the factor table) with the marks of their paired comparisons and the notes
that say how the cells were made, the quality table and one gallery per generator, written under `report/`.

Besides the files, the report lists what a scheduler may publish (`artifacts`: markdown and images with a key and
a description); the flow hands them to Prefect, the library never does.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from augreid.config import parse_label_policy, parse_poses
from augreid.core.atomic import atomic_write_text
from augreid.evaluation.gallery import write_gallery
from augreid.evaluation.quality import identity_summary, quality_table
from augreid.protocol.pose_entropy import entropy_notes
from augreid.study.comparisons import (cell_intervals, cell_marks, compare_cells, legend, verdict_lines,
                                       write_comparisons)
from augreid.study.table_vi import AXES, LEADING, cells_note, results_frame, summarise, to_markdown, write_report

CONDITIONS = {"nearest": "kept image of the same person whose pose is nearest (condition: nearest)",
              "random": "a random kept image of the same person (condition: random)"}
UNPOSED = {"generate": "generated like the others", "copy": "filled with their condition image",
           "skip": "left out"}
FACTOR_UNPOSED = {"generate": "generated like the others", "copy": "copies of the image", "skip": "not added"}
MAP_RULES = {"torchreid": "torchreid's average precision (the mean precision at each true match)",
             "devkit": "the Market-1501 devkit's average precision (trapezoid rule, as the PoNA paper's baseline)"}
PROTOCOLS = {  # axis -> (artifact and path key prefix, the table's description)
    "portion": ("", "by generator and kept portion"),
    "factor": ("factor_", "by generator and augmentation factor K"),
}
QUALITY_TITLE = "# Generation quality on test pairs\n\n"
LABELS = {"smooth": "their identity smoothed by {epsilon:g}, on generated images only",
          "lsro": "uniform over the training identities (LSRO, Zheng et al., ICCV 2017)"}


def labels_note(results: list[dict]) -> str:
    """The identity targets the generated images trained with (`reid.generated_labels`); nothing for `hard`, the
    person's own identity as real images have (a run from before the policy was recorded had it)."""
    texts = sorted({r.get("generated_labels", "hard") for r in results} - {"hard"})
    policies = [parse_label_policy(text) for text in texts]
    return "".join(f" Generated images' identity targets ({policy}): "
                   f"{LABELS[policy.kind].format(epsilon=policy.epsilon)}." for policy in policies)


def budget_note(results: list[dict]) -> str:
    """The re-ID runs' budget, mAP rule and label policy of generated images, in the report's words."""
    budgets = sorted({r["budget"] for r in results})
    steps = sorted({r["steps"] for r in results})
    if budgets == ["steps"]:
        budget = f"Re-ID budget: steps (every run took the full set's {steps[0]} optimizer steps)."
    else:
        budget = (f"Re-ID budget: {', '.join(budgets)} (the same epochs whatever the set's size: "
                  f"{steps[0]} to {steps[-1]} optimizer steps).")
    rules = sorted({r["map_rule"] for r in results})
    return f"{budget} mAP: " + "; ".join(MAP_RULES[rule] for rule in rules) + "." + labels_note(results)


def protocol_note(results: list[dict], filling: dict) -> str:
    """The filling's condition mode and unposed policy, the re-ID runs' budget and mAP rule."""
    return (f"Missing images conditioned on the {CONDITIONS[filling['condition']]}; those without shoulders or hips "
            f"{UNPOSED[filling['unposed']]}. {budget_note(results)}")


def factor_note(results: list[dict], filling: dict) -> str:
    """Augmentation by K: where the added poses came from, the unposed policy, what `none` is, the budget, and the
    pose-cluster entropy of the added poses."""
    poses = parse_poses(filling["poses"])
    source = {"pool": "drawn from the poses of other training images with shoulders and hips",
              "canonical": f"the {poses.count} canonical poses (k-means on centred, scale-normalised training poses), "
                           "in turn",
              "rare": f"drawn inversely to the size of their pose cluster ({poses.count} k-means clusters x front, "
                      "back and side views)"}[poses.mode]
    entropy = "".join(f" {line}." for line in entropy_notes(results))
    return (f"Every training image kept and K-1 added, conditioned on it, in poses {source}; the additions of an "
            f"image without shoulders or hips {FACTOR_UNPOSED[filling['unposed']]}. `none` is the original set (one "
            f"run per seed, the same at every K). {budget_note(results)}{entropy}")


FILTER_NOTE = ("Identity filter (rows GEN+idT: a generated image kept if the cosine similarity of its feature to its "
               "person's mean real feature is at least T; GEN+topQ: the best fraction Q per person), scored by the "
               "re-ID model of `none` at the same p and seed (by a factor: of the full set). Failing slots:")


def filter_lines(results: list[dict], axis: str) -> list[str]:
    """One line per filtered cell: how many of its generated images the identity filter took out."""
    fills = {"empty": "left empty", "copy": "filled with their condition image"}
    return [f"- filtered: {r['filtered']} of {r['scored']} generated images ({r['generator']}, {AXES[axis][0]}="
            f"{r[axis]:g}, seed {r['seed']}), {fills[r['fill']]}" for r in results if "filtered" in r]


def markdown_artifact(key: str, markdown: str, description: str) -> dict:
    return {"kind": "markdown", "key": key, "markdown": markdown, "description": description}


def image_artifact(key: str, path: str, description: str) -> dict:
    return {"kind": "image", "key": key, "path": path, "description": description}


def protocol_report(results: list[dict], generators: list[str], report: Path, note: str, metric: str,
                    axis: str) -> dict:
    """One protocol's table (markdown with the comparisons' marks, CSV, plot; `metric` leading) and its paired
    comparisons, written under `report`, with the artifacts that publish them."""
    prefix, description = PROTOCOLS[axis]
    runs = pd.DataFrame(results)
    comparisons = compare_cells(runs, generators, metric=metric)
    marks = cell_marks(comparisons)
    filtered = filter_lines(results, axis)
    notes = f"{note}\n\n{legend(metric, axis, bool(filtered))}" if not comparisons.empty else note
    if filtered:
        notes += f"\n\n{FILTER_NOTE}\n" + "\n".join(filtered)
    summary = summarise(results_frame(results, axis), generators, cell_intervals(runs))
    paths = write_report(summary, report, marks=marks, notes=notes, metric=metric)
    paths.update(write_comparisons(comparisons, report, ", ".join(sorted({r["budget"] for r in results}))))
    markdown, name = to_markdown(summary, marks, metric), LEADING[metric][1]
    title = f"Table VI: re-ID {name} (%)" if axis == "portion" else f"Re-ID {name} (%) by augmentation factor K"
    files = "\n".join(f"- {key}: `{Path(path).resolve()}`" for key, path in paths.items())
    key = prefix.replace("_", "-")
    artifacts = [
        markdown_artifact(AXES[axis][2].replace("_", "-"),
                          f"# {title}\n\n{cells_note(metric)}\n\n{markdown}\n{notes}\n\n{files}\n",
                          f"re-ID {name} {description}"),
        markdown_artifact(f"{key}comparisons", Path(paths["comparisons"]).read_text(),
                          f"each generator against none and duplicate at the same {AXES[axis][0]}: Δ mAP / rank-1, "
                          "95% intervals"),
        image_artifact(f"map-vs-{axis}", paths["plot"], f"{name} against {AXES[axis][1]}"),
    ]
    heading = f"{title} ({'r1 rank-1' if metric == 'map' else 'mAP in brackets'})"
    return {"paths": {f"{prefix}{k}": v for k, v in paths.items()}, "table": markdown, "heading": heading,
            "title": title, "notes": notes, "verdicts": verdict_lines(comparisons), "artifacts": artifacts}


NO_TABLE = {"paths": {}, "table": "", "heading": "", "title": "", "notes": "", "verdicts": [], "artifacts": []}


def write_study_report(results: list[dict], generators: list[str], galleries: dict[str, dict],
                       quality: dict[str, dict], output: str | Path, filling: dict, metric: str = "map",
                       factor_results: list[dict] | None = None, factor_filling: dict | None = None) -> dict:
    """Table VI (when portions ran) and the factor table (when factors ran), each with its paired comparisons; the
    quality table and one gallery per generator under `output/report/`; and the artifacts that publish them: the
    tables as markdown, the plots and the galleries as images."""
    report = Path(output) / "report"
    table_vi = protocol_report(results, generators, report, protocol_note(results, filling), metric, "portion") \
        if results else NO_TABLE
    by_factor = protocol_report(factor_results, [g for g in generators if g != "real"], report,
                                factor_note(factor_results, factor_filling), metric, "factor") \
        if factor_results else NO_TABLE
    paths = {**table_vi["paths"], **by_factor["paths"]}
    artifacts = table_vi["artifacts"] + by_factor["artifacts"]
    quality_markdown = quality_table(quality) if quality else ""
    if quality:
        paths["quality"] = str(report / "quality.md")
        atomic_write_text(report / "quality.md", QUALITY_TITLE + quality_markdown)
        artifacts.append(markdown_artifact("quality", QUALITY_TITLE + quality_markdown,
                                           "SSIM, mask-SSIM, PSNR and identity score per generator, beside copying "
                                           "the condition and the real target"))
    for generator, sets in galleries.items():
        if write_gallery(sets["augmented"], sets["source"], report / f"gallery_{generator}.png"):
            paths[f"gallery_{generator}"] = str(report / f"gallery_{generator}.png")
            artifacts.append(image_artifact(f"gallery-{generator}", paths[f"gallery_{generator}"],
                                            "condition | target pose | generated | real"))
    return {"paths": paths, "table": table_vi["table"], "heading": table_vi["heading"], "notes": table_vi["notes"],
            "verdicts": table_vi["verdicts"], "factor_table": by_factor["table"],
            "factor_heading": by_factor["heading"], "factor_notes": by_factor["notes"],
            "factor_verdicts": by_factor["verdicts"], "quality_table": quality_markdown,
            "identity": identity_summary(quality), "artifacts": artifacts,
            "logged": [f"{t['title']}\n{t['table']}\n" + "\n".join(t["verdicts"]) for t in (table_vi, by_factor)
                       if t["table"]]}
