"""Generation quality on test pairs: SSIM, mask-SSIM and PSNR as the papers' script computes them, PCKh, the
identity score, IS / FID where their weights are present, the gallery, and the quality table.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from augreid.config import QUALITY_PAIRS
from augreid.core.atomic import atomic_write_text
from augreid.core.device import pick_device, weights_cache_dir
from augreid.core.errors import InputError
from augreid.core.output import check_output, output_lock
from augreid.data.annotations import Annotations, read_annotations
from augreid.data.blazepose import BlazePose, describe, keypoints_of, unavailable
from augreid.data.images import check_images, load_image, save_image
from augreid.data.market import annotation_file, split_dir
from augreid.data.pairs import sample_pairs
from augreid.data.pose import body_mask, draw_skeleton
from augreid.evaluation.gallery import comparison_grid
from augreid.metrics.image import psnr, ssim
from augreid.metrics.pckh import pckh
from augreid.reid.identity import QUERY_KINDS, ReidEmbedder, gallery_features, identity_scores, real_gallery
from augreid.sources.inference import Draw
from augreid.sources.source import GeneratorSpec, ImageSource, checkpoint_spec

METRICS = ("ssim", "mask_ssim", "psnr")

GALLERY_ROWS = 8

# metrics of the papers that need pretrained networks, and the weights file each would need
PRETRAINED = {"IS": "inception_v3_google-0cc3c7bd.pth", "FID": "pt_inception-2015-12-05-6726825d.pth",
              "LPIPS": "alexnet-owt-7be5be79.pth (+ LPIPS linear layers)"}


def _chw(pixels: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(pixels).movedim(-1, 1).double()


class PoseReader:
    """BlazePose's keypoints of images: generated ones each time, real ones (by name) once per scoring."""

    def __init__(self, estimator: BlazePose) -> None:
        self.estimator = estimator
        self.real: dict[str, np.ndarray] = {}

    def keypoints(self, image: np.ndarray) -> np.ndarray:
        return keypoints_of(self.estimator.estimate(image))  # no person: every joint missing, so wrong

    def of_real(self, names: list[str], images: np.ndarray) -> list[np.ndarray]:
        for name, image in zip(names, images):
            if name not in self.real:
                self.real[name] = self.keypoints(image)
        return [self.real[name] for name in names]


def score_generator(draw: Draw, image_dir: Path, annotations: Annotations, pairs: pd.DataFrame, batch_size: int = 64,
                    embed: ReidEmbedder | None = None, poses: PoseReader | None = None
                    ) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
    """Mean SSIM, mask-SSIM and PSNR over `pairs` (columns from, to) for the generator and, prefixed `copy_`,
    for copying the condition image; with `poses`, PCKh of the generated, real target and condition images; with
    `embed`, also the re-ID features of the generated, real target and condition images, in pair order."""
    scores: dict[str, list[torch.Tensor]] = {prefix + m: [] for prefix in ("", "copy_") for m in METRICS}
    features: dict[str, list[torch.Tensor]] = {kind: [] for kind in QUERY_KINDS} if embed else {}
    estimated: dict[str, list[np.ndarray]] = {kind: [] for kind in QUERY_KINDS} if poses else {}
    for start in range(0, len(pairs), batch_size):
        rows = pairs.iloc[start: start + batch_size]
        condition = np.stack([load_image(image_dir / name) for name in rows["from"]])
        target = np.stack([load_image(image_dir / name) for name in rows["to"]])
        target_pose = annotations.poses(rows["to"])
        generated = draw(rows["from"].tolist(), rows["to"].tolist(), condition, annotations.poses(rows["from"]),
                         target_pose)
        real = _chw(target)
        mask = torch.from_numpy(np.stack([body_mask(pose) for pose in target_pose]))[:, None].double()
        for prefix, images in (("", _chw(generated)), ("copy_", _chw(condition))):
            scores[prefix + "ssim"].append(ssim(images, real))
            scores[prefix + "mask_ssim"].append(ssim(images * mask, real * mask))  # both masked, as published
            scores[prefix + "psnr"].append(psnr(images, real))
        for kind, images in zip(features, (generated, target, condition)):
            features[kind].append(embed(images))
        if poses:
            estimated["generated"] += [poses.keypoints(image) for image in generated]
            estimated["target"] += poses.of_real(rows["to"].tolist(), target)
            estimated["copy"] += poses.of_real(rows["from"].tolist(), condition)
    means = {key: round(torch.cat(values).mean().item(), 4) for key, values in scores.items()}
    if poses:
        targets = annotations.poses(pairs["to"])
        means["pckh"] = {kind: pckh(np.stack(found), targets) for kind, found in estimated.items()}
    return {"pairs": len(pairs), **means}, {kind: torch.cat(values) for kind, values in features.items()}


