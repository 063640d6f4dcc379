"""YAML config files loaded into typed dataclasses, one section per step (`synthetic:`, later more).

Unknown keys and wrong types are errors naming the file and the key, so a typo never silently falls back to a
default. YAML is read with `safe_load`.
"""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from augreid.core.errors import InputError
from augreid.protocol.factor import parse_poses

T = TypeVar("T")


class UniqueKeyLoader(yaml.SafeLoader):
    """yaml's safe loader, refusing a key given twice in one mapping (the plain loader lets the last one win
    silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key '{key}'", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def check_rates_and_weights(config: Any) -> None:
    """Learning rates finite and above 0, Adam's betas in [0, 1), loss weights finite and not negative: anything
    else trains towards NaN, or in reverse."""
    for field_ in dataclasses.fields(config):
        name, value = field_.name, getattr(config, field_.name)
        if name == "lr" or name.endswith("_lr"):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number above 0, got {value}")
        elif name in ("beta1", "beta2"):
            if not 0 <= value < 1:
                raise ValueError(f"{name} must be in [0, 1), got {value}")
        elif name.startswith(("lambda_", "flow_lambda_")) or name == "weight_decay":
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number, 0 or more, got {value}")
# The test pairs the quality table scores without a pairs file; `augreid.slots` exports as many, so that a default
# export covers a default quality run.
QUALITY_PAIRS = 1000


@dataclass(frozen=True)
class SyntheticConfig:
    """Size of the embedded synthetic Market-1501 stand-in (the images are always 128x64)."""

    train_identities: int = 150
    test_identities: int = 150
    train_images_per_identity: tuple[int, int] = (4, 20)  # inclusive range, drawn per identity
    test_images_per_identity: tuple[int, int] = (6, 16)
    cameras: int = 6
    junk_images: int = 60  # `-1_...` badly cropped people in bounding_box_test
    distractor_images: int = 40  # `0000_...` background crops in bounding_box_test
    background_saturation: float = 1.0  # < 1 mutes the cameras' walls and ground towards grey (0: grey)

    def __post_init__(self) -> None:
        if not 0.0 <= self.background_saturation <= 1.0:
            raise ValueError("background_saturation must be between 0 and 1")
        for name in ("train_identities", "test_identities", "cameras"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if not 2 <= self.cameras <= 9:
            raise ValueError("cameras must be between 2 and 9 (one digit in Market-1501 names, two for re-ID)")
        for name in ("train_images_per_identity", "test_images_per_identity"):
            low, high = getattr(self, name)
            if not 2 <= low <= high:
                raise ValueError(f"{name} must be [low, high] with 2 <= low <= high")
        if self.junk_images < 0 or self.distractor_images < 0:
            raise ValueError("junk_images and distractor_images must be >= 0")


GENERATOR_NAMES = ("pona", "patn", "aps", "gfla", "san")


@dataclass(frozen=True)
class GeneratorArchitecture:
    """A pose-transfer generator's shape; the defaults are PoNA's Market-1501 model (PATN: 9 blocks, no SN;
    APS: 4 encoder blocks, no SN)."""

    blocks: int = 3  # PoNA / PATN blocks; APS: appearance-encoder blocks (the code is H / 2^blocks high)
    ngf: int = 64
    norm: str = "batch"  # batch (Market-1501) or instance (DeepFashion)
    dropout: float = 0.5
    ndf: int = 64  # discriminator width
    discriminator_blocks: int = 3
    discriminator_spectral_norm: bool = True  # PoNA puts spectral norm on every discriminator conv; PATN does not
    scale: int = 1  # 2: the generator runs at 64x32 (input downsampled, output upsampled to 128x64), a demo's choice

    def __post_init__(self) -> None:
        if self.scale not in (1, 2, 4):
            raise ValueError(f"scale must be 1, 2 or 4 (128x64 divided by it), got {self.scale}")
        # ngf 2 is the narrowest every generator builds: PoNA's attentions project 4 ngf channels to 4 ngf / 8, GFLA's
        # flow net is ngf / 2 wide. The authors' PoNA fixture has ngf 4.
        if self.blocks < 1 or self.ngf < 2 or self.ndf < 1 or self.discriminator_blocks < 0:
            raise ValueError("blocks must be >= 1, ngf >= 2, ndf >= 1, discriminator_blocks >= 0")
        if self.norm not in ("batch", "instance"):
            raise ValueError(f"norm must be batch or instance, got '{self.norm}'")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError("dropout must be in [0, 1)")


@dataclass(frozen=True)
class GeneratorsConfig:
    """One architecture per generator name."""

    pona: GeneratorArchitecture = field(default_factory=GeneratorArchitecture)
    patn: GeneratorArchitecture = field(
        default_factory=lambda: GeneratorArchitecture(blocks=9, discriminator_spectral_norm=False))
    aps: GeneratorArchitecture = field(
        default_factory=lambda: GeneratorArchitecture(blocks=4, discriminator_spectral_norm=False))
    # GFLA: 3 encoder layers, ngf 64 (flow net ngf / 2), discriminator ndf 32 with 3 blocks; instance norm and
    # spectral norm are fixed by the model, `norm` and `dropout` do not apply
    gfla: GeneratorArchitecture = field(
        default_factory=lambda: GeneratorArchitecture(blocks=3, ndf=32, discriminator_blocks=3))
    # SAN: 5 semantic attention blocks, ngf 64, batch norm; its discriminator: 3 residual blocks; no dropout and no
    # spectral norm (its text names neither)
    san: GeneratorArchitecture = field(
        default_factory=lambda: GeneratorArchitecture(blocks=5, dropout=0.0, discriminator_spectral_norm=False))

    def architecture(self, name: str) -> GeneratorArchitecture:
        if name not in GENERATOR_NAMES:
            raise InputError(f"unknown generator '{name}' (known: {', '.join(GENERATOR_NAMES)})")
        return getattr(self, name)


@dataclass(frozen=True)
class GeneratorTrainingConfig:
    """The Market-1501 recipe of PATN / PoNA by default: 87,500 iterations of batch 32, the last 25,000 decaying."""

    iterations: int = 87_500
    decay_iterations: int = 25_000  # linear decay of the learning rate to 0 over the last iterations
    batch_size: int = 32
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    lambda_l1: float = 10.0
    lambda_perceptual: float = 10.0
    lambda_gan: float = 5.0
    gan_mode: str = "bce"  # bce (sigmoid + BCE, Market-1501) or lsgan (DeepFashion)
    pool_size: int = 50
    sample_every: int = 1000
    checkpoint_every: int = 1000
    workers: int = 4
    mixed_precision: bool = True  # bf16 autocast on a GPU; ignored on the CPU

    def __post_init__(self) -> None:
        if self.iterations < 1 or self.batch_size < 1:
            raise ValueError("iterations and batch_size must be >= 1")
        if not 0 <= self.decay_iterations <= self.iterations:
            raise ValueError("decay_iterations must be between 0 and iterations")
        if self.gan_mode not in ("bce", "lsgan"):
            raise ValueError(f"gan_mode must be bce or lsgan, got '{self.gan_mode}'")
        if min(self.sample_every, self.checkpoint_every) < 1 or self.workers < 0 or self.pool_size < 0:
            raise ValueError("sample_every and checkpoint_every must be >= 1, workers and pool_size >= 0")
        check_rates_and_weights(self)


@dataclass(frozen=True)
class GFLATrainingConfig:
    """GFLA's own recipe (its authors' Market-1501 script): two stages, the first `flow_iterations` train the
    flow-field estimator alone, the rest the whole model; constant learning rates; least-squares GAN."""

    iterations: int = 200_000  # both stages; the authors train "to convergence" and publish no count
    flow_iterations: int = 50_000
    decay_iterations: int = 0
    batch_size: int = 8
    lr: float = 1e-4
    discriminator_lr: float = 1e-5
    beta1: float = 0.0
    beta2: float = 0.999
    lambda_correctness: float = 5.0
    lambda_regularisation: float = 0.0025
    lambda_l1: float = 5.0
    lambda_gan: float = 2.0
    lambda_content: float = 0.5
    lambda_style: float = 500.0
    flow_lambda_correctness: float = 20.0  # stage 1
    flow_lambda_regularisation: float = 0.01
    correctness_features: str = "vgg"  # vgg (relu3_1, the paper) or patches (4x4 pixel blocks: no VGG weights)
    augmentation: bool = True  # random affine on source (+-5 deg, +-5 px, 0.95-1.05) and, damped, on target
    sample_every: int = 1000
    checkpoint_every: int = 1000
    workers: int = 4
    mixed_precision: bool = True

    def __post_init__(self) -> None:
        if self.iterations < 1 or self.batch_size < 1 or not 0 <= self.flow_iterations <= self.iterations:
            raise ValueError("iterations and batch_size must be >= 1, flow_iterations between 0 and iterations")
        if not 0 <= self.decay_iterations <= self.iterations - self.flow_iterations:
            raise ValueError("decay_iterations must be between 0 and iterations - flow_iterations")
        if self.correctness_features not in ("vgg", "patches"):
            raise ValueError(f"correctness_features must be vgg or patches, got '{self.correctness_features}'")
        if min(self.sample_every, self.checkpoint_every) < 1 or self.workers < 0:
            raise ValueError("sample_every and checkpoint_every must be >= 1, workers >= 0")
        check_rates_and_weights(self)

    @property
    def needs_vgg(self) -> bool:
        correctness = max(self.lambda_correctness, self.flow_lambda_correctness if self.flow_iterations else 0.0)
        return (self.correctness_features == "vgg" and correctness > 0) or self.lambda_content > 0 or self.lambda_style > 0


@dataclass(frozen=True)
class AugmentationConfig:
    """How `augreid.generate` fills the missing images in the flow: which kept image conditions each (`nearest`
    pose or `random`, the paper's plainest reading of "conditioned on preserved images"), and what to do with a
    missing image whose pose lacks a shoulder or hip (`generate`, `copy` the condition, `skip` the slot); with a
    factor K, where the added images' poses come from (`pool` or `canonical N`) and what an image without
    shoulders or hips adds (the same three policies)."""

    condition: str = "nearest"
    unposed: str = "generate"
    poses: str = "pool"

    def __post_init__(self) -> None:
        try:
            parse_poses(self.poses)
        except InputError:
            raise ValueError(f"poses must be 'pool' or 'canonical N' with N >= 1, got '{self.poses}'") from None
        if self.condition not in ("nearest", "random"):
            raise ValueError(f"condition must be nearest or random, got '{self.condition}'")
        if self.unposed not in ("generate", "copy", "skip"):
            raise ValueError(f"unposed must be generate, copy or skip, got '{self.unposed}'")


REPORT_METRICS = ("map", "rank1")


@dataclass(frozen=True)
class ReportConfig:
    """Which re-ID figure leads Table VI's cells, its plot and the comparisons' verdicts: mAP (the PoNA paper's
    table) or rank-1 (IMAGPose's and other recent tables). Both figures stay in every file."""

    metric: str = "map"

    def __post_init__(self) -> None:
        if self.metric not in REPORT_METRICS:
            raise ValueError(f"metric must be map or rank1, got '{self.metric}'")


@dataclass(frozen=True)
class QualityConfig:
    """Generation quality on test pairs: the data root's `market-pairs-test.csv` when present, otherwise `pairs`
    drawn with `seed` from the test identities."""

    pairs: int = QUALITY_PAIRS
    seed: int = 0

    def __post_init__(self) -> None:
        if self.pairs < 1:
            raise ValueError("pairs must be >= 1")


@dataclass(frozen=True)
class ReidConfig:
    """A torchreid softmax baseline; the defaults are torchreid's ResNet-50 Market-1501 recipe."""

    model: str = "resnet50"
    pretrained: bool = True  # start from pretrained weights (the classifier excepted)
    # where those weights come from: imagenet (torchreid's ImageNet file, or --weights), or synthetic (a backbone
    # trained once on another synthetic population, `augreid/reid/pretrain.py`, the demo's stand-in for ImageNet)
    backbone: str = "imagenet"
    height: int = 256
    width: int = 128
    batch_size: int = 32
    test_batch_size: int = 256
    epochs: int = 60
    # epochs: the papers' protocol (the same epochs whatever the set's size); steps: every run takes the optimizer
    # steps of the full (p = 1.0) set, its schedule scaled to match (augreid/reid/budget.py)
    budget: str = "epochs"
    # average precision: torchreid's (mean precision at each hit) or the Market-1501 devkit's (trapezoid rule, the
    # PoNA paper's re-ID baseline); metrics.json holds both, Table VI shows this one
    map_rule: str = "torchreid"
    optimizer: str = "amsgrad"  # one of torchreid's: adam, amsgrad, sgd, rmsprop, radam
    lr: float = 0.0003
    weight_decay: float = 5e-4
    momentum: float = 0.9  # sgd only
    nesterov: bool = False  # sgd only
    # < 1: the ImageNet backbone trains at this fraction of `lr`, the new layers (classifier, bottleneck) at `lr`
    base_lr_mult: float = 1.0
    flip_test: bool = False  # an image's test feature: the mean of its own and its mirror image's
    normalize_features: bool = False  # test features L2-normalised before ranking
    stepsize: int = 20  # the learning rate drops tenfold every `stepsize` epochs
    # step: the drops above; cosine: the rate falls along a half cosine to 0 over the run (no `stepsize`)
    schedule: str = "step"
    fixbase_epochs: int = 5  # first epochs train only the new classifier (pretrained models)
    label_smooth: bool = True
    random_flip: bool = True
    workers: int = 4
    mixed_precision: bool = True  # bf16 autocast on a GPU; ignored on the CPU
    # hold the training images decoded and resized in memory (uint8) instead of reading them every epoch: for
    # small sets and sizes (the demo); full Market-1501 at 256x128 would take 1.3 GB
    preload: bool = False
    # BoT's tricks (augreid/reid/bot.py; configs/market1501-bot.yaml), all off by default:
    triplet_margin: float = 0.0  # > 0: batch-hard triplet loss with this margin on the pooled feature
    center_weight: float = 0.0  # > 0: center loss with this weight on the pooled feature
    instances: int = 0  # > 0: P x K batches, K = instances images of each of batch_size / K identities
    warmup_epochs: int = 0  # linear warm-up from a tenth of lr over these epochs
    milestones: tuple[int, ...] = ()  # the rate drops tenfold at these epochs (instead of every `stepsize`)
    pad: int = 0  # > 0: pad by this many pixels, then crop back at random
    random_erase: float = 0.0  # probability of random erasing

    def __post_init__(self) -> None:
        if (self.triplet_margin > 0 or self.center_weight > 0) and self.model != "resnet50_bot":
            raise ValueError("triplet_margin and center_weight need model resnet50_bot (its BNNeck gives the feature "
                             "they act on)")
        if self.instances < 0 or (self.instances and self.batch_size % self.instances):
            raise ValueError(f"instances must divide batch_size ({self.batch_size}), got {self.instances}")
        if self.preload and (self.instances or self.pad or self.random_erase):
            raise ValueError("preload draws random batches with flips only: set instances, pad and random_erase to 0")
        if min(self.height, self.width, self.batch_size, self.test_batch_size, self.epochs, self.stepsize) < 1:
            raise ValueError("height, width, batch sizes, epochs and stepsize must be >= 1")
        if self.backbone not in ("imagenet", "synthetic"):
            raise ValueError(f"backbone must be imagenet or synthetic, got '{self.backbone}'")
        if self.schedule not in ("step", "cosine"):
            raise ValueError(f"schedule must be step or cosine, got '{self.schedule}'")
        if self.budget not in ("epochs", "steps"):
            raise ValueError(f"budget must be epochs or steps, got '{self.budget}'")
        if self.map_rule not in ("torchreid", "devkit"):
            raise ValueError(f"map_rule must be torchreid or devkit, got '{self.map_rule}'")
        if self.optimizer not in ("adam", "amsgrad", "sgd", "rmsprop", "radam"):
            raise ValueError(f"optimizer must be one of adam, amsgrad, sgd, rmsprop, radam, got '{self.optimizer}'")
        if self.fixbase_epochs < 0 or self.workers < 0 or self.lr <= 0:
            raise ValueError("fixbase_epochs and workers must be >= 0, lr > 0")
        if not 0.0 < self.base_lr_mult <= 1.0:
            raise ValueError(f"base_lr_mult must be in (0, 1], got {self.base_lr_mult}")
        check_rates_and_weights(self)


@dataclass(frozen=True)
class PretrainingConfig:
    """The synthetic backbone (`reid.backbone: synthetic`): the `reid:` model trained from scratch on a synthetic
    population of its own (the `synthetic:` sizes, another seed: other people than the study's), with a step
    schedule; every re-ID run of the study then starts from it, as real runs start from ImageNet weights."""

    seed: int = 1  # the population's seed; the study's synthetic set is seed 0
    batch_size: int = 32
    epochs: int = 36
    lr: float = 0.006
    stepsize: int = 26

    def __post_init__(self) -> None:
        if self.seed < 1:
            raise ValueError(f"seed must be at least 1 (seed 0 is the study's own synthetic set), got {self.seed}")
        if min(self.batch_size, self.epochs, self.stepsize) < 1:
            raise ValueError("batch_size, epochs and stepsize must be >= 1")
        check_rates_and_weights(self)


@dataclass(frozen=True)
class Config:
    """A whole config file; each step reads its own section."""

    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    generators: GeneratorsConfig = field(default_factory=GeneratorsConfig)
    generator_training: GeneratorTrainingConfig = field(default_factory=GeneratorTrainingConfig)
    gfla_training: GFLATrainingConfig = field(default_factory=GFLATrainingConfig)
    # SAN's recipe: Adam 2e-4, betas (0.5, 0.999), batch 32, the learning rate falling linearly to 0 over 300 epochs
    # (guess: an epoch is a pass over Market-1501's 12,936 training images, 404 iterations); its "alpha, beta,
    # gamma = 10, 15, 5" read as L1 10, perceptual 15, adversarial 5 (guess: PATN's L1 and GAN weights)
    san_training: GeneratorTrainingConfig = field(default_factory=lambda: GeneratorTrainingConfig(
        iterations=121_275, decay_iterations=121_275, lambda_l1=10.0, lambda_perceptual=15.0, lambda_gan=5.0))
    augmentation: AugmentationConfig = field(default_factory=AugmentationConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    reid: ReidConfig = field(default_factory=ReidConfig)
    pretraining: PretrainingConfig = field(default_factory=PretrainingConfig)
    report: ReportConfig = field(default_factory=ReportConfig)

    def training(self, generator: str) -> GeneratorTrainingConfig | GFLATrainingConfig:
        """The recipe a generator trains with: GFLA and SAN have their own, the others share PATN's."""
        return {"gfla": self.gfla_training, "san": self.san_training}.get(generator, self.generator_training)


def _convert(value: Any, kind: Any, where: str) -> Any:
    origin = typing.get_origin(kind)
    if dataclasses.is_dataclass(kind):
        return _build(kind, value, where)
    if origin is tuple and typing.get_args(kind)[-1] is Ellipsis:
        if not isinstance(value, (list, tuple)):
            raise InputError(f"{where}: expected a list, got {value!r}")
        return tuple(_convert(v, typing.get_args(kind)[0], f"{where}[{i}]") for i, v in enumerate(value))
    if origin is tuple:
        items = typing.get_args(kind)
        if not isinstance(value, (list, tuple)) or len(value) != len(items):
            raise InputError(f"{where}: expected a list of {len(items)} values, got {value!r}")
        return tuple(_convert(v, t, f"{where}[{i}]") for i, (v, t) in enumerate(zip(value, items)))
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(kind)
        if value is None and type(None) in options:
            return None
        return _convert(value, next(t for t in options if t is not type(None)), where)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind in (int, float, str, bool) and not (isinstance(value, kind) and not (kind is int and isinstance(value, bool))):
        raise InputError(f"{where}: expected {kind.__name__}, got {value!r}")
    return value


def _build(cls: type[T], data: Any, where: str) -> T:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(f"{where}: expected a mapping of settings, got {data!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls) if f.init}
    named = [key for key in data if not isinstance(key, str)]
    if named:
        raise InputError(f"{where}: a setting's name must be text, got {named[0]!r}")
    unknown = sorted(set(data) - known)
    if unknown:
        raise InputError(f"{where}: unknown setting '{unknown[0]}' (known: {', '.join(sorted(known))})")
    values = {key: _convert(value, hints[key], f"{where}.{key}") for key, value in data.items()}
    try:
        return cls(**values)
    except ValueError as err:
        raise InputError(f"{where}: {err}") from None


def load_config(path: str | Path) -> Config:
    """Read a YAML config file into a `Config`; InputError names the file and the offending key."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: config file does not exist")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=UniqueKeyLoader)
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file") from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        raise InputError(f"{path}:{mark.line + 1}:{mark.column + 1}: not valid YAML ({err.problem})") from None
    except yaml.YAMLError as err:
        raise InputError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    if data is None:  # an empty file would silently mean every default: the full 87,500-iteration recipe
        raise InputError(f"{path}: the config is empty (write the sections to set, e.g. reid:, or start from "
                         "configs/demo.yaml)")
    return _build(Config, data, str(path))


def to_dict(config: Any) -> dict:
    """A config dataclass as plain data (tuples as lists), e.g. to record the exact inputs of a run."""
    return _plain(dataclasses.asdict(config))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
