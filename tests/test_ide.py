"""The PoNA paper's re-ID baseline (ResNet-50 IDE) as a torchreid model and its configuration."""
import dataclasses
from pathlib import Path

import pytest
import torch

from augreid.config import load_config
from augreid.core.compat import import_torchreid
from augreid.reid.engine import build_engine, load_imagenet_weights
from augreid.reid.ide import FEATURE_DIM, describe, register_ide

IDE = load_config(Path(__file__).parents[1] / "configs" / "market1501-ide.yaml").reid


def build(classes: int = 5):
    register_ide()
    return import_torchreid().reid.models.build_model("resnet50_ide", num_classes=classes, loss="softmax",
                                                      pretrained=False)


def test_logits_in_training_and_the_512d_bottleneck_feature_at_test():
    torch.manual_seed(0)
    model = build()
    images = torch.randn(2, 3, 64, 32)
    assert model.train()(images).shape == (2, 5)
    feature = model.eval()(images)
    assert feature.shape == (2, FEATURE_DIM)
    stem = model.maxpool(model.relu(model.bn1(model.conv1(images))))
    pooled = model.global_avgpool(model.layer4(model.layer3(model.layer2(model.layer1(stem))))).flatten(1)
    assert torch.equal(feature, model.bottleneck(pooled))  # the bottleneck's output, dropout off


def test_imagenet_weights_fill_the_whole_backbone(tmp_path):
    imagenet = import_torchreid().reid.models.build_model("resnet50", num_classes=1000, pretrained=False)
    state = {k: v for k, v in imagenet.state_dict().items() if not k.startswith("classifier")}
    torch.save(state, tmp_path / "resnet50.pth")
    model = build()
    copied = load_imagenet_weights(model, "resnet50_ide", tmp_path / "resnet50.pth")
    backbone = [k for k in model.state_dict() if not k.startswith(("bottleneck", "classifier"))]
    assert copied == len(backbone) == len(state)
    assert torch.equal(model.layer4[2].conv3.weight, imagenet.layer4[2].conv3.weight)


def test_new_layers_train_at_ten_times_the_backbones_rate(small_synthetic):
    config = dataclasses.replace(IDE, pretrained=False, height=64, width=32, workers=0)
    engine, _ = build_engine(small_synthetic, config, torch.device("cpu"))
    groups = engine.optimizer.param_groups
    assert sorted(g["lr"] for g in groups) == pytest.approx([0.005, 0.05])
    assert all(g["momentum"] == 0.9 and g["nesterov"] for g in groups)
    new = {id(p) for name in ("bottleneck", "classifier") for p in getattr(engine.model, name).parameters()}
    fast = next(g for g in groups if g["lr"] == pytest.approx(0.05))
    assert {id(p) for p in fast["params"]} == new


def test_test_features_are_flip_averaged_and_normalised():
    torch.manual_seed(0)
    model = build().eval()
    images = torch.randn(3, 3, 64, 32)
    with torch.no_grad():
        features = describe(model, images, flip=True, normalize=True)
        mirrored = describe(model, images.flip(3), flip=True, normalize=True)
        plain = describe(model, images)
    assert torch.allclose(features.norm(dim=1), torch.ones(3))
    assert torch.allclose(features, mirrored, atol=1e-6)  # an image and its mirror image look alike
    assert not torch.allclose(plain / plain.norm(dim=1, keepdim=True), features, atol=1e-4)