def read_pairs(path: str | Path, annotations: Annotations, image_dir: Path) -> pd.DataFrame:
    """A `from,to` pairs CSV; every image must exist and be annotated (errors name the file and line)."""
    path = Path(path)
    try:
        pairs = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise InputError(f"{path}: cannot read pairs ({type(err).__name__}: {str(err).splitlines()[0]})") from None
    if list(pairs.columns[:2]) != ["from", "to"] or pairs.empty:
        raise InputError(f"{path}: expected a header 'from,to' and at least one pair")
    for row, (first, second) in enumerate(zip(pairs["from"], pairs["to"])):
        for name in (first, second):
            where = f"{path}:{row + 2}"  # the header is line 1
            if name not in annotations:
                raise InputError(f"{where}: {name} has no keypoints in the test annotations")
            if not (image_dir / name).is_file():
                raise InputError(f"{where}: {image_dir / name} does not exist")
    return pairs[["from", "to"]].reset_index(drop=True)


def pretrained_metrics() -> dict[str, str]:
    """Why each pretrained-network metric has no value here (no silent zeros)."""
    cache = weights_cache_dir()
    return {name: ("not computed: not implemented in augreid" if (cache / file).is_file()
                   else "not computed: weights unavailable") for name, file in PRETRAINED.items()}


def gallery(draw: Draw, image_dir: Path, annotations: Annotations, pairs: pd.DataFrame,
            rows: int = GALLERY_ROWS) -> np.ndarray:
    """The first `rows` pairs (fixed by the pairs file or seed): condition | target pose | generated | real."""
    sample = pairs.iloc[:rows]
    condition = np.stack([load_image(image_dir / name) for name in sample["from"]])
    target_pose = annotations.poses(sample["to"])
    generated = draw(sample["from"].tolist(), sample["to"].tolist(), condition, annotations.poses(sample["from"]),
                     target_pose)
    return comparison_grid([[condition[i], draw_skeleton(target_pose[i]), generated[i],
                             load_image(image_dir / sample["to"].iloc[i])] for i in range(len(sample))])


def test_pairs(data_root: Path, pairs_csv: str | Path | None, count: int, seed: int) -> tuple[pd.DataFrame, Annotations]:
    """The scored pairs (`from`, `to`): the pairs file, else `count` drawn with `seed` from the test identities;
    and the test annotations."""
    if not data_root.is_dir():
        raise InputError(f"{data_root}: data root does not exist")
    annotations_path = annotation_file(data_root, "gallery")
    if not annotations_path.is_file():
        raise InputError(f"{annotations_path}: test annotations not found (the test split's keypoint file)")
    annotations = read_annotations(annotations_path)
    if pairs_csv is not None:
        return read_pairs(pairs_csv, annotations, split_dir(data_root, "gallery")), annotations
    pairs = sample_pairs(annotations, count, seed)
    if pairs.empty:
        raise InputError(f"{annotations_path}: no test pairs (identities need two images with shoulders and hips)")
    return pairs, annotations


def evaluate(data_root: str | Path, generator: str | Path | GeneratorSpec, out: str | Path,
             pairs_csv: str | Path | None = None, count: int = QUALITY_PAIRS, seed: int = 0, device: str = "auto",
             reid_model: str | Path | None = None) -> dict:
    """Score one generator (a checkpoint's path, or any generator's spec) on test pairs (and, with `reid_model`,
    the identity of its images); writes `quality.json` and `gallery.png` to `out`."""
    data_root, out = Path(data_root), check_output(out, data_root)
    pairs, annotations = test_pairs(data_root, pairs_csv, count, seed)
    image_dir = split_dir(data_root, "gallery")
    spec = generator if isinstance(generator, GeneratorSpec) else checkpoint_spec(generator)
    device_ = pick_device(device)
    source = ImageSource(spec, device_, pairs, data_root)
    reference = real_gallery(image_dir) if reid_model is not None else None
    check_images([image_dir / name for name in pd.unique(pairs[["from", "to"]].values.ravel())]
                 + (list(reference["path"]) if reference is not None else []))
    with output_lock(out):
        return _score(data_root, out, annotations, image_dir, pairs, pairs_csv, count, seed, device_, source,
                      reid_model, reference)


