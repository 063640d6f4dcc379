"""SAN (seed 002) built from its text: shapes, parameter counts by hand, the attention block's equations, and the
semantic maps it is conditioned on."""
import numpy as np
import torch

from augreid.config import GeneratorArchitecture, GeneratorsConfig
from augreid.data.annotations import read_annotations
from augreid.data.pose import body_mask
from augreid.data.semantic import PARTS, SEMANTIC_CHANNELS, semantic_maps
from augreid.models import build_generator, build_pair_discriminator, conditioning_maps, maps_channels
from augreid.models.layers import parameter_count
from augreid.models.san import SemanticAttentionBlock


def conv(cin: int, cout: int, k: int, bias: bool = False) -> int:
    return cin * cout * k * k + (cout if bias else 0)


def test_market_shape_counts_match_the_layers_by_hand():
    san = build_generator("san", GeneratorsConfig().san)  # ngf 64, 5 SABs, batch norm
    bn = lambda c: 2 * c  # noqa: E731  (scale and shift)
    stems = (conv(11, 64, 7) + bn(64) + 2 * (conv(64, 64, 3) + bn(64))) + (conv(8, 64, 7) + bn(64)
                                                                          + 2 * (conv(64, 64, 3) + bn(64)))
    downs = 2 * (conv(64, 128, 3) + bn(128) + conv(128, 256, 3) + bn(256) + conv(256, 256, 3) + bn(256))
    sab = 2 * (conv(256, 256, 3) + bn(256)) + conv(256, 256, 3, bias=True) + conv(512, 256, 3) + bn(256)
    decoder = (conv(768, 256, 4) + bn(256)) + (conv(768, 128, 4) + bn(128)) + (conv(384, 64, 4) + bn(64))
    to_image = conv(64, 3, 7, bias=True)
    assert parameter_count(san) == stems + downs + 5 * sab + decoder + to_image == 22_003_971
    residual = 2 * (conv(128, 128, 3) + bn(128))
    pair = conv(6, 64, 4, bias=True) + conv(64, 128, 4) + bn(128) + 3 * residual + conv(128, 1, 3, bias=True)
    assert parameter_count(build_pair_discriminator(GeneratorsConfig().san)) == pair == 1_024_961


def test_attention_block_follows_the_papers_updates():
    torch.manual_seed(0)
    block = SemanticAttentionBlock(8, "instance").eval()
    last = block.attention[-1]
    torch.nn.init.zeros_(last.weight)
    torch.nn.init.constant_(last.bias, 0.7)  # the mask M_t = sigmoid(0.7) everywhere
    f_s, f_t = torch.randn(2, 8, 4, 2), torch.randn(2, 8, 4, 2)
    new_s, new_t = block(f_s, f_t)
    assert torch.allclose(new_s, torch.sigmoid(torch.tensor(0.7)) * f_t + f_s)  # F_s^t = M_t ⊙ F_t + F_s
    assert torch.allclose(new_t, block.update(torch.cat([f_t, new_s], 1)))  # F_t^t = Conv(F_t || F_s^t)


def test_semantic_maps_are_the_body_mask_and_its_parts_one_hot(small_synthetic):
    poses = read_annotations(small_synthetic / "market-annotation-train.csv").keypoints[:4]
    maps = semantic_maps(poses)
    assert maps.shape == (4, SEMANTIC_CHANNELS, 128, 64) and SEMANTIC_CHANNELS == 1 + len(PARTS)
    assert torch.equal(maps[:, 0].bool(), torch.from_numpy(np.stack([body_mask(p) for p in poses])))
    assert torch.equal(maps[:, 1:].sum(1), torch.ones(4, 128, 64))  # one label per pixel
    assert not (maps[:, 2:].sum(1).bool() & ~maps[:, 0].bool()).any()  # body parts only inside the mask
    pooled = semantic_maps(poses, pool=4)
    assert pooled.shape == (4, SEMANTIC_CHANNELS, 32, 16)
    assert torch.allclose(pooled, torch.nn.functional.avg_pool2d(maps, 4))


def test_san_draws_at_full_and_reduced_scale_from_keypoints(small_synthetic):
    poses = read_annotations(small_synthetic / "market-annotation-train.csv").keypoints[:2]
    for scale in (1, 4):
        san = build_generator("san", GeneratorArchitecture(blocks=2, ngf=8, scale=scale)).eval()
        maps = conditioning_maps(san, poses, poses[::-1])
        assert maps.shape == (2, maps_channels("san"), 128 // scale, 64 // scale) and maps_channels("san") == 16
        with torch.no_grad():
            out = san(torch.zeros(2, 3, 128, 64), maps)
        assert out.shape == (2, 3, 128, 64) and out.abs().max() <= 1
