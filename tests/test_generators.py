import pytest
import torch

from augreid.config import GeneratorArchitecture
from augreid.generators import build_discriminators, build_generator
from augreid.generators.layers import parameter_count
from augreid.generators.patn import PATNBlock
from augreid.generators.pona import PoseGuidedNonLocalAttention, SelfAttention


@pytest.mark.parametrize("name, blocks, norm, expected", [
    ("pona", 3, "batch", 34_330_444),
    ("pona", 2, "batch", 23_300_233),
    ("patn", 9, "batch", 41_365_763),
    ("pona", 3, "instance", 34_329_356),
    ("patn", 9, "instance", 41_358_019),
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


@pytest.mark.parametrize("name", ["pona", "patn"])
def test_generators_map_128x64_to_128x64_in_tanh_range(name):
    generator = build_generator(name, GeneratorArchitecture(blocks=2, ngf=16)).eval()
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