def _score(data_root: Path, out: Path, annotations: Annotations, image_dir: Path, pairs: pd.DataFrame,
           pairs_csv: str | Path | None, count: int, seed: int, device_: torch.device, source: ImageSource,
           reid_model: str | Path | None, reference: pd.DataFrame | None) -> dict:
    embed = ReidEmbedder(reid_model, device_) if reid_model is not None else None
    started = time.perf_counter()
    missing_estimator = unavailable()
    if missing_estimator:
        scores, features = score_generator(source.draw, image_dir, annotations, pairs, embed=embed)
        scores["pckh"] = {"not_computed": missing_estimator}
    else:
        with BlazePose() as estimator:
            scores, features = score_generator(source.draw, image_dir, annotations, pairs, embed=embed,
                                               poses=PoseReader(estimator))
        scores["pckh"]["estimator"] = describe()
    identity = None
    if embed is not None:
        identity = {**identity_scores(features, pairs, reference, gallery_features(embed, reference)),
                    "reid_model": embed.source}
    seconds = time.perf_counter() - started
    result = {
        "generator": source.spec.label, "architecture": source.payload.get("architecture"),
        "step": source.payload.get("step"), **scores, "identity": identity, "pretrained_metrics": pretrained_metrics(),
        "inputs": {"data_root": str(data_root.resolve()), "source": source.provenance(),
                   "pairs": str(Path(pairs_csv).resolve()) if pairs_csv else f"{count} drawn with seed {seed}",
                   "reid_model": str(Path(reid_model).resolve()) if reid_model is not None else None},
        "seconds": round(seconds, 1), "pairs_per_second": round(len(pairs) / max(seconds, 1e-9), 1),
        "device": str(device_),
    }
    out.mkdir(parents=True, exist_ok=True)
    save_image(out / "gallery.png", gallery(source.draw, image_dir, annotations, pairs))
    atomic_write_text(out / "quality.json", json.dumps(result, indent=2) + "\n")
    return result


def _identity_cells(identity: dict | None, kind: str) -> str:
    if identity is None:
        return "not computed (no re-ID model) | not computed (no re-ID model)"
    return f"{identity[kind]['rank1']:.1f} | {identity[kind]['mAP']:.1f}"


def _pckh_cell(result: dict, kind: str) -> str:
    scores = result.get("pckh")
    if scores is None:
        return "not computed (scored before augreid had PCKh)"
    if "not_computed" in scores:
        return f"not computed ({scores['not_computed']})"
    value = scores[kind]["pckh"]
    return "– (no target joints)" if value is None else f"{value:.3f}"


def quality_table(results: dict[str, dict]) -> str:
    """Markdown: one row per generator, then the baselines on the same pairs (from the first result): copying the
    condition image, and the real target image (identity and PCKh only: it is the reference of the image metrics).
    The pretrained-network metrics augreid lacks say why they are missing."""
    pretrained = list(PRETRAINED)
    header = ("| generator | pairs | SSIM | mask-SSIM | PSNR (dB) | PCKh (BlazePose) | identity rank-1 | identity mAP | "
              + " | ".join(pretrained) + " |")
    lines = [header, "|---|" + "---|" * (7 + len(pretrained))]
    rows = [(name, r, "generated") for name, r in results.items()]
    if rows:
        first = rows[0][1]
        rows.append(("copy the condition image", {**first, **{m: first["copy_" + m] for m in METRICS}}, "copy"))
    for name, r, kind in rows:
        reasons = [r["pretrained_metrics"][m].removeprefix("not computed: ") for m in pretrained]
        lines.append(f"| {name} | {r['pairs']} | {r['ssim']:.4f} | {r['mask_ssim']:.4f} | {r['psnr']:.2f} | "
                     f"{_pckh_cell(r, kind)} | {_identity_cells(r['identity'], kind)} | "
                     + " | ".join(f"not computed ({reason})" for reason in reasons) + " |")
    if rows:
        first = rows[0][1]
        lines.append(f"| real target image (upper bound) | {first['pairs']} | – | – | – | {_pckh_cell(first, 'target')} | "
                     f"{_identity_cells(first['identity'], 'target')} | " + " | ".join("–" for _ in pretrained) + " |")
    return "\n".join(lines) + "\n"


def identity_summary(results: dict[str, dict]) -> list[str]:
    """One line per generator: its images' identity rank-1 against the real targets' and the copies'."""
    lines = []
    for name, r in results.items():
        if r["identity"] is None:
            continue
        identity = r["identity"]
        share = identity["generated"]["rank1"] / max(identity["target"]["rank1"], 1e-9)
        lines.append(f"{name}: identity rank-1 {identity['generated']['rank1']:.1f} (mAP "
                     f"{identity['generated']['mAP']:.1f}) = {share:.0%} of the real targets' "
                     f"{identity['target']['rank1']:.1f}; copying the condition image "
                     f"{identity['copy']['rank1']:.1f}, on {identity['generated']['pairs']} test pairs")
    return lines


def pckh_summary(results: dict[str, dict]) -> list[str]:
    """One line per generator: PCKh of its images beside the real targets' (the estimator's ceiling) and the copies'."""
    lines = []
    for name, r in results.items():
        scores = r.get("pckh") or {}
        if "generated" in scores:
            found = {kind: scores[kind].get("found") for kind in ("generated", "target")}
            lines.append(f"{name}: PCKh {_pckh_cell(r, 'generated')} (real targets {_pckh_cell(r, 'target')}, the "
                         f"estimator's ceiling; copies {_pckh_cell(r, 'copy')}) over {scores['generated']['joints']} "
                         f"target joints of {scores['generated']['pairs']} pairs; BlazePose, not the papers' OpenPose, "
                         f"found a person in {found['generated']} of {r['pairs']} generated images "
                         f"({found['target']} of the real targets)")
    return lines
