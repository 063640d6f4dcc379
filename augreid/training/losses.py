"""Training losses of PATN / PoNA: L1, VGG19 perceptual (conv1_2), adversarial, and the pool of past fakes."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from augreid.core.compat import import_torchvision
from augreid.core.device import weights_cache_dir
from augreid.core.errors import InputError

VGG19_FILE = "vgg19-dcbb9e9d.pth"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def default_vgg_path() -> Path:
    """Where torchvision caches the ImageNet VGG19 weights: $TORCH_HOME/hub/checkpoints/vgg19-dcbb9e9d.pth."""
    return weights_cache_dir() / VGG19_FILE


def _missing_vgg_message(path: Path, reason: str, remedy: str) -> str:
    return (f"VGG19 ImageNet weights are not available ({reason}). Remedies: put {VGG19_FILE} at {path}, or pass "
            f"--vgg-weights PATH, or {remedy} in the config")


def load_vgg19(weights: str | Path | None = None, layers: int = 4,
               remedy: str = "set generator_training.lambda_perceptual: 0") -> nn.Sequential:
    """The first `layers` modules of VGG19's `features` with ImageNet weights, frozen (4: up to conv1_2 + ReLU).
    Downloads the weights when allowed and possible; otherwise an InputError names the remedies."""
    torchvision = import_torchvision()
    features = torchvision.models.vgg19().features[:layers]
    path = Path(weights) if weights else default_vgg_path()
    if not path.is_file():
        if weights:
            raise InputError(_missing_vgg_message(path, f"{path} does not exist", remedy))
        try:
            torch.hub.load_state_dict_from_url(torchvision.models.VGG19_Weights.IMAGENET1K_V1.url, progress=False)
        except Exception as err:  # offline, proxy, disk: every failure has the same remedies
            raise InputError(_missing_vgg_message(path, f"download failed: {type(err).__name__}", remedy)) from None
    wanted = set(features.state_dict())
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        features.load_state_dict({k.removeprefix("features."): v for k, v in state.items()
                                  if k.removeprefix("features.") in wanted})
    except Exception as err:
        raise InputError(_missing_vgg_message(path, f"{path} is not a VGG19 state dict: {type(err).__name__}",
                                              remedy)) from None
    return features.eval().requires_grad_(False)


def load_vgg_conv1_2(weights: str | Path | None = None) -> nn.Sequential:
    """VGG19 up to conv1_2 + ReLU: PATN's and PoNA's perceptual features."""
    return load_vgg19(weights, 4)


class PerceptualLoss(nn.Module):
    """L1 between VGG19 conv1_2 (after ReLU) features of two images in [-1, 1], ImageNet-normalised."""

    def __init__(self, features: nn.Module):
        super().__init__()
        self.features = features
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def _normalise(self, image: torch.Tensor) -> torch.Tensor:
        return ((image + 1) / 2 - self.mean) / self.std

    def forward(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        return F.l1_loss(self.features(self._normalise(fake)), self.features(self._normalise(real)))


def adversarial_loss(logits: torch.Tensor, real: bool, mode: str = "bce") -> torch.Tensor:
    """Against an all-ones (real) or all-zeros (fake) map: sigmoid + BCE (Market-1501) or least squares."""
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    if mode == "bce":
        return F.binary_cross_entropy_with_logits(logits.float(), target.float())  # sigmoid + BCE, fused for stability
    if mode == "lsgan":
        return F.mse_loss(logits.float(), target.float())
    raise ValueError(f"unknown GAN mode '{mode}' (bce or lsgan)")


class ImagePool:
    """A pool of past fakes (Shrivastava et al.): half the time the discriminator sees an older fake instead.

    Randomness comes from torch's generator, which training seeds per iteration, so a resumed run draws the same.
    """

    def __init__(self, size: int = 50):
        self.size = size
        self.images: list[torch.Tensor] = []

    def query(self, batch: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return batch
        out = []
        for image in batch.detach():
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif torch.rand(()) < 0.5:
                slot = int(torch.randint(self.size, ()))
                out.append(self.images[slot].clone())
                self.images[slot] = image.clone()
            else:
                out.append(image)
        return torch.stack(out)

    def state(self) -> list[torch.Tensor]:
        return [image.cpu() for image in self.images]

    def load(self, images: list[torch.Tensor], device: torch.device) -> None:
        self.images = [image.to(device) for image in images]
