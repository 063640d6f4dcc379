import dataclasses
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch

from augreid.config import SyntheticConfig, load_config
from augreid.core.compat import import_torchreid, load_torchreid_checkpoint
from augreid.core.errors import InputError
from augreid.data.synthetic import build_synthetic_market
from augreid.protocol.augmented_set import augment
from augreid.reid import build_engine, evaluate_engine, load_imagenet_weights, train_reid
from augreid.reid.data import market_lists
from augreid.reid.pretrain import pretrain_backbone
from tests.tools.forked_cli import run_module

DEMO_CONFIG = load_config(Path(__file__).parents[1] / "configs" / "demo.yaml")
DEMO = DEMO_CONFIG.reid
SCRATCH = dataclasses.replace(DEMO, pretrained=False)  # the demo's shapes, without its synthetic backbone
TINY = "tests/configs/tiny.yaml"


def test_market_lists_relabel_training_pids_and_drop_junk(small_synthetic):
    lists = market_lists(small_synthetic)
    train_labels = sorted({pid for _, pid, _ in lists["train"]})
    assert train_labels == list(range(len(train_labels))) == list(range(12))
    gallery_pids = {pid for _, pid, _ in lists["gallery"]}
    assert -1 not in gallery_pids and 0 in gallery_pids  # junk out, distractors stay as negatives
    assert {pid for _, pid, _ in lists["query"]} <= gallery_pids


def test_demo_recipe_learns_far_beyond_an_untrained_model(tmp_path):
    """60 training identities; the demo recipe fine-tunes from a synthetic backbone (here a short one, trained on
    another population) and beats both an untrained model and the same 8 epochs from scratch."""
    root = tmp_path / "medium"
    population = SyntheticConfig(train_identities=60, test_identities=30, junk_images=10, distractor_images=10)
    build_synthetic_market(root, population, seed=3, workers=2, progress=False)
    settings = dataclasses.replace(DEMO_CONFIG, synthetic=population, pretraining=dataclasses.replace(
        DEMO_CONFIG.pretraining, seed=4, epochs=12, stepsize=9))
    backbone = pretrain_backbone(settings, tmp_path / "backbone", log=lambda line: None)
    import_torchreid().reid.utils.set_random_seed(0)
    untrained, manager = build_engine(root, SCRATCH, torch.device("cpu"))
    _, untrained_map, _ = evaluate_engine(untrained, manager)
    metrics = train_reid(root, DEMO, tmp_path / "run", seed=0, weights=backbone["backbone"])
    scratch = train_reid(root, SCRATCH, tmp_path / "scratch", seed=0)
    assert metrics["mAP"] > 100 * untrained_map + 15, (metrics["mAP"], untrained_map)
    assert metrics["mAP"] > scratch["mAP"] + 10, (metrics["mAP"], scratch["mAP"])
    stored = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert stored["mAP"] == metrics["mAP"] and stored["train_identities"] == 60 and stored["epochs"] == DEMO.epochs
    assert stored["initial_weights"] == backbone["backbone"] and scratch["initial_weights"] is None
    assert 0 <= stored["rank1"] <= stored["rank5"] <= stored["rank10"] <= 100
    assert stored["images_per_second"] > 0
    weights = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    assert weights["classifier.weight"].shape[0] == 60
    assert not any(name.startswith("classifier") for name in torch.load(backbone["backbone"], weights_only=True))
    per_query = pd.read_csv(tmp_path / "run" / "per_query.csv")
    assert list(per_query.columns) == ["query", "pid", "camid", "ap", "first_match_rank"]
    assert len(per_query) == stored["valid_queries"] == stored["query_images"]
    assert 100 * per_query["ap"].mean() == pytest.approx(stored["mAP"], abs=0.006)
    assert 100 * (per_query["first_match_rank"] == 1).mean() == pytest.approx(stored["rank1"], abs=0.006)
    assert per_query["query"].map(lambda name: (root / "query" / name).is_file()).all()


def test_the_synthetic_backbone_is_asked_for_by_name(tmp_path, small_synthetic):
    result = _cli(small_synthetic, tmp_path, "configs/demo.yaml")
    assert result.returncode == 2 and result.stderr.startswith("error: reid.backbone: synthetic needs its weights: "
                                                               "pass --weights DIR/backbone.pt")


