import urllib.error

import pytest
import torch
from torch.nn import functional as F

from augreid.core.compat import import_torchvision
from augreid.core.errors import InputError
from augreid.training import losses
from augreid.training.losses import ImagePool, PerceptualLoss, adversarial_loss, load_vgg_conv1_2


def test_adversarial_losses_against_all_ones_or_zeros_maps():
    logits = torch.tensor([[0.5, -1.0], [2.0, 0.0]])
    expected_real = F.binary_cross_entropy(torch.sigmoid(logits), torch.ones_like(logits))
    torch.testing.assert_close(adversarial_loss(logits, True), expected_real)
    expected_fake = F.binary_cross_entropy(torch.sigmoid(logits), torch.zeros_like(logits))
    torch.testing.assert_close(adversarial_loss(logits, False), expected_fake)
    assert adversarial_loss(logits, True, "lsgan").item() == pytest.approx(((logits - 1) ** 2).mean().item())


def test_image_pool_fills_then_swaps_half_the_time():
    torch.manual_seed(0)
    pool = ImagePool(size=4)
    first = torch.arange(4.0).view(4, 1)
    assert torch.equal(pool.query(first), first)  # filling: fakes pass through and are kept
    later = torch.arange(100.0, 164.0).view(64, 1)
    out = pool.query(later)
    swapped = (out != later).sum().item()
    assert 16 < swapped < 48  # about half come from the pool
    assert set(out[out != later].tolist()) <= set(range(4)) | set(range(100, 164))
    assert ImagePool(size=0).query(later) is later


@pytest.fixture()
def fake_vgg_file(tmp_path):
    """A VGG19 state dict in torchvision's format, with random weights (the real one cannot be fetched here)."""
    path = tmp_path / losses.VGG19_FILE
    torch.save(import_torchvision().models.vgg19().state_dict(), path)
    return path


def test_perceptual_loss_compares_conv1_2_features(fake_vgg_file):
    features = load_vgg_conv1_2(fake_vgg_file)
    expected = torch.load(fake_vgg_file, weights_only=True)["features.2.weight"]
    assert torch.equal(features[2].weight, expected)
    assert not any(p.requires_grad for p in features.parameters())
    loss = PerceptualLoss(features)
    a, b = torch.rand(2, 3, 128, 64) * 2 - 1, torch.rand(2, 3, 128, 64) * 2 - 1
    assert loss(a, a).item() == 0.0 and loss(a, b).item() > 0.0


def test_missing_or_broken_vgg_weights_give_the_remedies(tmp_path, monkeypatch):
    with pytest.raises(InputError, match="--vgg-weights PATH.*lambda_perceptual: 0"):
        load_vgg_conv1_2(tmp_path / "absent.pth")
    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"not a state dict")
    with pytest.raises(InputError, match="is not a VGG19 state dict"):
        load_vgg_conv1_2(broken)

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(InputError, match=r"download failed: URLError\). Remedies: put vgg19-dcbb9e9d.pth at "
                                         + str(tmp_path / "torch" / "hub" / "checkpoints")):
        load_vgg_conv1_2()
