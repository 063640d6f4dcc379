"""GFLA: published sizes, the flow and attention path, its flow losses, and the two-stage training."""
import dataclasses

import pytest
import torch

from augreid.config import GeneratorArchitecture, GFLATrainingConfig, load_config
from augreid.core.errors import InputError
from augreid.data.annotations import read_annotations
from augreid.data.pairs import PairBatches, training_pairs
from augreid.models import build_generator, build_gfla_discriminator
from augreid.models.gfla import LocalAttention
from augreid.models.layers import parameter_count
from augreid.training.gfla_losses import affine_regularisation, patch_features, sampling_correctness
from augreid.training.gfla_training import GFLATraining

MARKET = GeneratorArchitecture(blocks=3, ngf=64, ndf=32, discriminator_blocks=3)


def test_published_sizes():
    gfla = build_generator("gfla", MARKET)
    assert parameter_count(gfla) == 12_926_471
    assert parameter_count(gfla.flow_net) == 6_604_753
    assert parameter_count(gfla.source_encoder) == 1_434_758 and parameter_count(gfla.target_encoder) == 1_450_148
    discriminator = build_gfla_discriminator(MARKET)
    assert parameter_count(discriminator) == 238_209
    assert discriminator(torch.zeros(2, 3, 128, 64)).shape == (2, 1, 16, 8)


def test_flow_starts_near_zero_and_lives_at_a_quarter_resolution():
    torch.manual_seed(0)
    gfla = build_generator("gfla", GeneratorArchitecture(blocks=3, ngf=16)).eval()
    with torch.no_grad():
        image, flow, mask = gfla.forward_with_flow(torch.randn(2, 3, 128, 64), torch.rand(2, 36, 128, 64))
    assert image.shape == (2, 3, 128, 64) and image.abs().max() <= 1
    assert flow.shape == (2, 2, 32, 16) and flow.abs().max() < 0.05  # orthogonal init, gain 0.02
    assert mask.shape == (2, 1, 32, 16) and 0 < mask.min() and mask.max() < 1


def test_only_three_encoder_layers_fit_the_flow():
    with pytest.raises(InputError, match="gfla: blocks must be 3"):
        build_generator("gfla", GeneratorArchitecture(blocks=4, ngf=16))


def test_local_attention_with_uniform_weights_averages_the_flowed_neighbourhood():
    attention = LocalAttention(channels=2)
    for layer in attention.weights:
        if isinstance(layer, torch.nn.Conv2d):
            torch.nn.init.zeros_(layer.weight)
            torch.nn.init.zeros_(layer.bias)  # all logits 0: softmax weights 1/9
    source, target = torch.randn(1, 2, 6, 5), torch.randn(1, 2, 6, 5)
    flow = torch.zeros(1, 2, 6, 5)
    flow[:, 0] = 1.0  # one pixel to the right
    out = attention(source, target, flow)
    rows = [[min(max(i + d, 0), 5) for d in (-1, 0, 1)] for i in range(6)]  # border-clamped 3x3 around (i, j + 1)
    cols = [[min(max(j + 1 + d, 0), 4) for d in (-1, 0, 1)] for j in range(5)]
    expected = torch.stack([torch.stack([source[0, :, r][:, :, c].mean((1, 2)) for c in cols], -1) for r in rows], -2)
    torch.testing.assert_close(out[0], expected / 9)  # (1/9) sum w_i v_i with w_i = 1/9, as published


def test_affine_regularisation_is_zero_for_affine_flows_only():
    y, x = torch.meshgrid(torch.arange(8.0), torch.arange(6.0), indexing="ij")
    affine = torch.stack([0.3 * x - 0.2 * y + 1.5, 0.1 * x + 0.4 * y - 2.0])[None]
    assert affine_regularisation(affine).item() == pytest.approx(0.0, abs=1e-9)
    bumpy = affine.clone()
    bumpy[0, 0, 4, 3] += 1.0
    assert affine_regularisation(bumpy).item() > 0.1


