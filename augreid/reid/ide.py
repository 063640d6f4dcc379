"""The re-ID baseline of the PoNA paper's Table VI: ResNet-50 IDE, "the Person re-ID baseline framework".

ResNet-50 (ImageNet weights) -> global average pool (2048) -> bottleneck: linear 2048->512, batch norm, dropout
0.5 -> linear classifier over the training identities. It trains with SGD, the new layers at ten times the
backbone's learning rate (0.05 and 0.005, `reid.base_lr_mult: 0.1`), and describes an image at test time by its
512-d bottleneck feature, averaged with the feature of the flipped image and L2-normalised (`reid.flip_test`,
`reid.normalize_features`). About 71.6 mAP on full Market-1501 with the devkit's rule, against the paper's 71.8.
Registered with torchreid as `resnet50_ide`, so `reid.model: resnet50_ide` builds it.
"""
from __future__ import annotations

import torch
from torch import nn

from augreid.core.compat import import_torchreid

NAME = "resnet50_ide"
IMAGENET_BACKBONE = "resnet50"  # whose ImageNet file fills the backbone
NEW_LAYERS = ("bottleneck", "classifier")  # trained at the full learning rate; the backbone at base_lr_mult of it
FEATURE_DIM = 512


class IDEResNet50(nn.Module):
    def __init__(self, num_classes: int, loss: str = "softmax", dropout: float = 0.5, **_unused):
        super().__init__()
        resnet = import_torchreid().reid.models.resnet.resnet50(num_classes=1, loss=loss, pretrained=False)
        # the backbone's layers under torchvision's names, so the ImageNet file's tensors load by name
        self.conv1, self.bn1, self.relu, self.maxpool = resnet.conv1, resnet.bn1, resnet.relu, resnet.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = resnet.layer1, resnet.layer2, resnet.layer3, resnet.layer4
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.bottleneck = nn.Sequential(nn.Linear(2048, FEATURE_DIM), nn.BatchNorm1d(FEATURE_DIM), nn.Dropout(dropout))
        self.classifier = nn.Linear(FEATURE_DIM, num_classes)
        nn.init.kaiming_normal_(self.bottleneck[0].weight, mode="fan_out")
        nn.init.zeros_(self.bottleneck[0].bias)
        nn.init.normal_(self.bottleneck[1].weight, 1.0, 0.02)
        nn.init.zeros_(self.bottleneck[1].bias)
        nn.init.normal_(self.classifier.weight, std=0.001)
        nn.init.zeros_(self.classifier.bias)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(images))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        feature = self.bottleneck(self.global_avgpool(x).flatten(1))  # the 512-d description
        if not self.training:
            return feature
        return self.classifier(feature)  # identity logits


def describe(model: nn.Module, images: torch.Tensor, flip: bool = False, normalize: bool = False) -> torch.Tensor:
    """Test features of a batch: the model's, plus its mirror image's when `flip`, L2-normalised when `normalize`
    (the IDE baseline's test protocol; any model can use it)."""
    features = model(images).float()
    if flip:
        features = features + model(images.flip(3)).float()
    return nn.functional.normalize(features, dim=1) if normalize else features


def register_ide() -> None:
    """Make `resnet50_ide` one of torchreid's models (idempotent)."""
    import_torchreid().reid.models.__model_factory[NAME] = IDEResNet50
