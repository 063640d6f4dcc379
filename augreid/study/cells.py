"""The study's cells as data: every (generator, portion p or factor K, seed) of Table VI and of the factor table,
the folder each writes, the child runs that make them in order of priority and what each needs first, and what
the report reads back. Nothing here runs anything: the flow schedules these children with Prefect.

A generator trained here names its folders by the config's and the data's digests; a cell's folder also carries
the digest of what draws its images (checkpoint, image folder or plugin), so a changed generator never meets a
stale set. p = 1.0 is one shared run of the full set per seed, which is also `none` at every K.

A filtered row (`pona+id0.5`, `augreid/protocol/identity_filter.py`) reuses its generator's set and filters it
with the re-ID model of the `none` run at the same p and seed (the full set's run by a factor): its cell needs
that run, and its generator's cell when that is a row too (so the images are generated once).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from augreid.core.atomic import file_sha256, files_digest
from augreid.core.tensors_file import tensors_digest
from augreid.data.market import GENERATED_SUMMARY
from augreid.protocol.augmented_set import CONTROLS
from augreid.protocol.identity_filter import FilterRule, split_filtered
from augreid.reid.pretrain import BACKBONE
from augreid.sources.plugins import plugin_digest
from augreid.sources.source import GeneratorSpec
from augreid.study.table_vi import FULL

GENERATOR_MARKER, AUGMENTED_MARKER, REID_MARKER = "summary.json", GENERATED_SUMMARY, "metrics.json"
QUALITY_MARKER = "quality.json"


def trained_here(spec: GeneratorSpec) -> bool:
    """A built-in generator named without a checkpoint: the study trains it."""
    return spec.kind == "model" and spec.path is None


def given_generator(text: str, spec: GeneratorSpec) -> dict:
    """A generator the study does not train, as the later steps see it: its name as given, and the digest of what
    draws its images (the checkpoint, the images' folder, or the plugin's package)."""
    if spec.kind == "external":
        sha256 = files_digest(p for p in Path(spec.path).iterdir() if p.is_file())
        return {"generator": text, "checkpoint": None, "sha256": sha256, "pattern": spec.pattern, "panel": spec.panel}
    if spec.kind == "model":
        return {"generator": text, "checkpoint": None, "sha256": tensors_digest(spec.path)}
    sha256 = file_sha256(spec.path) if spec.path else plugin_digest(spec.label)  # a plugin's file is its own
    return {"generator": text, "checkpoint": None, "sha256": sha256}


def finished_generator(out: str | Path) -> dict:
    """A trained generator as the later steps see it: its checkpoint and the digest of its tensors."""
    checkpoint = Path(out) / "generator.pt"
    return {"checkpoint": str(checkpoint), "sha256": tensors_digest(checkpoint)}


def finished_backbone(out: str | Path) -> dict:
    return {"backbone": str(Path(out) / BACKBONE), "sha256": tensors_digest(Path(out) / BACKBONE)}


def finished_reid(out: str | Path) -> dict:
    return json.loads((Path(out) / REID_MARKER).read_text())


def finished_reid_model(out: str | Path) -> dict:
    """A trained re-ID run as the identity score sees it: its folder and its weights' digest."""
    return {"run": str(out), "sha256": tensors_digest(Path(out) / "model.pt")}


def finished_quality(out: str | Path) -> dict:
    return json.loads((Path(out) / QUALITY_MARKER).read_text())


def finished_run(cell: dict) -> dict:
    """What the report needs of a cell's finished re-ID run: its per-query table, mAP, rank-1, steps, budget, rule
    and the label policy of its generated images."""
    metrics = finished_reid(cell["reid_out"])
    # a run from before the rule (the policy) was recorded used torchreid's (hard labels)
    return {"per_query": str(Path(cell["reid_out"]) / "per_query.csv"), "map_rule": metrics.get("map_rule", "torchreid"),
            "generated_labels": metrics.get("generated_labels", "hard"),
            **{k: metrics[k] for k in ("mAP", "rank1", "steps", "budget")}, **finished_filter(cell)}


