"""GFLA's training iteration, in two stages on one counter.

Stage 1 (the first `flow_iterations`): the flow-field estimator alone,
    L = 20 L_correctness + 0.01 L_regularisation.
Stage 2: the whole model, from the stage-1 flow weights; the discriminator first, then the generator,
    L_D = 0.5 (LS(D(real), 1) + LS(D(fake), 0)),
    L_G = 5 L1 + 2 LS(D(fake), 1) + 5 L_correctness + 0.0025 L_regularisation + 0.5 L_content + 500 L_style.
Training pairs are augmented as published: the source image and keypoints rotated +-5 degrees, shifted +-5 px and
scaled 0.95-1.05 (grey fill); the target by the same draw with a fifth of the rotation, half the shift, no scale.
Same interface as PoseTransferGAN (step, sample, set_lr, training state), so one trainer drives both.
"""
from __future__ import annotations

import contextlib
import math

import torch
from torch import nn
from torch.nn import functional as F

from augreid.config import GeneratorArchitecture, GFLATrainingConfig
from augreid.core.device import mixed_precision
from augreid.data.heatmap import pose_pair_maps
from augreid.data.pose import MISSING
from augreid.models import build_generator, build_gfla_discriminator
from augreid.training.gan import sample_in_eval_mode
from augreid.training.gfla_losses import (CONTENT_LAYERS, CORRECTNESS_LAYER, STYLE_LAYERS, VGGFeatures,
                                          affine_regularisation, content_loss, patch_features, sampling_correctness,
                                          style_loss)
from augreid.training.losses import adversarial_loss

POSE_CHANNELS = 18
ROTATION, SHIFT, SCALE = math.radians(5), 5.0, 0.05  # source draw: +-5 degrees, +-5 px, 0.95-1.05
TARGET_ROTATION, TARGET_SHIFT = 0.2, 0.5  # the target takes the same draw, damped, and no scale


def random_affine(images: torch.Tensor, keypoints: torch.Tensor, angle: torch.Tensor, shift: torch.Tensor,
                  scale: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotate (radians), scale about the centre and shift (x, y pixels) images (B, 3, H, W) in [-1, 1] and their
    (B, 18, 2) keypoints (y, x; -1 stays missing) alike: p' = s R (p - c) + c + t. Uncovered pixels are grey."""
    _, _, h, w = images.shape
    cx, cy = (w - 1) / 2, (h - 1) / 2
    cos, sin = torch.cos(angle)[:, None, None], torch.sin(angle)[:, None, None]
    s, tx, ty = scale[:, None, None], shift[:, 0, None, None], shift[:, 1, None, None]
    ys, xs = torch.meshgrid(torch.arange(h, dtype=images.dtype, device=images.device),
                            torch.arange(w, dtype=images.dtype, device=images.device), indexing="ij")
    dx, dy = xs - cx - tx, ys - cy - ty
    source_x, source_y = (cos * dx + sin * dy) / s + cx, (-sin * dx + cos * dy) / s + cy  # the inverse map
    grid = torch.stack([2 * source_x / (w - 1) - 1, 2 * source_y / (h - 1) - 1], dim=-1)
    warped = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=True)  # 0 is grey
    y, x = keypoints[..., 0] - cy, keypoints[..., 1] - cx
    cos, sin, s, tx, ty = (v[:, :, 0] for v in (cos, sin, s, tx, ty))
    moved = torch.stack([s * (sin * x + cos * y) + cy + ty, s * (cos * x - sin * y) + cx + tx], dim=-1)
    missing = (keypoints == MISSING).any(dim=-1, keepdim=True)
    return warped, torch.where(missing, torch.full_like(moved, MISSING), moved)


