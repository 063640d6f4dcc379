"""BoT, "Bag of Tricks and a Strong Baseline for Deep Person Re-identification" (Luo et al., CVPRW 2019): the re-ID
baseline of the latest pose-transfer tables (IMAGPose, Table 4), on torchreid's engine and model registry.

- `resnet50_bot`: ResNet-50 (ImageNet weights) whose last stage keeps stride 1 (trick "last stride": a 16x8 map at
  256x128); BNNeck: the pooled 2048-d feature f_t takes the metric losses, a batch norm without a learnt shift
  gives f_i, and a classifier without bias turns f_i into identity logits; f_i describes an image at test time.
- `BoTEngine`: cross-entropy with label smoothing on the logits, plus the batch-hard triplet loss (margin
  `reid.triplet_margin`, on P x K batches: `reid.instances` images of each identity) and the center loss (weight
  `reid.center_weight`, its centres learnt by SGD at 0.5, their gradient undone of the weight, as the authors do)
  on f_t.
- `warmup_multistep`: the rate rises linearly from `warmup_factor` of the base over `reid.warmup_epochs`, then
  drops tenfold at each of `reid.milestones`.
"""
from __future__ import annotations

import bisect

import torch
from torch import nn

from augreid.core.compat import import_torchreid

NAME = "resnet50_bot"
FEATURE_DIM = 2048
NEW_LAYERS = ("bnneck", "classifier")
CENTER_LR = 0.5
WARMUP_FACTOR = 0.1  # 3.5e-5 at the start of the warm-up for BoT's base rate of 3.5e-4


class BoTResNet50(nn.Module):
    def __init__(self, num_classes: int, loss: str = "softmax", **_unused):
        super().__init__()
        resnet = import_torchreid().reid.models.resnet.resnet50(num_classes=1, loss=loss, pretrained=False)
        self.conv1, self.bn1, self.relu, self.maxpool = resnet.conv1, resnet.bn1, resnet.relu, resnet.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = resnet.layer1, resnet.layer2, resnet.layer3, resnet.layer4
        # last stride 1: the first block of layer4 no longer halves the map (its 3x3 conv and its shortcut)
        self.layer4[0].conv2.stride = (1, 1)
        self.layer4[0].downsample[0].stride = (1, 1)
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.bnneck = nn.BatchNorm1d(FEATURE_DIM)
        self.bnneck.bias.requires_grad_(False)  # no shift: f_i stays centred for the cosine-like ID loss
        self.classifier = nn.Linear(FEATURE_DIM, num_classes, bias=False)
        nn.init.ones_(self.bnneck.weight)
        nn.init.zeros_(self.bnneck.bias)
        nn.init.normal_(self.classifier.weight, std=0.001)

    def forward(self, images: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(images))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        f_t = self.global_avgpool(x).flatten(1)  # the triplet / center feature
        f_i = self.bnneck(f_t)  # the ID feature, and the test feature
        if not self.training:
            return f_i
        return self.classifier(f_i), f_t


class CenterLoss(nn.Module):
    """Wen et al.'s center loss: the squared distance of each feature to its identity's centre, summed over the
    batch's features and divided by the batch size."""

    def __init__(self, num_classes: int, dim: int = FEATURE_DIM):
        super().__init__()
        self.centers = nn.Parameter(torch.randn(num_classes, dim))

    def forward(self, features: torch.Tensor, pids: torch.Tensor) -> torch.Tensor:
        return (features - self.centers[pids]).pow(2).sum(1).clamp(1e-12, 1e12).mean()


def warmup_multistep(epoch: int, warmup_epochs: int, milestones: tuple[int, ...], gamma: float = 0.1,
                     warmup_factor: float = WARMUP_FACTOR) -> float:
    """The learning rate's factor at `epoch` (0-based): linear warm-up, then x gamma at each milestone passed."""
    warm = warmup_factor + (1 - warmup_factor) * epoch / warmup_epochs if epoch < warmup_epochs else 1.0
    return warm * gamma ** bisect.bisect_right(sorted(milestones), epoch)


def register_bot() -> None:
    """Make `resnet50_bot` one of torchreid's models (idempotent)."""
    import_torchreid().reid.models.__model_factory[NAME] = BoTResNet50