def finished_filter(cell: dict) -> dict:
    """A filtered cell's counts (generated images scored, filtered) and how its slots were filled; nothing for
    another cell."""
    if "identity_filter" not in cell:
        return {}
    counts = json.loads((Path(cell["augmented_out"]) / AUGMENTED_MARKER).read_text())["filter"]
    return {k: counts[k] for k in ("scored", "filtered", "fill")}


def finished_pose_clusters(cell: dict) -> dict | None:
    """An augmented set's pose-cluster entropy (`protocol/pose_entropy.py`), where its summary holds one."""
    if cell["augmented_out"] is None:
        return None
    return json.loads((Path(cell["augmented_out"]) / GENERATED_SUMMARY).read_text()).get("pose_clusters")


@dataclass(frozen=True)
class Child:
    """One child run: `kind` is backbone, generator, score or cell; a cell has a portion or a factor."""
    key: str
    kind: str
    needs: tuple[str, ...] = ()
    generator: str | None = None
    portion: float | None = None
    factor: int | None = None
    seed: int | None = None


@dataclass
class Study:
    """What the study was asked for (the flow's parameters, checked), and where it writes."""
    config: str
    config_sha256: str
    root: Path
    data: dict  # the prepared data set: its root and digest
    generators: list[str]
    portions: list[float]
    factors: list[int]
    seeds: list[int]
    specs: dict[str, GeneratorSpec]  # every generator that is not a control
    filling: dict  # by a portion: the condition mode and the unposed policy
    factor_filling: dict  # by a factor: the poses and the unposed policy
    backbone_out: str | None  # the synthetic backbone's folder, when re-ID starts from it
    given: dict[str, dict] = dataclasses.field(default_factory=dict)  # generators not trained here, as seen later
    filter_fill: str = "empty"  # a filtered row's failing slots: left out, or `copy` (the condition image)

    def __post_init__(self) -> None:
        self.given = self.given or {g: given_generator(g, spec) for g, spec in self.specs.items()
                                    if not trained_here(spec)}

    @property
    def tag(self) -> str:
        return f"{self.config_sha256[:8]}_{self.data['sha256'][:8]}"

    @property
    def filtered(self) -> dict[str, tuple[str, FilterRule]]:
        """The filtered rows, each with its generator and rule."""
        return {g: split_filtered(g) for g in self.generators if split_filtered(g)[1] is not None}

    def label(self, generator: str) -> str:
        """The generator's Table VI row: its name without `external:` and path (a filtered one's with its rule)."""
        if generator in self.filtered:
            base, rule = self.filtered[generator]
            return f"{self.label(base)}+{rule}"
        return self.specs[generator].label if generator in self.specs else generator

    @property
    def generator_outs(self) -> dict[str, str]:
        return {g: str(self.root / "generators" / f"{g}_{self.tag}") for g, spec in self.specs.items()
                if trained_here(spec)}

    @property
    def quality_outs(self) -> dict[str, str]:
        trained = self.generator_outs
        return {g: str(self.root / "quality" / (Path(trained[g]).name if g in trained
                                                else f"{self.label(g)}_{self.given[g]['sha256'][:8]}_{self.tag}"))
                for g in self.specs}

    def backbone(self) -> dict | None:
        return finished_backbone(self.backbone_out) if self.backbone_out else None

    def checkpoint(self, generator: str) -> dict:
        """What draws a generator's images; one trained here only once trained."""
        if generator in self.given:
            return self.given[generator]
        return {"generator": generator, **finished_generator(self.generator_outs[generator])}

    def cell(self, generator: str, portion: float, seed: int) -> dict:
        """A cell of Table VI, as the child run `augment-and-reid` takes it."""
        if portion == FULL:
            return dict(generator="none", portion=FULL, seed=seed, data=self.data, checkpoint=None, config=self.config,
                        config_sha256=self.config_sha256, augmented_out=None, backbone=self.backbone(),
                        reid_out=str(self.root / "reid" / f"full_s{seed}_{self.tag}"))
        if generator in self.filtered:
            return self._filtered_cell(generator, self.cell(self.filtered[generator][0], portion, seed),
                                       self.filter_model(seed, portion))
        name = f"{self.label(generator)}_p{portion:g}_s{seed}_{self.filling['condition']}_{self.filling['unposed']}"
        return self._augmented_cell(generator, name, seed, self.filling, portion=portion)

    def factor_cell(self, generator: str, factor: int, seed: int) -> dict:
        """A cell of the factor table; `none` is the original set, the full set's run."""
        if generator == "none":
            return self.cell("none", FULL, seed)
        if generator in self.filtered:
            return self._filtered_cell(generator, self.factor_cell(self.filtered[generator][0], factor, seed),
                                       self.filter_model(seed))
        added = "" if generator in CONTROLS else "_" + self.factor_filling["poses"].replace(" ", "")
        name = f"{self.label(generator)}_k{factor}_s{seed}{added}_{self.factor_filling['unposed']}"
        return self._augmented_cell(generator, name, seed, self.factor_filling, portion=None, factor=factor)

    def _augmented_cell(self, generator: str, name: str, seed: int, filling: dict, **protocol) -> dict:
        source = self.checkpoint(generator) if generator in self.specs else None
        name += "_" + (source["sha256"][:8] if source else self.data["sha256"][:8])
        return dict(generator=generator, **protocol, seed=seed, data=self.data, checkpoint=source,
                    config=self.config, config_sha256=self.config_sha256,
                    augmented_out=str(self.root / "augmented" / name),
                    reid_out=str(self.root / "reid" / f"{name}_{self.config_sha256[:8]}"), filling=filling,
                    backbone=self.backbone())

    def filter_model(self, seed: int, portion: float = FULL) -> str:
        """The identity filter's re-ID run: `none` at the same p and seed, trained on the kept images only (no
        removed image leaks into the filter); by a factor nothing is removed, and it is the full set's run."""
        return self.cell("none", portion, seed)["reid_out"]

    def _filtered_cell(self, generator: str, unfiltered: dict, model_out: str) -> dict:
        """The unfiltered generator's cell, its set filtered into a folder of its own (named after the rule, the
        filling and the filter model's weights) and trained on."""
        base, rule = self.filtered[generator]
        model = finished_reid_model(model_out)
        name = f"{Path(unfiltered['augmented_out']).name}+{rule}_{self.filter_fill}_{model['sha256'][:8]}"
        return {**unfiltered, "generator": generator, "augmented_out": str(self.root / "augmented" / name),
                "reid_out": str(self.root / "reid" / f"{name}_{self.config_sha256[:8]}"),
                "identity_filter": {"generator": base, "unfiltered": unfiltered["augmented_out"], "rule": str(rule),
                                    "fill": self.filter_fill, "model": model}}

    @property
    def full_seeds(self) -> list[int]:
        """The seeds of the full set's runs: reported at p = 1.0, `none` at every K, and the first one's model is
        the identity score's, so it runs whenever a generator is scored."""
        return [s for s in self.seeds if FULL in self.portions or self.factors or (self.specs and s == self.seeds[0])]

    @property
    def partial(self) -> list[tuple[str, float, int]]:
        return [(g, p, s) for s in self.seeds for g in self.generators for p in self.portions if p != FULL]

    @property
    def by_factor(self) -> list[tuple[str, int, int]]:
        """`real` has no image in a new pose; `none` by a factor is the full set's run."""
        return [(g, k, s) for s in self.seeds for g in self.generators for k in self.factors if g not in ("real", "none")]

    def children(self) -> list[Child]:
        """In order of priority: the backbone, which every re-ID run needs, the generators' trainings, the full
        set's runs, the scorings, then the cells."""
        backbone = ("backbone",) if self.backbone_out else ()

        def needs(generator: str, at: str = "", model: str = "") -> tuple[str, ...]:
            """A cell `at` a p or K needs its generator trained; a filtered one also the filter `model`'s run and
            its generator's cell, when that is a row too."""
            base, rule = split_filtered(generator)
            own = backbone + ((f"generator {base}",) if base in self.generator_outs else ())
            return own if rule is None else own + ((f"{base} {at}",) if base in self.generators else ()) + (model,)

        first_full = f"full s{self.full_seeds[0]}" if self.full_seeds else None
        return ([Child("backbone", "backbone")] if self.backbone_out else []) \
            + [Child(f"generator {g}", "generator", generator=g) for g in self.generator_outs] \
            + [Child(f"full s{s}", "cell", backbone, "none", FULL, seed=s) for s in self.full_seeds] \
            + [Child(f"score {g}", "score", needs(g) + (first_full,), g) for g in self.specs] \
            + [Child(f"{g} p={p:g} s{s}", "cell", needs(g, f"p={p:g} s{s}", f"none p={p:g} s{s}"), g, p, seed=s)
               for g, p, s in self.partial] \
            + [Child(f"{g} K={k} s{s}", "cell", needs(g, f"K={k} s{s}", f"full s{s}"), g, factor=k, seed=s)
               for g, k, s in self.by_factor]

    def parameters(self, child: Child) -> dict:
        """The child run's parameters; called once what it needs has finished (their results are on disk)."""
        if child.kind == "backbone":
            return dict(config=self.config, config_sha256=self.config_sha256, out=self.backbone_out)
        if child.kind == "generator":
            return dict(generator=child.generator, data=self.data, config=self.config,
                        config_sha256=self.config_sha256, out=self.generator_outs[child.generator])
        if child.kind == "score":
            return dict(checkpoint=self.checkpoint(child.generator), data=self.data, config=self.config,
                        config_sha256=self.config_sha256,
                        reid_model=finished_reid_model(self.cell("none", FULL, self.full_seeds[0])["reid_out"]),
                        out=self.quality_outs[child.generator])
        if child.factor is not None:
            return self.factor_cell(child.generator, child.factor, child.seed)
        return self.cell(child.generator, child.portion, child.seed)

    def results(self) -> list[dict]:
        """Table VI's finished runs: the full set's (when p = 1.0 was asked for), then each generator's cells."""
        full = [self.cell("none", FULL, s) for s in self.full_seeds] if FULL in self.portions else []
        return [{"generator": self.label(c["generator"]), "portion": c["portion"], "seed": c["seed"],
                 **finished_run(c)} for c in full + self._reported_cells()]

    def factor_results(self) -> list[dict]:
        """The factor table's finished runs, each with its set's pose-cluster entropy (None for the controls)."""
        return [{"generator": self.label(g), "factor": k, "seed": s, **finished_run(self.factor_cell(g, k, s)),
                 "pose_clusters": finished_pose_clusters(self.factor_cell(g, k, s))}
                for s in self.seeds for g in self.generators for k in self.factors if g != "real"]

    def quality(self) -> dict[str, dict]:
        return {self.label(g): finished_quality(out) for g, out in self.quality_outs.items()}

    def galleries(self) -> dict[str, dict]:
        """For each generator, its set with the most generated images (the lowest portion, first seed)."""
        lowest = {self.label(c["generator"]): c["augmented_out"]
                  for c in sorted(self._reported_cells(), key=lambda c: (-c["portion"], -c["seed"]))
                  if c["generator"] in self.specs}
        return {g: {"augmented": out, "source": self.data["root"]} for g, out in lowest.items()}

    def _reported_cells(self) -> list[dict]:
        cells = [self.cell(g, p, s) for g, p, s in self.partial
                 if g in CONTROLS or g in self.specs or g in self.filtered]
        return sorted(cells, key=lambda c: (self.generators.index(c["generator"]), c["seed"], c["portion"]))
