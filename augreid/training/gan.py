"""One training iteration of PATN / PoNA / APS (update G, then the appearance D, then the pose D) and of SAN
(update G, then its pair D).

G loss = lambda_L1 * L1 + lambda_perc * perceptual + lambda_GAN * mean over the Ds of L(D(fake), 1);
each D loss = 0.5 * lambda_GAN * (L(D(real), 1) + L(D(pooled fake), 0)).
"""
from __future__ import annotations

import contextlib

import torch
from torch import nn
from torch.nn import functional as F

from augreid.config import GeneratorArchitecture, GeneratorTrainingConfig
from augreid.core.device import mixed_precision
from augreid.models import build_discriminators, build_generator, build_pair_discriminator, conditioning_maps
from augreid.models.scale import maps_pool
from augreid.training.losses import ImagePool, PerceptualLoss, adversarial_loss

# What each discriminator judges an image with: the target heatmaps (pose), the condition image (appearance), or
# SAN's (condition, image) pair
PAIRINGS = {
    "pose": lambda image, condition, target_maps: torch.cat([image, target_maps], 1),
    "appearance": lambda image, condition, target_maps: torch.cat([image, condition], 1),
    "pair": lambda image, condition, target_maps: torch.cat([condition, image], 1),
}
SHORT = {"pose": "pose", "appearance": "app", "pair": "pair"}


def build_discriminator_set(name: str, architecture: GeneratorArchitecture) -> dict[str, nn.Module]:
    """The discriminators of a generator, in the order the generator's loss calls them."""
    if name == "san":
        return {"pair": build_pair_discriminator(architecture)}
    pose, appearance = build_discriminators(architecture)
    return {"pose": pose, "appearance": appearance}


@torch.no_grad()
def sample_in_eval_mode(generator: nn.Module, condition: torch.Tensor, maps: torch.Tensor,
                        autocast: contextlib.AbstractContextManager) -> torch.Tensor:
    """Generated images in eval mode (running batch-norm statistics, no dropout), then back to training."""
    generator.eval()
    try:
        with autocast:
            return generator(condition, maps).float()
    finally:
        generator.train()