def test_steps_budget_gives_a_reduced_set_the_full_sets_steps(tmp_path, small_synthetic):
    short = dataclasses.replace(SCRATCH, epochs=2, batch_size=8)
    augment(0.2, small_synthetic, "none", out=tmp_path / "none_p0.2", progress=False)
    full = train_reid(small_synthetic, dataclasses.replace(short, budget="steps"), tmp_path / "full")
    reduced = train_reid(tmp_path / "none_p0.2", dataclasses.replace(short, budget="steps"), tmp_path / "steps")
    paper = train_reid(tmp_path / "none_p0.2", dataclasses.replace(short, budget="epochs"), tmp_path / "epochs")
    assert full["steps"] == reduced["steps"] == 2 * (full["train_images"] // 8) > 0
    assert reduced["budget"] == "steps" and reduced["budget_reference_images"] == full["train_images"]
    assert paper["steps"] == 2 * (reduced["train_images"] // 8) < reduced["steps"]  # epochs: fewer steps
    assert reduced["train_images"] < full["train_images"]


def test_a_set_smaller_than_one_batch_is_refused(tmp_path, small_synthetic):
    with pytest.raises(InputError, match=r"fewer than one batch of 500 \(reid.batch_size\): no training step"):
        train_reid(small_synthetic, dataclasses.replace(SCRATCH, batch_size=500), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_same_seed_same_metrics(tmp_path, small_synthetic):
    short = dataclasses.replace(SCRATCH, epochs=2, batch_size=16)
    first = train_reid(small_synthetic, short, tmp_path / "a", seed=4)
    second = train_reid(small_synthetic, short, tmp_path / "b", seed=4)
    assert (first["mAP"], first["rank1"]) == (second["mAP"], second["rank1"])


def test_imagenet_weights_missing_or_loaded(tmp_path, monkeypatch):
    torchreid = import_torchreid()
    model = torchreid.reid.models.build_model("resnet18", num_classes=5, loss="softmax", pretrained=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(InputError, match=r"pretrained weights for resnet18 not found at .*resnet18-5c106cde.pth .*--weights PATH"):
        load_imagenet_weights(model, "resnet18", None)
    imagenet = torchreid.reid.models.build_model("resnet18", num_classes=1000, loss="softmax", pretrained=False)
    torch.save(imagenet.state_dict(), tmp_path / "r18.pth")
    copied = load_imagenet_weights(model, "resnet18", tmp_path / "r18.pth")
    assert copied == len(model.state_dict()) - 2  # everything but the new classifier's weight and bias
    assert torch.equal(model.conv1.weight, imagenet.conv1.weight)


def test_torchreid_checkpoints_load_with_weights_only(tmp_path):
    import numpy as np

    torchreid = import_torchreid()
    torchreid.reid.utils.save_checkpoint({"state_dict": {"w": torch.ones(1)}, "epoch": 3, "rank1": np.float64(0.5)},
                                         str(tmp_path), is_best=False)
    checkpoint = load_torchreid_checkpoint(str(tmp_path / "model.pth.tar-3"))
    assert checkpoint["rank1"] == 0.5 and checkpoint["epoch"] == 3


def _cli(root, tmp_path, config=TINY):
    return run_module("augreid.reid", "--data-root", str(root), "--config", config, "--out", str(tmp_path / "out"),
                      cwd=Path(__file__).parents[1])


def test_bad_folders_exit_2_before_training(tmp_path, small_synthetic):
    root = tmp_path / "copy"
    shutil.copytree(small_synthetic, root)
    (tmp_path / "flat").mkdir()
    result = _cli(tmp_path / "flat", tmp_path)
    assert result.returncode == 2 and result.stderr.strip() == \
        f"error: {tmp_path / 'flat' / 'bounding_box_train'}: missing Market-1501 split folder 'bounding_box_train'"
    for image in (root / "query").glob("*.jpg"):
        image.unlink()
    result = _cli(root, tmp_path)
    assert result.returncode == 2 and result.stderr.strip() == f"error: {root / 'query'}: no usable images in this split"
    query = sorted((small_synthetic / "query").glob("*.jpg"))[0]
    shutil.copy(query, root / "query" / query.name)
    for image in (root / "bounding_box_test").glob(query.name[:4] + "_*.jpg"):
        image.unlink()
    result = _cli(root, tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {root / 'query' / query.name}: query identity {int(query.name[:4])} has "
                                    "no gallery image from another camera")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("split", ["bounding_box_test", "bounding_box_train"])
@pytest.mark.parametrize("damage", ["truncated", "empty", "text"])
def test_an_unreadable_image_exits_2_at_once_naming_it(tmp_path, small_synthetic, split, damage):
    """torchreid's reader retries an unreadable file forever; every image is decoded once before training."""
    root = tmp_path / "copy"
    shutil.copytree(small_synthetic, root)
    image = sorted((root / split).glob("0*.jpg"))[3]
    content = image.read_bytes()
    image.write_bytes({"truncated": content[: len(content) // 2], "empty": b"", "text": b"not an image"}[damage])
    result = run_module("augreid.reid", "--data-root", str(root), "--config", TINY, "--out", str(tmp_path / "out"),
                        cwd=Path(__file__).parents[1], timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {image}: cannot read image (") and result.stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_outputs_that_cannot_be_written_or_lie_in_the_data_are_refused_before_training(tmp_path, small_synthetic):
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError, match="file: exists and is not a folder"):
        train_reid(small_synthetic, SCRATCH, tmp_path / "file")
    with pytest.raises(InputError, match=r"inside: the output must not be the data set \(.*\) or inside it"):
        train_reid(small_synthetic, SCRATCH, small_synthetic / "inside")
    assert not (small_synthetic / "inside").exists()


def test_an_unfinished_augmented_set_is_refused(tmp_path, small_synthetic):
    augment(0.5, small_synthetic, "duplicate", out=tmp_path / "aug", progress=False)
    (tmp_path / "aug" / "summary.json").unlink()  # what a generate killed before its end leaves
    with pytest.raises(InputError, match=r"aug: an unfinished augreid.generate output \(no summary.json\)"):
        train_reid(tmp_path / "aug", SCRATCH, tmp_path / "out")


def test_registering_the_dataset_twice_is_harmless():
    from augreid.core.compat import TORCHREID_DATASET, register_dataset
    from augreid.reid.data import MarketLayoutDataset

    assert register_dataset(MarketLayoutDataset) == register_dataset(MarketLayoutDataset) == TORCHREID_DATASET


def test_preloaded_batches_hold_what_torchreids_transforms_give(small_synthetic):
    from PIL import Image

    from augreid.reid.data import PreloadedBatches

    items = market_lists(small_synthetic)["train"]
    _, to_tensor = import_torchreid().reid.data.transforms.build_transforms(64, 32, transforms=None)
    torch.manual_seed(0)
    plain = PreloadedBatches(items, 64, 32, batch_size=8, flip=False)
    batches = list(plain)
    assert len(batches) == len(plain) == len(items) // 8 and batches[0]["img"].shape == (8, 3, 64, 32)
    seen = torch.cat([b["pid"] for b in batches])
    assert len(seen) == 8 * (len(items) // 8)
    torch.manual_seed(0)
    order = torch.randperm(len(items))  # the same draw: the first batch holds these items
    for position, index in enumerate(order[:8].tolist()):
        with Image.open(items[index][0]) as image:
            expected = to_tensor(image.convert("RGB"))
        torch.testing.assert_close(batches[0]["img"][position], expected, atol=1e-6, rtol=1e-5)
        assert batches[0]["pid"][position].item() == items[index][1]
    flipping = PreloadedBatches(items, 64, 32, batch_size=len(items), flip=True)
    torch.manual_seed(1)
    batch = next(iter(flipping))
    torch.manual_seed(1)
    order, flipped = torch.randperm(len(items)), torch.rand(len(items)) < 0.5
    unflipped = (flipping.images[order].float() / 255 - flipping.mean) / flipping.std
    assert 0 < flipped.sum() < len(items)
    torch.testing.assert_close(batch["img"][flipped], unflipped[flipped].flip(-1))
    torch.testing.assert_close(batch["img"][~flipped], unflipped[~flipped])
