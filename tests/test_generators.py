import numpy as np
import pytest
import torch

from augreid.config import GeneratorArchitecture
from augreid.models import build_discriminators, build_generator
from augreid.models.aps import AdaPN, AppearanceBlock
from augreid.models.layers import parameter_count
from augreid.models.patn import PATNBlock
from augreid.models.pona import PoseGuidedNonLocalAttention, SelfAttention


@pytest.mark.parametrize("name, blocks, norm, expected", [
    ("pona", 3, "batch", 34_330_444),
    ("pona", 2, "batch", 23_300_233),
    ("patn", 9, "batch", 41_365_763),
    ("pona", 3, "instance", 34_329_356),
    ("patn", 9, "instance", 41_358_019),
    ("aps", 4, "batch", 38_975_939),
])
def test_published_parameter_counts(name, blocks, norm, expected):
    assert parameter_count(build_generator(name, GeneratorArchitecture(blocks=blocks, ngf=64, norm=norm))) == expected


@pytest.mark.parametrize("spectral", [False, True])
def test_discriminator_parameter_counts_and_output_map(spectral):
    pose, appearance = build_discriminators(GeneratorArchitecture(discriminator_spectral_norm=spectral))
    assert parameter_count(pose) == 3_977_408
    assert parameter_count(appearance) == 3_930_368
    assert pose(torch.zeros(2, 21, 128, 64)).shape == (2, 256, 32, 16)
    assert appearance(torch.zeros(2, 6, 128, 64)).shape == (2, 256, 32, 16)


@pytest.mark.parametrize("name, blocks", [("pona", 2), ("patn", 2), ("aps", 4), ("aps", 3)])
def test_generators_map_128x64_to_128x64_in_tanh_range(name, blocks):
    generator = build_generator(name, GeneratorArchitecture(blocks=blocks, ngf=16)).eval()
    out = generator(torch.randn(2, 3, 128, 64), torch.rand(2, 36, 128, 64))
    assert out.shape == (2, 3, 128, 64)
    assert out.abs().max() <= 1.0


def test_initialisation_follows_the_recipe():
    torch.manual_seed(0)
    generator = build_generator("pona", GeneratorArchitecture(blocks=1, ngf=64))
    conv = generator.pose_encoder[1].weight
    assert conv.std().item() == pytest.approx(0.02, rel=0.05) and abs(conv.mean().item()) < 1e-3
    bn = generator.pose_encoder[2]
    assert bn.weight.mean().item() == pytest.approx(1.0, abs=0.01) and bn.bias.abs().sum() == 0
    block = generator.blocks[0]
    assert block.self_attention.gamma.item() == block.self_attention.beta.item() == block.non_local.gamma.item() == 0


@pytest.mark.parametrize("spectral", [False, True])
def test_discriminators_keep_pytorchs_default_initialisation_as_the_authors_define_d(spectral):
    """The authors' `define_D` applies no init (their `define_G` does): PyTorch's default stands, a uniform
    weight of std 1 / sqrt(3 fan_in) (0.0074 for the 3x3 convs of width 256), not N(0, 0.02). With spectral norm,
    the weight before normalisation is the one that keeps it."""
    torch.manual_seed(0)
    pose, _ = build_discriminators(GeneratorArchitecture(discriminator_spectral_norm=spectral))
    conv = pose[-1].body[1]
    weight = conv.parametrizations.weight.original if spectral else conv.weight
    fan_in = weight.shape[1] * weight.shape[2] * weight.shape[3]
    assert weight.std().item() == pytest.approx(1 / np.sqrt(3 * fan_in), rel=0.02)
    assert weight.abs().max().item() <= 1 / np.sqrt(fan_in)
    norm = pose[2]
    assert (norm.weight == 1).all() and (norm.bias == 0).all()


def test_attentions_start_as_identity_and_average_under_uniform_attention():
    torch.manual_seed(0)
    x = torch.randn(2, 16, 4, 2)
    attention = SelfAttention(16)
    assert torch.equal(attention(x), x)  # gamma = beta = 0
    with torch.no_grad():
        attention.query.weight.zero_(), attention.query.bias.zero_()  # equal scores: uniform attention
        attention.gamma.fill_(1.0)
        attention.beta.fill_(0.5)
    value = attention.value(x)
    expected = value.mean(dim=(2, 3), keepdim=True) + 1.5 * x
    torch.testing.assert_close(attention(x), expected.expand_as(x))

    non_local = PoseGuidedNonLocalAttention(16)
    image, pose = torch.randn(2, 16, 4, 2), torch.randn(2, 16, 4, 2)
    assert torch.equal(non_local(image, pose), image)
    with torch.no_grad():
        non_local.f.weight.zero_(), non_local.f.bias.zero_()
        non_local.gamma.fill_(2.0)
    expected = 2.0 * non_local.h(image).mean(dim=(2, 3), keepdim=True) + image
    torch.testing.assert_close(non_local(image, pose), expected)


