"""The label policy for generated images (`reid.generated_labels`): each image's soft targets, the loss on them, a
re-ID run under each policy, and the refusals."""
import dataclasses
import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from augreid.config import LabelPolicy, ReidConfig, load_config, parse_label_policy
from augreid.core.compat import import_torchreid
from augreid.core.errors import InputError, one_line
from augreid.protocol.augmented_set import augment
from augreid.reid.labels import soft_cross_entropy, soft_targets
from augreid.reid.train import train_reid
from augreid.study.cells import finished_run
from augreid.study.report import protocol_note
from tests.tools.forked_cli import run_module

TINY = "tests/configs/tiny.yaml"
N = 5
PIDS = torch.tensor([0, 3, 3, 4])
GENERATED = torch.tensor([False, True, False, True])


@pytest.mark.parametrize("real_epsilon", [0.1, 0.0])
def test_a_generated_images_targets_are_uniform_under_lsro_and_a_real_ones_unchanged(real_epsilon):
    targets = soft_targets(PIDS, GENERATED, N, LabelPolicy("lsro"), real_epsilon)
    assert torch.equal(targets[1], torch.full((N,), 1 / N)) and torch.equal(targets[3], torch.full((N,), 1 / N))
    real = torch.full((N,), real_epsilon / N)
    real[3] = 1 - real_epsilon + real_epsilon / N
    assert torch.allclose(targets[2], real, atol=1e-7) and targets[0].argmax() == 0
    assert torch.allclose(targets.sum(1), torch.ones(4))


def test_smooth_e_smooths_generated_images_only():
    targets = soft_targets(PIDS, GENERATED, N, parse_label_policy("smooth 0.3"), 0.0)
    assert targets[1].tolist() == pytest.approx([0.06, 0.06, 0.06, 0.76, 0.06])  # 0.7 + 0.3 / 5, and 0.3 / 5
    assert targets[3].tolist() == pytest.approx([0.06, 0.06, 0.06, 0.06, 0.76])
    assert targets[0].tolist() == [1, 0, 0, 0, 0] and targets[2].tolist() == [0, 0, 0, 1, 0]  # hard, as today


def test_hard_gives_generated_images_the_real_images_targets():
    for real_epsilon in (0.1, 0.0):
        hard = soft_targets(PIDS, GENERATED, N, LabelPolicy(), real_epsilon)
        assert torch.equal(hard, soft_targets(PIDS, torch.zeros(4, dtype=torch.bool), N, LabelPolicy(), real_epsilon))


def test_the_loss_is_the_cross_entropy_with_each_images_targets():
    logits = torch.randn(4, N, generator=torch.Generator().manual_seed(0))
    targets = soft_targets(PIDS, GENERATED, N, LabelPolicy("lsro"), 0.1)
    by_hand = -sum(targets[i] @ torch.log_softmax(logits[i], 0) for i in range(4)) / 4
    assert soft_cross_entropy(logits, targets).item() == pytest.approx(by_hand.item(), rel=1e-6)
    assert soft_cross_entropy(logits, targets).item() == pytest.approx(
        torch.nn.functional.cross_entropy(logits, targets).item(), rel=1e-6)
    # an lsro image's term: the mean of -log p over the identities, whatever its pid
    lsro = -torch.log_softmax(logits[1], 0).mean()
    assert soft_cross_entropy(logits[1:2], targets[1:2]).item() == pytest.approx(lsro.item(), rel=1e-6)
    real = soft_targets(PIDS, torch.zeros(4, dtype=torch.bool), N, LabelPolicy("lsro"), 0.1)
    torchreid_loss = import_torchreid().reid.losses.CrossEntropyLoss(N, use_gpu=False)(logits, PIDS)
    assert soft_cross_entropy(logits, real).item() == pytest.approx(torchreid_loss.item(), rel=1e-6)


@pytest.fixture(scope="module")
def duplicated(small_synthetic, tmp_path_factory) -> Path:
    """Half of each identity's images kept, the others filled by copies: added images, as generated ones."""
    out = tmp_path_factory.mktemp("labels") / "duplicate_p0.5"
    augment(0.5, small_synthetic, "duplicate", out=out, progress=False)
    return out


def _run(root: Path, out: Path, policy: str | None = None, **changes) -> tuple[dict, pd.DataFrame]:
    config = load_config(TINY).reid
    config = dataclasses.replace(config, **({"generated_labels": policy} if policy else {}), **changes)
    metrics = train_reid(root, config, out, seed=3, log=lambda line: None)
    return metrics, pd.read_csv(out / "per_query.csv")


