import math

import numpy as np
import pytest
import torch

from augreid.data.heatmap import SIGMA, TAIL, pose_heatmaps, pose_pair_maps


def naive_heatmaps(keypoints, height=128, width=64, sigma=SIGMA):
    """The spec's formula, one pixel at a time."""
    maps = np.zeros((len(keypoints), 18, height, width), dtype=np.float64)
    for b, pose in enumerate(keypoints):
        for j, (y, x) in enumerate(pose):
            if y == -1 or x == -1:
                continue
            for r in range(height):
                for c in range(width):
                    maps[b, j, r, c] = math.exp(-((r - y) ** 2 + (c - x) ** 2) / (2 * sigma**2))
    return maps


def test_peak_value_and_falloff_follow_the_formula():
    keypoints = np.full((18, 2), -1)
    keypoints[1] = (40, 20)
    maps = pose_heatmaps(keypoints)
    assert maps.shape == (18, 128, 64)
    assert maps[1, 40, 20].item() == pytest.approx(1.0)
    assert torch.argmax(maps[1]).item() == 40 * 64 + 20
    assert maps[1, 46, 20].item() == pytest.approx(math.exp(-36 / 72), rel=1e-6)  # one sigma away
    assert maps[1, 43, 24].item() == pytest.approx(math.exp(-25 / 72), rel=1e-6)
    assert maps[0].abs().sum().item() == 0.0  # a missing joint is an all-zero channel


def test_batched_maps_equal_the_pixelwise_formula():
    rng = np.random.default_rng(0)
    keypoints = np.stack([rng.integers(0, 128, (3, 18)), rng.integers(0, 64, (3, 18))], axis=-1)
    keypoints[0, 5] = -1
    keypoints[2, 17] = -1
    fast = pose_heatmaps(torch.as_tensor(keypoints)).double().numpy()
    np.testing.assert_allclose(fast, naive_heatmaps(keypoints), atol=1e-6)


def test_real_keypoints_peak_where_annotated(real_annotations):
    from augreid.data.annotations import read_annotations

    train = read_annotations(real_annotations / "market-annotation-train.csv")
    poses = train.keypoints[:64]
    maps = pose_heatmaps(poses)
    flat = maps.flatten(2).argmax(-1).numpy()
    peaks = np.stack([flat // 64, flat % 64], axis=-1)
    visible = (poses != -1).all(-1)
    np.testing.assert_array_equal(peaks[visible], poses[visible])
    assert maps.flatten(2).amax(-1)[torch.as_tensor(~visible)].max().item() == 0.0


def test_pair_maps_stack_condition_then_target():
    condition = np.full((2, 18, 2), 10)
    target = np.full((2, 18, 2), 50)
    maps = pose_pair_maps(condition, target)
    assert maps.shape == (2, 36, 128, 64)
    assert maps[0, 0, 10, 10].item() == pytest.approx(1.0)
    assert maps[0, 18, 50, 50 % 64].item() == pytest.approx(1.0)


def _untruncated(keypoints, sigma=SIGMA):
    """The maps with their whole Gaussian tail, denormal floats included."""
    points = torch.as_tensor(keypoints, dtype=torch.float32)
    rows, cols = torch.arange(128.0), torch.arange(64.0)
    maps = torch.exp(-((rows - points[..., 0:1]) ** 2) / (2 * sigma**2)).unsqueeze(-1) \
        * torch.exp(-((cols - points[..., 1:2]) ** 2) / (2 * sigma**2)).unsqueeze(-2)
    return maps * (points != -1).all(-1).float()[..., None, None]


def test_the_tail_is_cut_without_denormals_and_without_changing_any_generated_pixel():
    from augreid.config import GeneratorArchitecture, SyntheticConfig
    from augreid.data.images import to_pixels
    from augreid.data.synthetic.dataset import plan_dataset
    from augreid.models import build_generator

    _, specs = plan_dataset(SyntheticConfig(train_identities=4, test_identities=2), seed=0)
    poses = np.stack([s.keypoints for s in specs if s.split == "train"][:16])
    full = torch.cat([_untruncated(poses), _untruncated(poses[::-1].copy())], 1)
    assert ((full > 0) & (full < torch.finfo(torch.float32).tiny)).any()  # the tail holds denormals
    cut = pose_pair_maps(poses, poses[::-1].copy())
    tiny = (cut > 0) & (cut < torch.finfo(torch.float32).tiny)
    assert not tiny.any() and (cut[cut > 0] >= TAIL**2).all()
    assert (full - cut).abs().max().item() < TAIL
    torch.manual_seed(0)
    for name in ("pona", "patn"):
        generator = build_generator(name, GeneratorArchitecture(blocks=2, ngf=16)).eval()
        image = torch.rand(16, 3, 128, 64) * 2 - 1
        with torch.no_grad():
            assert np.array_equal(to_pixels(generator(image, full)), to_pixels(generator(image, cut))), name


def test_pooled_maps_equal_average_pooling_of_the_full_maps():
    rng = np.random.default_rng(1)
    keypoints = np.stack([rng.integers(0, 128, (4, 18)), rng.integers(0, 64, (4, 18))], axis=-1)
    keypoints[1, 3] = -1
    full = pose_heatmaps(keypoints)
    for pool in (2, 4):
        pooled = pose_heatmaps(keypoints, pool=pool)
        assert pooled.shape == (4, 18, 128 // pool, 64 // pool)
        torch.testing.assert_close(pooled, torch.nn.functional.avg_pool2d(full, pool), atol=1e-6, rtol=1e-5)
