"""BoT on torchreid's engine: its model, its losses on the features the paper names, P x K batches, its schedule."""
import dataclasses
from pathlib import Path

import pytest
import torch

from augreid.config import LabelPolicy, ReidConfig, load_config
from augreid.core.compat import import_torchreid
from augreid.reid.bot import BoTResNet50, warmup_multistep
from augreid.reid.engine import BoTEngine, build_engine
from augreid.reid.labels import soft_targets

TINY_BOT = ReidConfig(model="resnet50_bot", pretrained=False, height=64, width=32, batch_size=8, test_batch_size=16,
                      instances=4, triplet_margin=0.3, center_weight=0.0005, warmup_epochs=2, milestones=(3, 5),
                      optimizer="adam", lr=3.5e-4, weight_decay=5e-4, pad=2, random_erase=0.5, workers=0,
                      fixbase_epochs=0, mixed_precision=False)


def test_the_model_keeps_stride_1_and_feeds_a_bias_free_classifier_from_its_bn_neck():
    model = BoTResNet50(num_classes=5).eval()
    with torch.no_grad():
        x = model.maxpool(model.relu(model.bn1(model.conv1(torch.zeros(1, 3, 256, 128)))))
        assert model.layer4(model.layer3(model.layer2(model.layer1(x)))).shape == (1, 2048, 16, 8)  # 256 / 16
    assert isinstance(model.bnneck, torch.nn.BatchNorm1d) and not model.bnneck.bias.requires_grad
    assert model.classifier.bias is None and model.classifier.in_features == 2048
    model.train()
    images = torch.randn(4, 3, 64, 32)
    logits, pooled = model(images)
    assert torch.allclose(logits, model.classifier(model.bnneck(pooled)), atol=1e-6)  # ID loss after the BN
    model.eval()
    with torch.no_grad():  # the test feature is the BN's output of the pooled feature
        x = model.maxpool(model.relu(model.bn1(model.conv1(images))))
        pooled = model.global_avgpool(model.layer4(model.layer3(model.layer2(model.layer1(x))))).flatten(1)
        assert torch.allclose(model(images), model.bnneck(pooled), atol=1e-5)


def test_the_schedule_warms_up_then_drops_tenfold_at_40_and_70():
    rates = [warmup_multistep(epoch, 10, (40, 70)) * 3.5e-4 for epoch in (0, 5, 10, 39, 40, 69, 70, 119)]
    assert rates == pytest.approx([3.5e-5, 1.925e-4, 3.5e-4, 3.5e-4, 3.5e-5, 3.5e-5, 3.5e-6, 3.5e-6])


def test_the_market_bot_config_names_the_papers_tricks():
    reid = load_config("configs/market1501-bot.yaml").reid
    assert (reid.model, reid.height, reid.width, reid.pad, reid.random_erase) == ("resnet50_bot", 256, 128, 10, 0.5)
    assert (reid.batch_size, reid.instances, reid.triplet_margin, reid.center_weight) == (64, 4, 0.3, 0.0005)
    assert (reid.optimizer, reid.lr, reid.warmup_epochs, reid.milestones, reid.epochs) == ("adam", 3.5e-4, 10,
                                                                                          (40, 70), 120)
    assert reid.label_smooth and reid.pretrained and reid.normalize_features and reid.budget == "epochs"


@pytest.fixture(scope="module")
def bot_engine(small_synthetic):
    import_torchreid().reid.utils.set_random_seed(0)
    return build_engine(small_synthetic, TINY_BOT, torch.device("cpu"))


def test_batches_are_p_identities_times_k_images(bot_engine):
    _, manager = bot_engine
    for _, batch in zip(range(5), manager.train_loader):
        counts = torch.bincount(batch["pid"])
        assert len(batch["pid"]) == 8 and sorted(counts[counts > 0].tolist()) == [4, 4]  # P = 2, K = 4


def test_triplet_and_id_losses_act_on_the_named_features_and_fall(bot_engine):
    engine, manager = bot_engine
    assert isinstance(engine, BoTEngine)
    batch = next(iter(manager.train_loader))
    images, pids = engine.parse_data_for_train(batch)
    engine.model.train()
    torch.manual_seed(0)
    terms, logits = engine.losses(images, pids, batch)
    torch.manual_seed(0)
    again_logits, pooled = engine.model(images)
    assert torch.allclose(terms["triplet"], import_torchreid().reid.losses.TripletLoss(0.3)(pooled, pids))
    assert torch.allclose(terms["center"], 0.0005 * (pooled - engine.center.centers[pids]).pow(2).sum(1).mean())
    assert torch.allclose(terms["id"], engine.compute_loss(engine.criterion, again_logits, pids))
    before = {name: term.item() for name, term in terms.items()}
    for _ in range(8):  # a few steps on this batch
        engine.forward_backward(batch)
    after = {name: term.item() for name, term in engine.losses(images, pids, batch)[0].items()}
    assert after["id"] < before["id"] and after["triplet"] < before["triplet"], (before, after)


def test_under_lsro_generated_images_are_outliers_of_the_metric_losses(bot_engine, monkeypatch):
    engine, manager = bot_engine
    batch = next(iter(manager.train_loader))
    images, pids = engine.parse_data_for_train(batch)
    names = [Path(path).name for path in batch["impath"]]
    monkeypatch.setattr(engine, "label_policy", LabelPolicy("lsro"))
    monkeypatch.setattr(engine, "generated", frozenset(names[1::2]))  # two of each identity's four
    generated = torch.tensor([name in engine.generated for name in names])
    assert 0 < generated.sum() < len(names)
    engine.model.train()
    torch.manual_seed(0)
    terms, _ = engine.losses(images, pids, batch)
    torch.manual_seed(0)
    logits, pooled = engine.model(images)
    real = ~generated
    assert torch.allclose(terms["triplet"], import_torchreid().reid.losses.TripletLoss(0.3)(pooled[real], pids[real]))
    assert torch.allclose(terms["center"],
                          0.0005 * (pooled[real] - engine.center.centers[pids[real]]).pow(2).sum(1).mean())
    targets = soft_targets(pids, generated, logits.shape[1], LabelPolicy("lsro"), 0.1)
    assert torch.allclose(terms["id"], torch.nn.functional.cross_entropy(logits, targets))
    assert torch.allclose(targets[generated], torch.full_like(targets[generated], 1 / logits.shape[1]))


def test_the_rate_follows_the_warm_up_and_the_steps(small_synthetic):
    engine, _ = build_engine(small_synthetic, dataclasses.replace(TINY_BOT, lr=1e-3), torch.device("cpu"))
    rates = []
    for _ in range(7):
        rates.append(engine.get_current_lr())
        engine.update_lr()
    assert rates == pytest.approx([1e-4, 5.5e-4, 1e-3, 1e-4, 1e-4, 1e-5, 1e-5])  # warm-up 2 epochs, x0.1 at 3 and 5


def test_the_tricks_need_the_bot_model_and_whole_pk_batches():
    with pytest.raises(ValueError, match="need model resnet50_bot"):
        ReidConfig(model="resnet50", triplet_margin=0.3)
    with pytest.raises(ValueError, match="instances must divide batch_size"):
        ReidConfig(model="resnet50_bot", batch_size=30, instances=4)