class GFLATraining(nn.Module):
    def __init__(self, architecture: GeneratorArchitecture, config: GFLATrainingConfig, vgg: VGGFeatures | None,
                 device: torch.device):
        super().__init__()
        self.config = config
        self.device = device
        self.generator = build_generator("gfla", architecture)
        self.discriminator = build_gfla_discriminator(architecture)
        self.vgg = vgg
        self.iteration = 0  # decides the stage; saved with the training state
        self.to(device)
        betas = (config.beta1, config.beta2)
        self.optimisers = {
            "flow": torch.optim.Adam(self.generator.flow_net.parameters(), lr=config.lr, betas=betas),
            "generator": torch.optim.Adam(self.generator.parameters(), lr=config.lr, betas=betas),
            "discriminator": torch.optim.Adam(self.discriminator.parameters(), lr=config.discriminator_lr, betas=betas),
        }

    def _autocast(self) -> contextlib.AbstractContextManager:
        return mixed_precision(self.device, self.config.mixed_precision)

    def _inputs(self, batch: dict[str, torch.Tensor], augment: bool = False) -> tuple[torch.Tensor, ...]:
        move = dict(device=self.device, non_blocking=True)
        condition, target = batch["condition"].to(**move), batch["target"].to(**move)
        condition_pose = batch["condition_pose"].to(**move, dtype=torch.float32)
        target_pose = batch["target_pose"].to(**move, dtype=torch.float32)
        if augment:  # one draw per pair from torch's generator, which the trainer seeds per iteration
            n = len(condition)
            angle = (torch.rand(n) * 2 - 1).mul(ROTATION).to(self.device)
            shift = (torch.rand(n, 2) * 2 - 1).mul(SHIFT).to(self.device)
            scale = (1 + (torch.rand(n) * 2 - 1) * SCALE).to(self.device)
            condition, condition_pose = random_affine(condition, condition_pose, angle, shift, scale)
            target, target_pose = random_affine(target, target_pose, TARGET_ROTATION * angle, TARGET_SHIFT * shift,
                                                torch.ones_like(scale))
        return condition, target, pose_pair_maps(condition_pose, target_pose)

    def set_lr(self, lr: float) -> None:
        """The generator's (and the flow stage's) learning rate; the discriminator's keeps its ratio to it."""
        for name, optimiser in self.optimisers.items():
            scale = self.config.discriminator_lr / self.config.lr if name == "discriminator" else 1.0
            for group in optimiser.param_groups:
                group["lr"] = lr * scale

    def _correctness_features(self, condition: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self.config.correctness_features == "patches":
            return patch_features(condition), patch_features(target)
        with torch.no_grad():
            target_features = self.vgg(target, (CORRECTNESS_LAYER,))[CORRECTNESS_LAYER]
        return self.vgg(condition, (CORRECTNESS_LAYER,))[CORRECTNESS_LAYER], target_features

    def _flow_losses(self, condition: torch.Tensor, target: torch.Tensor, flow: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if not torch.isfinite(flow).all():
            raise FloatingPointError(f"gfla: the flow field diverged at iteration {self.iteration} (non-finite "
                                     "values); lower gfla_training.lr")
        source_features, target_features = self._correctness_features(condition, target)
        return sampling_correctness(source_features, target_features, flow), affine_regularisation(flow)

    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One iteration of the current stage; returns its losses."""
        stage = 1 if self.iteration < self.config.flow_iterations else 2
        losses = self._flow_step(batch) if stage == 1 else self._model_step(batch)
        self.iteration += 1
        return {"stage": float(stage), **losses}

    def _flow_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        cfg = self.config
        condition, target, maps = self._inputs(batch, augment=cfg.augmentation)
        with self._autocast():
            flow, _ = self.generator.flow_net(condition, maps[:, :POSE_CHANNELS], maps[:, POSE_CHANNELS:])
        correctness, regularisation = self._flow_losses(condition, target, flow)
        loss = cfg.flow_lambda_correctness * correctness + cfg.flow_lambda_regularisation * regularisation
        self.optimisers["flow"].zero_grad(set_to_none=True)
        loss.backward()
        self.optimisers["flow"].step()
        return {"G": loss.item(), "correctness": correctness.item(), "regularisation": regularisation.item()}

    def _model_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        cfg = self.config
        condition, target, maps = self._inputs(batch, augment=cfg.augmentation)
        with self._autocast():
            fake, flow, _ = self.generator.forward_with_flow(condition, maps)
            d_loss = 0.5 * (adversarial_loss(self.discriminator(target), True, "lsgan")
                            + adversarial_loss(self.discriminator(fake.detach()), False, "lsgan"))
        self.optimisers["discriminator"].zero_grad(set_to_none=True)
        d_loss.backward()
        self.optimisers["discriminator"].step()

        self.discriminator.requires_grad_(False)
        with self._autocast():
            gan = adversarial_loss(self.discriminator(fake), True, "lsgan")
        self.discriminator.requires_grad_(True)
        l1 = F.l1_loss(fake.float(), target.float())
        correctness, regularisation = self._flow_losses(condition, target, flow)
        content = style = fake.new_zeros((), dtype=torch.float32)
        if cfg.lambda_content > 0 or cfg.lambda_style > 0:
            fake_features = self.vgg(fake, CONTENT_LAYERS + STYLE_LAYERS)
            with torch.no_grad():
                real_features = self.vgg(target, CONTENT_LAYERS + STYLE_LAYERS)
            content, style = content_loss(fake_features, real_features), style_loss(fake_features, real_features)
        loss = (cfg.lambda_l1 * l1 + cfg.lambda_gan * gan + cfg.lambda_correctness * correctness
                + cfg.lambda_regularisation * regularisation + cfg.lambda_content * content + cfg.lambda_style * style)
        self.optimisers["generator"].zero_grad(set_to_none=True)
        loss.backward()
        self.optimisers["generator"].step()
        return {"G": loss.item(), "L1": l1.item(), "G_gan": gan.item(), "correctness": correctness.item(),
                "regularisation": regularisation.item(), "content": content.item(), "style": style.item(),
                "D": d_loss.item()}

    def sample(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        condition, _, maps = self._inputs(batch)
        return sample_in_eval_mode(self.generator, condition, maps, self._autocast())

    def training_state(self) -> dict:
        return {"models": {"generator": self.generator.state_dict(), "discriminator": self.discriminator.state_dict()},
                "optimisers": {name: opt.state_dict() for name, opt in self.optimisers.items()},
                "iteration": self.iteration}

    def load_training_state(self, state: dict) -> None:
        self.generator.load_state_dict(state["models"]["generator"])
        self.discriminator.load_state_dict(state["models"]["discriminator"])
        for name, opt in self.optimisers.items():
            opt.load_state_dict(state["optimisers"][name])
        self.iteration = state["iteration"]
