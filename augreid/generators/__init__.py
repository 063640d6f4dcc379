"""Pose-transfer generators by name, and their discriminators."""
from __future__ import annotations

from torch import nn

from augreid.config import GENERATOR_NAMES, GeneratorArchitecture
from augreid.errors import InputError
from augreid.generators.discriminators import appearance_discriminator, pose_discriminator
from augreid.generators.patn import PATNGenerator
from augreid.generators.pona import PoNAGenerator

_GENERATORS = {"pona": PoNAGenerator, "patn": PATNGenerator}
assert set(_GENERATORS) == set(GENERATOR_NAMES)


def build_generator(name: str, architecture: GeneratorArchitecture) -> nn.Module:
    if name not in _GENERATORS:
        raise InputError(f"unknown generator '{name}' (known: {', '.join(_GENERATORS)})")
    return _GENERATORS[name](blocks=architecture.blocks, ngf=architecture.ngf, norm=architecture.norm,
                             dropout=architecture.dropout)


def build_discriminators(architecture: GeneratorArchitecture) -> tuple[nn.Module, nn.Module]:
    """(pose discriminator, appearance discriminator), with the generator's norm and dropout."""
    options = dict(ndf=architecture.ndf, blocks=architecture.discriminator_blocks, norm=architecture.norm,
                   dropout=architecture.dropout, use_spectral_norm=architecture.discriminator_spectral_norm)
    return pose_discriminator(**options), appearance_discriminator(**options)