def test_lsro_trains_another_model_than_hard_on_the_same_set_and_seed(duplicated, tmp_path):
    hard, hard_queries = _run(duplicated, tmp_path / "hard")
    lsro, lsro_queries = _run(duplicated, tmp_path / "lsro", "lsro")
    added = (pd.read_csv(duplicated / "manifest.csv")["source"] != "kept").sum()
    assert hard["generated_train_images"] == lsro["generated_train_images"] == added > 0
    assert (hard["generated_labels"], lsro["generated_labels"]) == ("hard", "lsro")
    assert json.loads((tmp_path / "lsro" / "metrics.json").read_text())["config"]["generated_labels"] == "lsro"
    assert not hard_queries["ap"].equals(lsro_queries["ap"])
    weights = [torch.load(tmp_path / run / "model.pt", weights_only=True) for run in ("hard", "lsro")]
    assert not torch.equal(weights[0]["classifier.weight"], weights[1]["classifier.weight"])


def test_hard_never_reads_which_images_were_generated(duplicated, tmp_path):
    """`hard` is today's loss: the same run whether or not the set says which images it added."""
    _, with_manifest = _run(duplicated, tmp_path / "with", preload=True)
    plain = tmp_path / "plain"
    plain.mkdir()
    for entry in duplicated.iterdir():
        if entry.name != "manifest.csv":
            (plain / entry.name).symlink_to(entry.resolve())
    metrics, without_manifest = _run(plain, tmp_path / "without", preload=True)
    assert metrics["generated_train_images"] == 0
    assert with_manifest.equals(without_manifest)


def test_smooth_trains_on_the_preloaded_batches_too(duplicated, tmp_path):
    hard, hard_queries = _run(duplicated, tmp_path / "hard", preload=True)
    smooth, smooth_queries = _run(duplicated, tmp_path / "smooth", "smooth 0.5", preload=True)
    assert smooth["generated_labels"] == "smooth 0.5" and not hard_queries["ap"].equals(smooth_queries["ap"])


@pytest.mark.parametrize("text", ["soft", "smooth", "smooth 0", "smooth 1", "smooth x", "lsro 0.1"])
def test_a_bad_policy_is_refused_in_one_line_naming_the_setting(text, tmp_path):
    expected = f"must be 'hard', 'smooth E' with 0 < E < 1, or 'lsro', got '{text}'"
    with pytest.raises(ValueError) as refused:
        ReidConfig(generated_labels=text)
    assert one_line(refused.value) == f"generated_labels: {expected}"
    config = tmp_path / "bad.yaml"
    config.write_text(f"reid:\n  generated_labels: {text}\n")
    with pytest.raises(InputError) as refused:
        load_config(config)
    assert one_line(refused.value) == f"{config}:2:21: reid.generated_labels: {expected}"


def test_the_cli_refuses_a_bad_policy_before_reading_the_data(tmp_path):
    result = run_module("augreid.reid", "--data-root", str(tmp_path / "absent"), "--config", TINY, "--out",
                        str(tmp_path / "out"), "--generated-labels", "smooth", "1.5", cwd=Path(__file__).parents[1])
    assert result.returncode == 2
    assert result.stderr == ("error: --generated-labels smooth 1.5: expected 'hard', 'smooth E' with 0 < E < 1, "
                             "or 'lsro'\n")


def test_the_reports_notes_say_which_targets_the_generated_images_had(tmp_path):
    recorded = {"mAP": 10.0, "rank1": 20.0, "steps": 4, "budget": "epochs", "map_rule": "torchreid"}
    for name, policy in (("old", None), ("lsro", "lsro"), ("smooth", "smooth 0.2")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_text(json.dumps({**recorded, **({"generated_labels": policy}
                                                                                if policy else {})}))
    runs = {name: finished_run({"reid_out": str(tmp_path / name)}) for name in ("old", "lsro", "smooth")}
    assert [run["generated_labels"] for run in runs.values()] == ["hard", "lsro", "smooth 0.2"]
    filling = {"condition": "nearest", "unposed": "generate"}
    assert "identity targets" not in protocol_note([runs["old"]], filling)  # hard: the notes as before
    assert protocol_note([runs["old"], runs["lsro"]], filling).endswith(
        " Generated images' identity targets (lsro): uniform over the training identities (LSRO, Zheng et al., "
        "ICCV 2017).")
    assert protocol_note([runs["smooth"]], filling).endswith(
        " Generated images' identity targets (smooth 0.2): their identity smoothed by 0.2, on generated images only.")
