"""Pose-transfer generators by name, and their discriminators."""
from __future__ import annotations

import torch
from torch import nn

from augreid.config import GENERATOR_NAMES, GeneratorArchitecture
from augreid.core.errors import InputError
from augreid.data.heatmap import pose_pair_maps
from augreid.data.pose import IMAGE_SIZE, N_JOINTS
from augreid.data.semantic import SEMANTIC_CHANNELS, semantic_pair_maps
from augreid.models.aps import APSGenerator
from augreid.models.discriminators import PairDiscriminator, appearance_discriminator, pose_discriminator
from augreid.models.gfla import GFLADiscriminator, GFLAGenerator
from augreid.models.patn import PATNGenerator
from augreid.models.pona import PoNAGenerator
from augreid.models.san import SANGenerator
from augreid.models.scale import AtScale, maps_pool


def _gfla(a: GeneratorArchitecture) -> GFLAGenerator:
    if a.blocks != 3:
        raise InputError(f"gfla: blocks must be 3 (its local attention sits at the flow's quarter resolution), got {a.blocks}")
    return GFLAGenerator(ngf=a.ngf, top=8 * a.ngf, flow_ngf=a.ngf // 2, flow_top=4 * a.ngf)


_GENERATORS = {
    "pona": lambda a: PoNAGenerator(blocks=a.blocks, ngf=a.ngf, norm=a.norm, dropout=a.dropout),
    "patn": lambda a: PATNGenerator(blocks=a.blocks, ngf=a.ngf, norm=a.norm, dropout=a.dropout),
    "aps": lambda a: APSGenerator(blocks=a.blocks, ngf=a.ngf, norm=a.norm, dropout=a.dropout),
    "gfla": _gfla,
    "san": lambda a: SANGenerator(blocks=a.blocks, ngf=a.ngf, norm=a.norm),
}
assert set(_GENERATORS) == set(GENERATOR_NAMES)


def build_generator(name: str, architecture: GeneratorArchitecture) -> nn.Module:
    """The generator of that name and shape; with `scale` > 1, run at 128x64 / scale (`scale.py`)."""
    if name not in _GENERATORS:
        raise InputError(f"unknown generator '{name}' (known: {', '.join(_GENERATORS)})")
    generator = _GENERATORS[name](architecture)
    return AtScale(generator, architecture.scale) if architecture.scale > 1 else generator


def maps_channels(name: str) -> int:
    """Channels of the maps a generator is conditioned on: SAN's semantic maps, the others' heatmaps (both poses)."""
    return 2 * (SEMANTIC_CHANNELS if name == "san" else N_JOINTS)


def conditioning_maps(generator: nn.Module, condition_pose, target_pose,
                      device: torch.device | str | None = None) -> torch.Tensor:
    """The maps a generator is conditioned on besides the image, drawn from the condition and target keypoints:
    SAN's semantic maps (`semantic.py`), the others' heatmaps; pooled for a generator at a smaller scale."""
    inner = generator.generator if isinstance(generator, AtScale) else generator
    draw = semantic_pair_maps if isinstance(inner, SANGenerator) else pose_pair_maps
    return draw(condition_pose, target_pose, device=device, pool=maps_pool(generator))


def check_architecture(name: str, architecture: GeneratorArchitecture) -> None:
    """Build the generator and run it once on torch's meta device (shapes only, no memory, no arithmetic): a shape
    the model refuses fails here, before any data is read or any step trained."""
    height, width = IMAGE_SIZE
    try:
        with torch.device("meta"), torch.no_grad():
            build_generator(name, architecture)(torch.empty(1, 3, height, width),
                                                torch.empty(1, maps_channels(name), height, width))
    except (InputError, RuntimeError, ValueError) as err:
        message = str(err).removeprefix(f"{name}: ").splitlines()[0]
        raise InputError(f"generators.{name}: this shape does not build ({message})") from None


def build_discriminators(architecture: GeneratorArchitecture) -> tuple[nn.Module, nn.Module]:
    """PATN's pair (pose discriminator, appearance discriminator), with the generator's norm and dropout; PoNA
    and APS use it too."""
    options = dict(ndf=architecture.ndf, blocks=architecture.discriminator_blocks, norm=architecture.norm,
                   dropout=architecture.dropout, use_spectral_norm=architecture.discriminator_spectral_norm)
    return pose_discriminator(**options), appearance_discriminator(**options)


def build_pair_discriminator(architecture: GeneratorArchitecture) -> PairDiscriminator:
    """SAN's discriminator, with the generator's norm."""
    return PairDiscriminator(ndf=architecture.ndf, norm=architecture.norm, blocks=architecture.discriminator_blocks)


def build_gfla_discriminator(architecture: GeneratorArchitecture) -> GFLADiscriminator:
    return GFLADiscriminator(ndf=architecture.ndf, top=4 * architecture.ndf, layers=architecture.discriminator_blocks)