def test_patn_block_gates_the_image_update_with_the_pose_mask():
    torch.manual_seed(0)
    block = PATNBlock(8, 16, norm="instance", dropout=0.0).eval()
    image, pose = torch.randn(1, 8, 6, 4), torch.randn(1, 16, 6, 4)
    new_image, new_pose = block(image, pose)
    pose_out = block.pose_stream(pose)
    torch.testing.assert_close(new_image, image + block.image_stream(image) * torch.sigmoid(pose_out))
    assert new_pose.shape == (1, 16, 6, 4)
    torch.testing.assert_close(new_pose, torch.cat([pose_out, new_image], 1))


def test_aps_parameter_breakdown_matches_the_reference():
    aps = build_generator("aps", GeneratorArchitecture(blocks=4, ngf=64))
    encoder = aps.encoder
    assert parameter_count(encoder.image_stem) + parameter_count(encoder.pose_stem) == 66_112
    assert [parameter_count(b) for b in encoder.blocks] == [443_136, 1_771_008, 7_080_960, 9_440_256]
    assert [parameter_count(b) for b in aps.foreground] == [6_001_152, 3_918_080, 1_139_840, 365_120]
    assert sum(parameter_count(b.adapn1) + parameter_count(b.adapn2) for b in aps.foreground) == 1_969_920
    assert sum(parameter_count(s) for s in aps.synthesis) == 8_731_456 and parameter_count(aps.output) == 18_819
    assert encoder(torch.zeros(1, 3, 128, 64), torch.zeros(1, 18, 128, 64)).shape == (1, 512, 8, 4)  # the code A


def test_aps_caps_channels_at_512_as_the_official_code():
    """PoseStylizer's `models/APS.py` caps every width at 512 whatever ngf (not at 8 ngf), so the authors' weights
    of any width load: the official parameter counts at ngf 16 (the demo's) and 128."""
    aps = build_generator("aps", GeneratorArchitecture(blocks=4, ngf=16))
    assert parameter_count(aps) == 3_839_603
    assert aps.encoder(torch.zeros(1, 3, 128, 64), torch.zeros(1, 18, 128, 64)).shape == (1, 256, 8, 4)  # the code A
    with torch.device("meta"):
        assert parameter_count(build_generator("aps", GeneratorArchitecture(blocks=4, ngf=128))) == 67_298_179


def test_adapn_normalises_globally_and_styles_each_patch():
    torch.manual_seed(0)
    adapn = AdaPN(features=3, code_channels=5, patch=4)
    x, code = torch.randn(2, 3, 8, 8), torch.randn(2, 5, 2, 2)
    out = adapn(x, code)
    act = torch.nn.functional.leaky_relu(x, 0.2)
    x_hat = (act - act.mean((2, 3), keepdim=True)) / torch.sqrt(act.var((2, 3), unbiased=False, keepdim=True) + 1e-8)
    beta, gamma = adapn.style(code).chunk(2, dim=1)  # one (beta, gamma) per cell of A
    for i in range(2):
        for j in range(2):
            patch = (..., slice(4 * i, 4 * i + 4), slice(4 * j, 4 * j + 4))
            expected = x_hat[patch] * (1 + gamma[..., i:i + 1, j:j + 1]) + beta[..., i:i + 1, j:j + 1]
            torch.testing.assert_close(out[patch], expected)


def test_aps_encoder_block_gates_the_image_stream_with_the_pose_attention():
    torch.manual_seed(0)
    block = AppearanceBlock(4, 8, norm="instance").eval()
    image, pose = torch.randn(1, 4, 8, 4), torch.randn(1, 4, 8, 4)
    new_image, new_pose = block(image, pose)
    a = block.image_down(image)
    logits = block.pose_conv(block.pose_down(pose))
    torch.testing.assert_close(new_image, block.image_conv(a) * torch.sigmoid(logits) + a)
    torch.testing.assert_close(new_pose, logits)  # the next block's pose input is pre-sigmoid
    assert new_image.shape == new_pose.shape == (1, 8, 4, 2)


def test_a_generator_at_half_scale_takes_full_or_pooled_maps_and_answers_at_128x64():
    from augreid.data.heatmap import pose_pair_maps
    from augreid.models.scale import AtScale, maps_pool

    torch.manual_seed(0)
    generator = build_generator("pona", GeneratorArchitecture(blocks=1, ngf=8, scale=2)).eval()
    assert isinstance(generator, AtScale) and maps_pool(generator) == 2
    assert parameter_count(generator) == parameter_count(build_generator("pona", GeneratorArchitecture(blocks=1, ngf=8)))
    rng = np.random.default_rng(0)
    poses = np.stack([rng.integers(10, 120, (2, 18)), rng.integers(5, 60, (2, 18))], axis=-1)
    image = torch.rand(2, 3, 128, 64) * 2 - 1
    with torch.no_grad():
        from_full = generator(image, pose_pair_maps(poses, poses[::-1].copy()))
        from_pooled = generator(image, pose_pair_maps(poses, poses[::-1].copy(), pool=2))
    assert from_full.shape == (2, 3, 128, 64)
    torch.testing.assert_close(from_full, from_pooled, atol=1e-5, rtol=1e-4)
