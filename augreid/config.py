"""YAML config files loaded into typed dataclasses, one section per step (`synthetic:`, `reid:`, ...).

pydantic checks every setting, its type and its range, wherever a config is built: from a file, in code or by
`dataclasses.replace`. A file's errors name the file, line and column of the offending setting, so a typo never
silently falls back to a default. A file may extend another (`extends: market1501.yaml`, relative to it): its
sections are merged over the base's, setting by setting. YAML is read with the safe loader.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import pydantic
import yaml
from pydantic import AfterValidator, BeforeValidator, Field, Strict

from augreid.core.atomic import file_sha256
from augreid.core.errors import InputError, invalid_value, setting_path

T = TypeVar("T")

# Strict: a whole number is written as one (not `true`, `2.0` or "3"), a yes/no as `true` or `false` (not 1 or
# "yes"), as pydantic's lax mode would allow; a whole number is still taken for a float (1 as 1.0).
Positive = Annotated[int, Strict(), Field(ge=1)]  # iterations, epochs, batch and image sizes, identities
NonNegative = Annotated[int, Strict(), Field(ge=0)]  # workers, extra images, warm-up epochs, padding: none is fine
Rate = Annotated[float, Strict(), Field(gt=0, allow_inf_nan=False)]  # a learning rate: 0 learns nothing, inf diverges
# loss weights, margins, weight decay: a negative one trains in reverse
Weight = Annotated[float, Strict(), Field(ge=0, allow_inf_nan=False)]
BelowOne = Annotated[float, Strict(), Field(ge=0, lt=1)]  # Adam's betas, momentum (1 never forgets), dropout
Fraction = Annotated[float, Strict(), Field(ge=0, le=1)]  # probabilities, saturation
Flag = Annotated[bool, Strict()]


def _low_high(images: tuple[int, int]) -> tuple[int, int]:
    low, high = images
    if not 2 <= low <= high:  # an identity needs 2 images: one can query the other
        raise ValueError(f"must be [low, high] with 2 <= low <= high, got {list(images)}")
    return images


def _divides_the_image(scale: int) -> int:
    if scale not in (1, 2, 4):
        raise ValueError(f"must be 1, 2 or 4 (128x64 divided by it), got {scale}")
    return scale


@dataclasses.dataclass(frozen=True)
class Poses:
    """Where the added images' target poses come from: `pool`, `canonical` with `count` poses, or `rare` with
    `count` k-means clusters per view."""

    mode: str = "pool"
    count: int = 0

    def __str__(self) -> str:
        return self.mode if self.mode == "pool" else f"{self.mode} {self.count}"


RARE_CLUSTERS = 8  # `rare` alone: as many clusters as PN-GAN's canonical poses


def parse_poses(text: str | list[str]) -> Poses:
    """`pool`, `canonical N` or `rare [N]` (as one string or as the CLI's words)."""
    words = text.split() if isinstance(text, str) else list(text)
    if words == ["pool"]:
        return Poses()
    if words == ["rare"]:
        return Poses("rare", RARE_CLUSTERS)
    if len(words) == 2 and words[0] in ("canonical", "rare") and words[1].isdigit() and int(words[1]) >= 1:
        return Poses(words[0], int(words[1]))
    raise InputError(f"--poses {' '.join(words)}: expected 'pool' or 'canonical N' with N >= 1, or 'rare [N]'")


@dataclasses.dataclass(frozen=True)
class LabelPolicy:
    """The identity targets of generated images in re-ID training (`augreid/reid/labels.py`): `hard`, `smooth`
    with `epsilon`, or `lsro`."""

    kind: str = "hard"
    epsilon: float = 0.0

    def __str__(self) -> str:
        return f"smooth {self.epsilon:g}" if self.kind == "smooth" else self.kind


def parse_label_policy(text: str | list[str]) -> LabelPolicy:
    """`hard`, `smooth E` with 0 < E < 1, or `lsro` (as one string or as the CLI's words)."""
    words = text.split() if isinstance(text, str) else list(text)
    if words in (["hard"], ["lsro"]):
        return LabelPolicy(words[0])
    if len(words) == 2 and words[0] == "smooth":
        try:
            epsilon = float(words[1])
        except ValueError:
            epsilon = float("nan")
        if 0 < epsilon < 1:
            return LabelPolicy("smooth", epsilon)
    raise InputError(f"--generated-labels {' '.join(words)}: expected 'hard', 'smooth E' with 0 < E < 1, or 'lsro'")


def _increasing(epochs: tuple[int, ...]) -> tuple[int, ...]:
    if any(earlier >= later for earlier, later in zip(epochs, epochs[1:])):
        raise ValueError(f"must increase, got {list(epochs)}")
    return epochs


def _pose_policy(poses: str) -> str:
    try:
        parse_poses(poses)
    except InputError:
        raise ValueError(f"must be 'pool' or 'canonical N' with N >= 1, or 'rare [N]', got '{poses}'") from None
    return poses


def _label_policy(text: str) -> str:
    try:
        return str(parse_label_policy(text))  # one spelling per policy: `smooth 0.10` is recorded as `smooth 0.1`
    except InputError:
        raise ValueError(f"must be 'hard', 'smooth E' with 0 < E < 1, or 'lsro', got '{text}'") from None


def _empty_means_defaults(section: Any) -> Any:
    return {} if section is None else section  # `reid:` with nothing under it: YAML reads null


ImagesPerIdentity = Annotated[tuple[Positive, Positive], AfterValidator(_low_high)]  # inclusive, drawn per identity
Milestones = Annotated[tuple[Positive, ...], AfterValidator(_increasing)]
Section = Annotated[T, BeforeValidator(_empty_means_defaults)]

# frozen: a config is a value; extra="forbid": an unknown name is an error (pydantic would drop it silently)
validated = pydantic.dataclasses.dataclass(frozen=True, config=pydantic.ConfigDict(extra="forbid"))

# The test pairs the quality table scores without a pairs file; `augreid.slots` exports as many, so that a default
# export covers a default quality run.
QUALITY_PAIRS = 1000


@validated
class SyntheticConfig:
    """Size of the embedded synthetic Market-1501 stand-in (the images are always 128x64)."""

    train_identities: Positive = 150
    test_identities: Positive = 150
    train_images_per_identity: ImagesPerIdentity = (4, 20)
    test_images_per_identity: ImagesPerIdentity = (6, 16)
    # one digit in Market-1501 names; re-ID needs two (a query is matched on other cameras)
    cameras: Annotated[int, Strict(), Field(ge=2, le=9)] = 6
    junk_images: NonNegative = 60  # `-1_...` badly cropped people in bounding_box_test
    distractor_images: NonNegative = 40  # `0000_...` background crops in bounding_box_test
    background_saturation: Fraction = 1.0  # < 1 mutes the cameras' walls and ground towards grey (0: grey)
    # exact totals (unset: whatever the per-identity draws give): the training images, the test identities' images
    # (gallery and query) and the queries among them; `bench scale` sets Market-1501's, scaled
    train_images: Positive | None = None
    test_images: Positive | None = None
    query_images: Positive | None = None

    def __post_init__(self) -> None:  # checks across settings; pydantic checks each setting alone
        for name, total, identities, (low, high) in (
                ("train_images", self.train_images, self.train_identities, self.train_images_per_identity),
                ("test_images", self.test_images, self.test_identities, self.test_images_per_identity)):
            if total is not None and not identities * low <= total <= identities * high:
                raise ValueError(f"{name} {total}: {identities} identities of {low} to {high} images hold "
                                 f"{identities * low} to {identities * high}")
        if self.query_images is not None and not self.test_identities <= self.query_images < (
                self.test_images or self.test_identities * self.test_images_per_identity[0]):
            raise ValueError(f"query_images {self.query_images}: at least one per test identity "
                             f"({self.test_identities}), and fewer than the test images")


GENERATOR_NAMES = ("pona", "patn", "aps", "gfla", "san")


@validated
class GeneratorArchitecture:
    """A pose-transfer generator's shape; the defaults are PoNA's Market-1501 model (PATN: 9 blocks, no SN;
    APS: 4 encoder blocks, no SN)."""

    blocks: Positive = 3  # PoNA / PATN blocks; APS: appearance-encoder blocks (the code is H / 2^blocks high)
    # 2 is the narrowest every generator builds: PoNA's attentions project 4 ngf channels to 4 ngf / 8, GFLA's flow
    # net is ngf / 2 wide. The authors' PoNA fixture has ngf 4.
    ngf: Annotated[int, Strict(), Field(ge=2)] = 64
    norm: Literal["batch", "instance"] = "batch"  # batch (Market-1501) or instance (DeepFashion)
    dropout: BelowOne = 0.5
    ndf: Positive = 64  # discriminator width
    discriminator_blocks: NonNegative = 3
    discriminator_spectral_norm: Flag = True  # PoNA puts spectral norm on every discriminator conv; PATN does not
    # 2: the generator runs at 64x32 (input downsampled, output upsampled to 128x64), a demo's choice
    scale: Annotated[int, Strict(), AfterValidator(_divides_the_image)] = 1


@validated
class GeneratorsConfig:
    """One architecture per generator name."""

    pona: Section[GeneratorArchitecture] = dataclasses.field(default_factory=GeneratorArchitecture)
    patn: Section[GeneratorArchitecture] = dataclasses.field(
        default_factory=lambda: GeneratorArchitecture(blocks=9, discriminator_spectral_norm=False))
    aps: Section[GeneratorArchitecture] = dataclasses.field(
        default_factory=lambda: GeneratorArchitecture(blocks=4, discriminator_spectral_norm=False))
    # GFLA: 3 encoder layers, ngf 64 (flow net ngf / 2), discriminator ndf 32 with 3 blocks; instance norm and
    # spectral norm are fixed by the model, `norm` and `dropout` do not apply
    gfla: Section[GeneratorArchitecture] = dataclasses.field(
        default_factory=lambda: GeneratorArchitecture(blocks=3, ndf=32, discriminator_blocks=3))
    # SAN: 5 semantic attention blocks, ngf 64, batch norm; its discriminator: 3 residual blocks; no dropout and no
    # spectral norm (its text names neither)
    san: Section[GeneratorArchitecture] = dataclasses.field(
        default_factory=lambda: GeneratorArchitecture(blocks=5, dropout=0.0, discriminator_spectral_norm=False))

    def architecture(self, name: str) -> GeneratorArchitecture:
        if name not in GENERATOR_NAMES:
            raise InputError(f"unknown generator '{name}' (known: {', '.join(GENERATOR_NAMES)})")
        return getattr(self, name)


@validated
class GeneratorTrainingConfig:
    """The Market-1501 recipe of PATN / PoNA by default: 87,500 iterations of batch 32, the last 25,000 decaying."""

    iterations: Positive = 87_500
    decay_iterations: NonNegative = 25_000  # linear decay of the learning rate to 0 over the last iterations
    batch_size: Positive = 32
    lr: Rate = 2e-4
    beta1: BelowOne = 0.5
    beta2: BelowOne = 0.999
    lambda_l1: Weight = 10.0
    lambda_perceptual: Weight = 10.0
    lambda_gan: Weight = 5.0
    gan_mode: Literal["bce", "lsgan"] = "bce"  # bce (sigmoid + BCE, Market-1501) or lsgan (DeepFashion)
    pool_size: NonNegative = 50
    sample_every: Positive = 1000
    checkpoint_every: Positive = 1000
    workers: NonNegative = 4
    mixed_precision: Flag = True  # bf16 autocast on a GPU; ignored on the CPU

    def __post_init__(self) -> None:  # checks across settings; pydantic checks each setting alone
        if self.decay_iterations > self.iterations:
            raise ValueError("decay_iterations must be between 0 and iterations")


@validated
class GFLATrainingConfig:
    """GFLA's own recipe (its authors' Market-1501 script): two stages, the first `flow_iterations` train the
    flow-field estimator alone, the rest the whole model; constant learning rates; least-squares GAN."""

    iterations: Positive = 200_000  # both stages; the authors train "to convergence" and publish no count
    flow_iterations: NonNegative = 50_000
    decay_iterations: NonNegative = 0
    batch_size: Positive = 8
    lr: Rate = 1e-4
    discriminator_lr: Rate = 1e-5
    beta1: BelowOne = 0.0
    beta2: BelowOne = 0.999
    lambda_correctness: Weight = 5.0
    lambda_regularisation: Weight = 0.0025
    lambda_l1: Weight = 5.0
    lambda_gan: Weight = 2.0
    lambda_content: Weight = 0.5
    lambda_style: Weight = 500.0
    flow_lambda_correctness: Weight = 20.0  # stage 1
    flow_lambda_regularisation: Weight = 0.01
    # vgg (relu3_1, the paper) or patches (4x4 pixel blocks: no VGG weights)
    correctness_features: Literal["vgg", "patches"] = "vgg"
    augmentation: Flag = True  # random affine on source (+-5 deg, +-5 px, 0.95-1.05) and, damped, on target
    sample_every: Positive = 1000
    checkpoint_every: Positive = 1000
    workers: NonNegative = 4
    mixed_precision: Flag = True

    def __post_init__(self) -> None:  # checks across settings; pydantic checks each setting alone
        if self.flow_iterations > self.iterations:
            raise ValueError("flow_iterations must be between 0 and iterations")
        if self.decay_iterations > self.iterations - self.flow_iterations:
            raise ValueError("decay_iterations must be between 0 and iterations - flow_iterations")

    @property
    def needs_vgg(self) -> bool:
        correctness = max(self.lambda_correctness, self.flow_lambda_correctness if self.flow_iterations else 0.0)
        return (self.correctness_features == "vgg" and correctness > 0) or self.lambda_content > 0 or self.lambda_style > 0


@validated
class AugmentationConfig:
    """How `augreid.generate` fills the missing images in the flow: which kept image conditions each (`nearest`
    pose or `random`, the paper's plainest reading of "conditioned on preserved images"), and what to do with a
    missing image whose pose lacks a shoulder or hip (`generate`, `copy` the condition, `skip` the slot); with a
    factor K, where the added images' poses come from (`pool`, `canonical N` or `rare [N]`) and what an image without
    shoulders or hips adds (the same three policies)."""

    condition: Literal["nearest", "random"] = "nearest"
    unposed: Literal["generate", "copy", "skip"] = "generate"
    poses: Annotated[str, AfterValidator(_pose_policy)] = "pool"
    # a filtered row's (pona+id0.5) slots whose images fail the identity filter: left empty, or filled with their
    # condition image as `duplicate` fills (augreid/protocol/identity_filter.py)
    filter_fill: Literal["empty", "copy"] = "empty"


@validated
class ReportConfig:
    """Which re-ID figure leads Table VI's cells, its plot and the comparisons' verdicts: mAP (the PoNA paper's
    table) or rank-1 (IMAGPose's and other recent tables). Both figures stay in every file."""

    metric: Literal["map", "rank1"] = "map"


@validated
class QualityConfig:
    """Generation quality on test pairs: the data root's `market-pairs-test.csv` when present, otherwise `pairs`
    drawn with `seed` from the test identities."""

    pairs: Positive = QUALITY_PAIRS
    seed: NonNegative = 0  # numpy's generators take no negative seed


@validated
class ReidConfig:
    """A torchreid softmax baseline; the defaults are torchreid's ResNet-50 Market-1501 recipe."""

    model: str = "resnet50"
    pretrained: Flag = True  # start from pretrained weights (the classifier excepted)
    # where those weights come from: imagenet (torchreid's ImageNet file, or --weights), or synthetic (a backbone
    # trained once on another synthetic population, `augreid/reid/pretrain.py`, the demo's stand-in for ImageNet)
    backbone: Literal["imagenet", "synthetic"] = "imagenet"
    height: Positive = 256
    width: Positive = 128
    batch_size: Positive = 32
    test_batch_size: Positive = 256
    epochs: Positive = 60
    # epochs: the papers' protocol (the same epochs whatever the set's size); steps: every run takes the optimizer
    # steps of the full (p = 1.0) set, its schedule scaled to match (augreid/reid/budget.py)
    budget: Literal["epochs", "steps"] = "epochs"
    # average precision: torchreid's (mean precision at each hit) or the Market-1501 devkit's (trapezoid rule, the
    # PoNA paper's re-ID baseline); metrics.json holds both, Table VI shows this one
    map_rule: Literal["torchreid", "devkit"] = "torchreid"
    optimizer: Literal["adam", "amsgrad", "sgd", "rmsprop", "radam"] = "amsgrad"  # torchreid's
    lr: Rate = 0.0003
    weight_decay: Weight = 5e-4
    momentum: BelowOne = 0.9  # sgd only
    nesterov: Flag = False  # sgd only
    # < 1: the ImageNet backbone trains at this fraction of `lr`, the new layers (classifier, bottleneck) at `lr`
    base_lr_mult: Annotated[float, Strict(), Field(gt=0, le=1)] = 1.0
    flip_test: Flag = False  # an image's test feature: the mean of its own and its mirror image's
    normalize_features: Flag = False  # test features L2-normalised before ranking
    stepsize: Positive = 20  # the learning rate drops tenfold every `stepsize` epochs
    # step: the drops above; cosine: the rate falls along a half cosine to 0 over the run (no `stepsize`)
    schedule: Literal["step", "cosine"] = "step"
    fixbase_epochs: NonNegative = 5  # first epochs train only the new classifier (pretrained models)
    label_smooth: Flag = True
    # the identity targets of the images an augmented set added (its manifest's rows not `kept`): hard (the
    # person's, as real images'), smooth E (label smoothing by E on those only) or lsro (uniform, Zheng et al. 2017)
    generated_labels: Annotated[str, AfterValidator(_label_policy)] = "hard"
    random_flip: Flag = True
    workers: NonNegative = 4
    mixed_precision: Flag = True  # bf16 autocast on a GPU; ignored on the CPU
    # hold the training images decoded and resized in memory (uint8) instead of reading them every epoch: for
    # small sets and sizes (the demo); full Market-1501 at 256x128 would take 1.3 GB
    preload: Flag = False
    # BoT's tricks (augreid/reid/bot.py; configs/market1501-bot.yaml), all off by default:
    triplet_margin: Weight = 0.0  # > 0: batch-hard triplet loss with this margin on the pooled feature
    center_weight: Weight = 0.0  # > 0: center loss with this weight on the pooled feature
    instances: NonNegative = 0  # > 0: P x K batches, K = instances images of each of batch_size / K identities
    warmup_epochs: NonNegative = 0  # linear warm-up from a tenth of lr over these epochs
    milestones: Milestones = ()  # the rate drops tenfold at these epochs (instead of every `stepsize`)
    pad: NonNegative = 0  # > 0: pad by this many pixels, then crop back at random
    random_erase: Fraction = 0.0  # probability of random erasing

    def __post_init__(self) -> None:  # checks across settings; pydantic checks each setting alone
        if (self.triplet_margin > 0 or self.center_weight > 0) and self.model != "resnet50_bot":
            raise ValueError("triplet_margin and center_weight need model resnet50_bot (its BNNeck gives the feature "
                             "they act on)")
        if self.instances and self.batch_size % self.instances:
            raise ValueError(f"instances must divide batch_size ({self.batch_size}), got {self.instances}")
        if self.preload and (self.instances or self.pad or self.random_erase):
            raise ValueError("preload draws random batches with flips only: set instances, pad and random_erase to 0")


@validated
class PretrainingConfig:
    """The synthetic backbone (`reid.backbone: synthetic`): the `reid:` model trained from scratch on a synthetic
    population of its own (the `synthetic:` sizes, another seed: other people than the study's), with a step
    schedule; every re-ID run of the study then starts from it, as real runs start from ImageNet weights."""

    seed: Positive = 1  # the population's seed; 0 is the study's own synthetic set
    batch_size: Positive = 32
    epochs: Positive = 36
    lr: Rate = 0.006
    stepsize: Positive = 26


@validated
class Config:
    """A whole config file; each step reads its own section."""

    synthetic: Section[SyntheticConfig] = dataclasses.field(default_factory=SyntheticConfig)
    generators: Section[GeneratorsConfig] = dataclasses.field(default_factory=GeneratorsConfig)
    generator_training: Section[GeneratorTrainingConfig] = dataclasses.field(default_factory=GeneratorTrainingConfig)
    gfla_training: Section[GFLATrainingConfig] = dataclasses.field(default_factory=GFLATrainingConfig)
    # SAN's recipe: Adam 2e-4, betas (0.5, 0.999), batch 32, the learning rate falling linearly to 0 over 300 epochs
    # (guess: an epoch is a pass over Market-1501's 12,936 training images, 404 iterations); its "alpha, beta,
    # gamma = 10, 15, 5" read as L1 10, perceptual 15, adversarial 5 (guess: PATN's L1 and GAN weights)
    san_training: Section[GeneratorTrainingConfig] = dataclasses.field(default_factory=lambda: GeneratorTrainingConfig(
        iterations=121_275, decay_iterations=121_275, lambda_l1=10.0, lambda_perceptual=15.0, lambda_gan=5.0))
    augmentation: Section[AugmentationConfig] = dataclasses.field(default_factory=AugmentationConfig)
    quality: Section[QualityConfig] = dataclasses.field(default_factory=QualityConfig)
    reid: Section[ReidConfig] = dataclasses.field(default_factory=ReidConfig)
    pretraining: Section[PretrainingConfig] = dataclasses.field(default_factory=PretrainingConfig)
    report: Section[ReportConfig] = dataclasses.field(default_factory=ReportConfig)

    def training(self, generator: str) -> GeneratorTrainingConfig | GFLATrainingConfig:
        """The recipe a generator trains with: GFLA and SAN have their own, the others share PATN's."""
        return {"gfla": self.gfla_training, "san": self.san_training}.get(generator, self.generator_training)


EXTENDS = "extends"  # a file's top-level name of the file it extends


def load_config(path: str | Path) -> Config:
    """Read a YAML config file (over the file it extends, if any) into a `Config`; InputError names the file, line
    and column of the offending setting."""
    layers = [_without_extends(document) for _, document in reversed(_chain(Path(path), ()))]
    document = functools.reduce(_merged, layers)
    try:
        return Config(**_data(document))
    except pydantic.ValidationError as err:
        raise _located(err.errors()[0], document) from None


def config_digest(path: str | Path) -> str:
    """SHA-256 of what a config file reads: its bytes, or with `extends:` its own and its bases', so that an edited
    base changes the digest of every file extending it (the flow caches its steps on this digest)."""
    files = [file for file, _ in _chain(Path(path), ())]
    if len(files) == 1:  # the file's own digest, as before overlays: the flow's existing caches stay valid
        return file_sha256(files[0])
    return hashlib.sha256("".join(f"{file_sha256(file)}\n" for file in files).encode()).hexdigest()


@dataclasses.dataclass(frozen=True)
class _Written:
    """A value as a config file wrote it, and where (`file:line:column`), for errors to point at: a mapping's
    settings by name or a list's items in `inner`, anything else as the safe loader built it in `value`."""

    at: str
    key_at: str  # where its name was written (a list item's: its own place)
    value: Any = None
    inner: dict[str, _Written] | list[_Written] | None = None


def _chain(path: Path, reading: tuple[Path, ...]) -> list[tuple[Path, _Written]]:
    """The file and the files it extends, each read: the file first, then its base, and so on; `reading`: the files
    extending this one."""
    document = _read(path)
    extends = document.inner.get(EXTENDS)
    if extends is None:
        return [(path, document)]
    return [(path, document), *_chain(_base(extends, (*reading, path)), (*reading, path))]


def _base(extends: _Written, reading: tuple[Path, ...]) -> Path:
    """The file `extends:` names, relative to the file naming it (the last of `reading`)."""
    if not isinstance(extends.value, str):
        raise InputError(f"{extends.at}: {EXTENDS}: expected the path of a config file, got {_data(extends)!r}")
    base = reading[-1].parent / extends.value
    if not base.is_file():
        raise InputError(f"{extends.at}: {EXTENDS}: no config file {base}")
    if base.resolve() in {file.resolve() for file in reading}:
        cycle = " -> ".join(str(file) for file in (*reading, base))
        raise InputError(f"{extends.at}: {EXTENDS}: a cycle ({cycle})")
    return base


def _without_extends(document: _Written) -> _Written:
    return dataclasses.replace(document, inner={name: setting for name, setting in document.inner.items()
                                                if name != EXTENDS})


def _merged(base: _Written, overlay: _Written) -> _Written:
    """`overlay` over `base`: mappings merge name by name, any other value replaces the base's. An empty section
    (`reid:` alone, null in YAML) changes nothing."""
    empty = overlay.inner is None and overlay.value is None
    if not isinstance(base.inner, dict) or not (isinstance(overlay.inner, dict) or empty):
        return overlay
    settings = dict(base.inner)
    for name, written in (overlay.inner or {}).items():
        settings[name] = _merged(settings[name], written) if name in settings else written
    return dataclasses.replace(overlay, inner=settings)


def _read(path: Path) -> _Written:
    """One file's settings, each with where it was written; refused here: not a file, not YAML, empty, not a
    mapping, a name given twice or not text."""
    if not path.is_file():
        raise InputError(f"{path}: config file does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file") from None
    try:
        document = _parse(text, path)
    except yaml.MarkedYAMLError as err:
        raise InputError(f"{_place(path, err.problem_mark or err.context_mark)}: not valid YAML ({err.problem})") \
            from None
    except yaml.YAMLError as err:
        raise InputError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    if document is None:  # an empty file would silently mean every default: the full 87,500-iteration recipe
        raise InputError(f"{path}: the config is empty (write the sections to set, e.g. reid:, or start from "
                         "configs/demo.yaml)")
    if not isinstance(document.inner, dict):
        raise InputError(f"{document.at}: expected a mapping of settings, got {_data(document)!r}")
    return document


def _parse(text: str, path: Path) -> _Written | None:
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        return None if root is None else _written(loader, root, path, None, ())
    finally:
        loader.dispose()


def _written(loader: yaml.SafeLoader, node: yaml.Node, path: Path, key_at: str | None,
             within: tuple[yaml.Node, ...]) -> _Written:
    """A YAML node as a `_Written`; `within`: the nodes around it (an alias may name one: `a: &x [*x]`)."""
    at = _place(path, node.start_mark)
    if node in within:
        raise InputError(f"{at}: a value that contains itself")
    within = (*within, node)
    if isinstance(node, yaml.MappingNode) and node.tag == yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG:
        return _Written(at, key_at or at, inner=_settings(loader, node, path, within))
    if isinstance(node, yaml.SequenceNode) and node.tag == yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG:
        return _Written(at, key_at or at, inner=[_written(loader, item, path, None, within) for item in node.value])
    # a scalar, or a value of another tag: the safe loader builds it, or refuses it (`!!python/...`)
    return _Written(at, key_at or at, value=loader.construct_object(node, deep=True))


def _settings(loader: yaml.SafeLoader, node: yaml.MappingNode, path: Path,
              within: tuple[yaml.Node, ...]) -> dict[str, _Written]:
    settings = {}
    for key_node, value_node in node.value:
        name, key_at = loader.construct_object(key_node, deep=True), _place(path, key_node.start_mark)
        if not isinstance(name, str):
            raise InputError(f"{key_at}: a setting's name must be text, got {name!r}")
        if name in settings:  # yaml's own loader would let the last one win, silently
            raise InputError(f"{key_at}: not valid YAML (duplicate key '{name}')")
        settings[name] = _written(loader, value_node, path, key_at, within)
    return settings


def _place(path: Path, mark: yaml.Mark) -> str:
    return f"{path}:{mark.line + 1}:{mark.column + 1}"


def _data(written: _Written) -> Any:
    if isinstance(written.inner, dict):
        return {name: _data(setting) for name, setting in written.inner.items()}
    if isinstance(written.inner, list):
        return [_data(item) for item in written.inner]
    return written.value


def _located(detail: Mapping[str, Any], document: _Written) -> InputError:
    """pydantic's complaint, at the place where the offending value was written (in the file or in a base)."""
    loc = detail["loc"]
    written = _deepest(document, loc)
    if detail["type"] == "unexpected_keyword_argument":
        known = ", ".join(_known_names(loc[:-1]))
        return InputError(f"{written.key_at}: unknown setting '{setting_path(loc)}' (known: {known})")
    if detail["type"] == "dataclass_type":
        return InputError(f"{written.at}: {setting_path(loc)}: expected a mapping of settings, got {detail['input']!r}")
    # a section's own checks (across its settings) point at its name, a setting's at its value
    return InputError(f"{written.key_at if isinstance(written.inner, dict) else written.at}: {invalid_value(detail)}")


def _deepest(document: _Written, loc: tuple[str | int, ...]) -> _Written:
    """The value the location names, or the deepest written one on its way (a list item missing: the list)."""
    written = document
    for part in loc:
        inner = written.inner
        if isinstance(inner, dict) and part in inner:
            written = inner[part]
        elif isinstance(inner, list) and isinstance(part, int) and part < len(inner):
            written = inner[part]
        else:
            break
    return written


def _known_names(section: tuple[str, ...]) -> list[str]:
    names = [field_.name for field_ in dataclasses.fields(functools.reduce(getattr, section, Config()))]
    return sorted(names if section else [*names, EXTENDS])


def to_dict(config: Any) -> dict:
    """A config dataclass as plain data (tuples as lists), e.g. to record the exact inputs of a run."""
    return _plain(dataclasses.asdict(config))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