def test_sampling_correctness_is_lowest_at_the_true_flow():
    torch.manual_seed(0)
    source = torch.randn(2, 8, 12, 10)
    target = torch.roll(source, shifts=2, dims=-1)  # target[x] = source[x - 2]
    losses = {dx: sampling_correctness(source, target, torch.stack([torch.full((2, 12, 10), float(dx)),
                                                                     torch.zeros(2, 12, 10)], 1)).item()
              for dx in (-2, 0, 2)}
    assert losses[-2] < min(losses[0], losses[2])
    assert patch_features(torch.zeros(1, 3, 128, 64)).shape == (1, 48, 32, 16)  # 4x4 blocks at the flow's size


def test_two_stages_train_the_flow_first_then_everything(small_synthetic):
    config = GFLATrainingConfig(iterations=3, flow_iterations=2, batch_size=2, correctness_features="patches",
                                lambda_content=0, lambda_style=0, workers=0)
    torch.manual_seed(0)
    training = GFLATraining(GeneratorArchitecture(blocks=3, ngf=16, ndf=8), config, None, torch.device("cpu"))
    annotations = read_annotations(small_synthetic / "market-annotation-train.csv")
    batches = PairBatches(training_pairs(annotations), small_synthetic / "bounding_box_train", annotations, 2, seed=0)

    def snapshot():
        return {name: p.detach().clone() for name, p in training.named_parameters()}

    before = snapshot()
    for step in range(2):
        assert training.step(batches[step])["stage"] == 1.0
    after_flow = snapshot()
    changed = {name for name in before if not torch.equal(before[name], after_flow[name])}
    assert changed and all(name.startswith("generator.flow_net.") for name in changed)
    assert training.step(batches[2])["stage"] == 2.0
    after_model = snapshot()
    changed = {name.split(".")[1] for name in before if not torch.equal(after_flow[name], after_model[name])}
    assert {"flow_net", "source_encoder", "target_encoder", "decoder", "attention", "blocks"} <= changed

    restored = GFLATraining(GeneratorArchitecture(blocks=3, ngf=16, ndf=8), config, None, torch.device("cpu"))
    restored.load_training_state(training.training_state())
    assert restored.iteration == 3


def test_demo_recipe_needs_no_vgg_and_the_market_recipe_does():
    assert not load_config("configs/demo.yaml").training("gfla").needs_vgg
    assert load_config("configs/market1501.yaml").training("gfla").needs_vgg
    assert dataclasses.replace(GFLATrainingConfig(), correctness_features="patches", lambda_content=0,
                               lambda_style=0).needs_vgg is False


def test_random_affine_moves_image_and_keypoints_alike():
    from augreid.training.gfla_training import random_affine

    image = -torch.ones(2, 3, 128, 64)
    keypoints = torch.tensor([[[40.0, 20.0]] + [[-1.0, -1.0]] * 17, [[90.0, 45.0]] + [[-1.0, -1.0]] * 17])
    for b, (y, x) in enumerate(keypoints[:, 0].long().tolist()):
        image[b, :, y - 1:y + 2, x - 1:x + 2] = 1.0  # a bright 3x3 dot on each keypoint
    angle, shift, scale = torch.tensor([0.08, -0.06]), torch.tensor([[4.0, -3.0], [-5.0, 2.5]]), torch.tensor([1.04, 0.96])
    warped, moved = random_affine(image, keypoints, angle, shift, scale)
    for b in range(2):
        brightest = divmod(int(warped[b, 0].argmax()), 64)
        assert abs(brightest[0] - moved[b, 0, 0].item()) <= 1 and abs(brightest[1] - moved[b, 0, 1].item()) <= 1
    assert (moved[:, 1:] == -1).all()  # missing joints stay missing
    assert warped[0, :, 0, 0].abs().max() < 0.05  # uncovered corners are grey (0 in [-1, 1])
    same, unmoved = random_affine(image, keypoints, torch.zeros(2), torch.zeros(2, 2), torch.ones(2))
    torch.testing.assert_close(same, image)
    torch.testing.assert_close(unmoved, keypoints)