class PoseTransferGAN(nn.Module):
    def __init__(self, name: str, architecture: GeneratorArchitecture, config: GeneratorTrainingConfig,
                 perceptual: PerceptualLoss | None, device: torch.device):
        super().__init__()
        self.config = config
        self.device = device
        self.generator = build_generator(name, architecture)
        self.discriminators = nn.ModuleDict(build_discriminator_set(name, architecture))
        self.perceptual = perceptual
        self.to(device).to(memory_format=torch.channels_last)  # faster on the CPU too (bench/RESULTS.md)
        adam = dict(lr=config.lr, betas=(config.beta1, config.beta2), foreach=True)  # foreach: also on the CPU
        # the Ds are updated in the reverse of the loss's order (appearance, then pose: the authors' order)
        self.updates = list(self.discriminators)[::-1]
        self.optimisers = {"generator": torch.optim.Adam(self.generator.parameters(), **adam)}
        self.optimisers.update({d: torch.optim.Adam(self.discriminators[d].parameters(), **adam) for d in self.updates})
        self.pools = {d: ImagePool(config.pool_size) for d in self.updates}

    def _autocast(self) -> contextlib.AbstractContextManager:
        return mixed_precision(self.device, self.config.mixed_precision)

    def _inputs(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        move = dict(device=self.device, non_blocking=True)
        condition, target = batch["condition"].to(**move), batch["target"].to(**move)
        # a generator at a smaller scale takes the maps pooled, and its discriminators judge at that scale too
        maps = conditioning_maps(self.generator, batch["condition_pose"], batch["target_pose"], self.device)
        condition, target, maps = (t.contiguous(memory_format=torch.channels_last) for t in (condition, target, maps))
        return condition, target, maps

    def set_lr(self, lr: float) -> None:
        for optimiser in self.optimisers.values():
            for group in optimiser.param_groups:
                group["lr"] = lr

    def _discriminator_step(self, name: str, discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> float:
        fake = self.pools[name].query(fake.detach())
        with self._autocast():
            loss = 0.5 * self.config.lambda_gan * (
                adversarial_loss(discriminator(real), True, self.config.gan_mode)
                + adversarial_loss(discriminator(fake), False, self.config.gan_mode))
        self.optimisers[name].zero_grad(set_to_none=True)
        loss.backward()
        self.optimisers[name].step()
        return loss.item()

    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One iteration on a batch of (condition, target) pairs; returns the losses."""
        cfg = self.config
        condition, target, maps = self._inputs(batch)
        if cfg.lambda_gan == 0:  # no adversarial term: the discriminators would be trained for nothing
            return self._reconstruction_step(condition, target, maps)
        target_maps = maps[:, maps.shape[1] // 2:]
        for d in self.discriminators.values():
            d.requires_grad_(False)
        with self._autocast():
            fake = self.generator(condition, maps)
            l1 = F.l1_loss(fake.float(), target.float())
            perceptual = self.perceptual(fake, target).float() if self.perceptual is not None else fake.new_zeros(())
            fake_d, target_d, condition_d = (self._at_scale(t) for t in (fake, target, condition))
            fooled = {name: adversarial_loss(d(PAIRINGS[name](fake_d, condition_d, target_maps)), True, cfg.gan_mode)
                      for name, d in self.discriminators.items()}
        gan = sum(fooled.values()) / len(fooled)
        loss = cfg.lambda_l1 * l1 + cfg.lambda_perceptual * perceptual + cfg.lambda_gan * gan
        self.optimisers["generator"].zero_grad(set_to_none=True)
        loss.backward()
        self.optimisers["generator"].step()
        for d in self.discriminators.values():
            d.requires_grad_(True)
        judged = {name: self._discriminator_step(name, self.discriminators[name],
                                                 PAIRINGS[name](target_d, condition_d, target_maps),
                                                 PAIRINGS[name](fake_d, condition_d, target_maps))
                  for name in self.updates}
        return {"G": loss.item(), "L1": l1.item(), "perc": perceptual.item(),
                **{f"G_{SHORT[name]}": value.item() for name, value in fooled.items()},
                **{f"D_{SHORT[name]}": value for name, value in judged.items()}}

    def _at_scale(self, image: torch.Tensor) -> torch.Tensor:
        """An image at the size the generator works at (and its discriminators judge at)."""
        scale = maps_pool(self.generator)
        return F.avg_pool2d(image, scale) if scale > 1 else image

    def _reconstruction_step(self, condition: torch.Tensor, target: torch.Tensor, maps: torch.Tensor) -> dict[str, float]:
        cfg = self.config
        with self._autocast():
            fake = self.generator(condition, maps)
            l1 = F.l1_loss(fake.float(), target.float())
            perceptual = self.perceptual(fake, target).float() if self.perceptual is not None else fake.new_zeros(())
        loss = cfg.lambda_l1 * l1 + cfg.lambda_perceptual * perceptual
        self.optimisers["generator"].zero_grad(set_to_none=True)
        loss.backward()
        self.optimisers["generator"].step()
        return {"G": loss.item(), "L1": l1.item(), "perc": perceptual.item()}

    def sample(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        condition, _, maps = self._inputs(batch)
        return sample_in_eval_mode(self.generator, condition, maps, self._autocast())

    def training_state(self) -> dict:
        return {
            "models": {"generator": self.generator.state_dict(),
                       **{f"{name}_discriminator": d.state_dict() for name, d in self.discriminators.items()}},
            "optimisers": {name: opt.state_dict() for name, opt in self.optimisers.items()},
            "pools": {name: pool.state() for name, pool in self.pools.items()},
        }

    def load_training_state(self, state: dict) -> None:
        self.generator.load_state_dict(state["models"]["generator"])
        for name, d in self.discriminators.items():
            d.load_state_dict(state["models"][f"{name}_discriminator"])
        for name, opt in self.optimisers.items():
            opt.load_state_dict(state["optimisers"][name])
        for name, pool in self.pools.items():
            pool.load(state["pools"][name], self.device)
