"""The identity filter: keep a generated image only if a re-ID model still sees its person in it.

A row `pona+id0.5` keeps a generated image whose identity score is at least 0.5; `pona+top0.5` keeps the best
half of each identity's generated images (round(q * n), at least one, as the portion p rounds). Filtered slots are
left empty or filled with their condition image (`augmentation.filter_fill`: `empty` or `copy`, the `duplicate`
control's filling). Sources: "Exploring the Quality of GAN Generated Images for Person Re-Identification" (ACM MM
2021) and Diffusion-ReID (arXiv 2406.06045), which keeps generated images by a re-ID model's confidence.

The score is a feature similarity, not the classifier's softmax probability of the image's own identity: the
cosine similarity of the generated image's feature to its person's prototype, the mean of the L2-normalised
features of that person's real images the filter model trained on. The softmax depends on how many identities
the classifier has and is flattened by label smoothing, so one threshold would mean different things for
different runs; a cosine similarity does not, and it is what the re-ID ranking itself compares. Its range is
[-1, 1]; the pooled ReLU features of the built-in models make it [0, 1] in practice.

No leakage: the filter model must never have seen a real image that the set removed. In the portion protocol it
is the `none` run of the same p and seed (the kept images only); in the factor protocol, nothing is removed and
it is the full set's run of the same seed. `check_no_leakage` refuses any other.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from augreid.core.errors import InputError
from augreid.data.market import SPLIT_DIRS, scan_split
from augreid.protocol.portion import kept_count

SEPARATOR = "+"  # a filtered row's name: the generator's, SEPARATOR, the rule (pona+id0.5)
FILLS = ("empty", "copy")
_RULE = re.compile(r"^(id|top)(\d+(?:\.\d*)?|\.\d+)$")
_FILTERED = re.compile(rf"^(.+){re.escape(SEPARATOR)}((?:id|top)[\d.]*)$")
RULE_HELP = ("idT (keep a generated image whose identity score, a cosine similarity, is at least T, 0 <= T <= 1) "
             "or topQ (keep the best fraction Q of each identity's generated images, 0 < Q <= 1)")


@dataclass(frozen=True)
class FilterRule:
    """`id`: keep a generated image whose score is at least `value`; `top`: keep the best fraction `value` of
    each identity's generated images."""
    kind: str
    value: float

    def __str__(self) -> str:
        return f"{self.kind}{self.value:g}"


def parse_rule(text: str) -> FilterRule:
    found = _RULE.match(text)
    if not found:
        raise InputError(f"identity filter '{text}': expected {RULE_HELP}")
    rule = FilterRule(found[1], float(found[2]))
    if rule.kind == "id" and rule.value > 1 or rule.kind == "top" and not 0 < rule.value <= 1:
        raise InputError(f"identity filter '{text}': {rule.value:g} is out of range; expected {RULE_HELP}")
    return rule


def check_fill(fill: str) -> str:
    if fill not in FILLS:
        raise InputError(f"filter fill '{fill}': expected empty (leave a filtered slot out) or copy (fill it with "
                         "its condition image, as `duplicate` does)")
    return fill


def split_filtered(name: str) -> tuple[str, FilterRule | None]:
    """A row's name as (generator, rule): `pona+id0.5` -> ('pona', id0.5); `pona` -> ('pona', None). Only a
    last part that starts as a rule does (`+id`, `+top`): a path given with the generator may hold a `+`."""
    found = _FILTERED.match(name)
    return (found[1], parse_rule(found[2])) if found else (name, None)


def identity_scores(generated: torch.Tensor, generated_pids: np.ndarray, real: torch.Tensor,
                    real_pids: np.ndarray) -> np.ndarray:
    """Each generated image's cosine similarity to its person's prototype (the mean of the L2-normalised
    features of that person's real images). A generated image whose person has no real image is a bug upstream."""
    real = torch.nn.functional.normalize(real.float(), dim=1)
    pids = np.unique(real_pids)
    missing = sorted(set(np.unique(generated_pids)) - set(pids))
    if missing:
        raise RuntimeError(f"identity filter: person {missing[0]} has generated images but no real one to compare")
    prototypes = torch.stack([real[torch.from_numpy(real_pids == pid)].mean(0) for pid in pids])
    prototypes = torch.nn.functional.normalize(prototypes, dim=1)[np.searchsorted(pids, generated_pids)]
    return (torch.nn.functional.normalize(generated.float(), dim=1) * prototypes).sum(1).numpy()


def passing(scores: np.ndarray, pids: np.ndarray, names: np.ndarray, rule: FilterRule) -> np.ndarray:
    """Which generated images the rule keeps; for `top`, ties in score go to the earlier name."""
    if rule.kind == "id":
        return scores >= rule.value
    keep = np.zeros(len(scores), dtype=bool)
    for pid in np.unique(pids):
        members = np.flatnonzero(pids == pid)
        best_first = members[np.lexsort((names[members], -scores[members]))]
        keep[best_first[: kept_count(rule.value, len(members))]] = True
    return keep


def training_images(model_run: str | Path) -> set[Path]:
    """The files a re-ID run trained on (`augreid.reid` records its data root in metrics.json), links
    resolved: a control's copy of a removed image is that image."""
    metrics = Path(model_run) / "metrics.json"
    try:
        root = Path(json.loads(metrics.read_text())["data_root"])
    except (OSError, ValueError, KeyError, TypeError):
        raise InputError(f"{model_run}: not a finished augreid.reid run (no data_root in {metrics})") from None
    return {Path(path).resolve() for path in scan_split(root, "train")["path"]}


def check_no_leakage(model_run: str | Path, source_root: str | Path, kept: list[str]) -> None:
    """Refuse a filter model that trained on a real image of `source_root` the set does not keep."""
    source = {Path(path).resolve(): name for path, name in scan_split(source_root, "train")[["path", "name"]].values}
    kept_files = {(Path(source_root) / SPLIT_DIRS["train"] / name).resolve() for name in kept}
    leaked = sorted(source[path] for path in training_images(model_run) if path in source and path not in kept_files)
    if leaked:
        raise InputError(f"{model_run}: the filter's re-ID model trained on {len(leaked)} real images this set removed "
                         f"(e.g. {leaked[0]}); use the `none` run of the same p and seed")
