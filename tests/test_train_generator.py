import dataclasses
import json
import shutil

import pytest
import torch
import yaml

from augreid.config import Config, GeneratorArchitecture, GeneratorsConfig, GeneratorTrainingConfig, GFLATrainingConfig
from augreid.core.errors import InputError
from augreid.models import maps_channels
from augreid.sources.checkpoint import load_generator
from augreid.training.trainer import learning_rate, train_generator
from tests.tools.forked_cli import run_module

TINY_ARCH = GeneratorArchitecture(blocks=1, ngf=8, ndf=8, discriminator_blocks=1)
TINY = Config(
    generators=GeneratorsConfig(pona=TINY_ARCH, patn=dataclasses.replace(TINY_ARCH, discriminator_spectral_norm=False),
                                aps=dataclasses.replace(TINY_ARCH, blocks=2, discriminator_spectral_norm=False),
                                gfla=GeneratorArchitecture(blocks=3, ngf=8, ndf=8, discriminator_blocks=2),
                                san=dataclasses.replace(TINY_ARCH, dropout=0.0, discriminator_spectral_norm=False)),
    generator_training=GeneratorTrainingConfig(iterations=4, decay_iterations=2, batch_size=2, lambda_perceptual=0,
                                               sample_every=2, checkpoint_every=2, workers=0, pool_size=3),
    san_training=GeneratorTrainingConfig(iterations=4, decay_iterations=4, batch_size=2, lambda_perceptual=0,
                                         sample_every=2, checkpoint_every=2, workers=0, pool_size=3),
    gfla_training=GFLATrainingConfig(iterations=4, flow_iterations=2, batch_size=2, correctness_features="patches",
                                     lambda_content=0, lambda_style=0, sample_every=2, checkpoint_every=2, workers=0),
)


def test_learning_rate_is_constant_then_decays_linearly_to_zero():
    rates = [learning_rate(step, 1.0, iterations=10, decay_iterations=4) for step in range(10)]
    assert rates == [1.0] * 7 + [0.75, 0.5, 0.25]
    assert learning_rate(9, 1.0, 10, 0) == 1.0


@pytest.mark.parametrize("name", ["pona", "patn", "aps", "gfla", "san"])
def test_a_short_run_writes_checkpoints_samples_and_summary(tmp_path, small_synthetic, name):
    summary = train_generator(name, small_synthetic, TINY, tmp_path / "run", seed=1, progress=False)
    assert summary["finished"] and summary["step"] == 4
    assert sorted(p.name for p in (tmp_path / "run" / "samples").iterdir()) == ["step_000002.png", "step_000004.png"]
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["heldout"]["pairs"] > 0
    generator, payload = load_generator(tmp_path / "run" / "generator.pt", name, TINY.generators.architecture(name))
    assert payload["step"] == 4 and payload["generator"] == name
    assert generator(torch.zeros(1, 3, 128, 64), torch.zeros(1, maps_channels(name), 128, 64)).shape == (1, 3, 128, 64)
    again = train_generator(name, small_synthetic, TINY, tmp_path / "run", seed=1, resume=True, progress=False)
    assert again["reused"] and again["heldout"] == summary["heldout"]


@pytest.mark.parametrize("name, parts", [("pona", ("generator", "pose_discriminator", "appearance_discriminator")),
                                         ("san", ("generator", "pair_discriminator"))])
def test_resume_continues_exactly_where_the_run_stopped(tmp_path, small_synthetic, name, parts):
    train_generator(name, small_synthetic, TINY, tmp_path / "straight", seed=3, progress=False)
    first = train_generator(name, small_synthetic, TINY, tmp_path / "split", seed=3, stop_after=2, progress=False)
    assert not first["finished"] and first["step"] == 2
    with pytest.raises(InputError, match="holds a training run already"):
        train_generator(name, small_synthetic, TINY, tmp_path / "split", seed=3, progress=False)
    train_generator(name, small_synthetic, TINY, tmp_path / "split", seed=3, resume=True, progress=False)
    straight = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=True)
    split = torch.load(tmp_path / "split" / "checkpoint.pt", weights_only=True)
    assert split["step"] == straight["step"] == 4
    assert sorted(straight["training_state"]["models"]) == sorted(parts)
    for part in parts:
        a, b = straight["training_state"]["models"][part], split["training_state"]["models"][part]
        assert all(torch.equal(a[k], b[k]) for k in a), part


def test_the_same_command_trains_the_same_bits(tmp_path, small_synthetic):
    for out in ("a", "b"):
        train_generator("patn", small_synthetic, TINY, tmp_path / out, seed=5, progress=False, heldout=False)
    a, b = (torch.load(tmp_path / out / "generator.pt", weights_only=True)["state_dict"] for out in ("a", "b"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_gfla_resumes_exactly_across_its_two_stages(tmp_path, small_synthetic):
    train_generator("gfla", small_synthetic, TINY, tmp_path / "straight", seed=3, progress=False)
    first = train_generator("gfla", small_synthetic, TINY, tmp_path / "split", seed=3, stop_after=2, progress=False)
    assert first["last_losses"]["stage"] == 1.0  # stopped at the end of the flow stage
    last = train_generator("gfla", small_synthetic, TINY, tmp_path / "split", seed=3, resume=True, progress=False)
    assert last["last_losses"]["stage"] == 2.0
    straight = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=True)["training_state"]
    split = torch.load(tmp_path / "split" / "checkpoint.pt", weights_only=True)["training_state"]
    assert straight["iteration"] == split["iteration"] == 4
    for part in ("generator", "discriminator"):
        a, b = straight["models"][part], split["models"][part]
        assert all(torch.equal(a[k], b[k]) for k in a), part


def test_resume_refuses_a_different_run(tmp_path, small_synthetic):
    train_generator("pona", small_synthetic, TINY, tmp_path / "run", seed=3, stop_after=2, progress=False)
    other = dataclasses.replace(TINY, generator_training=dataclasses.replace(TINY.generator_training, lr=1e-3))
    with pytest.raises(InputError, match=r"cannot resume, the run differs from this command's \(training.lr: 0.0002 "
                                         r"there, 0.001 now\)"):
        train_generator("pona", small_synthetic, other, tmp_path / "run", seed=3, resume=True, progress=False)


def test_a_final_save_cut_between_its_two_files_is_repaired_on_resume(tmp_path, small_synthetic):
    """A kill after `checkpoint.pt` was replaced but before `generator.pt` was: the resumed run derives
    `generator.pt` from the checkpoint again, and leaves no temporary files behind."""
    out = tmp_path / "run"
    train_generator("pona", small_synthetic, TINY, out, seed=3, stop_after=2, progress=False)
    stale = (out / "generator.pt").read_bytes()  # step 2
    train_generator("pona", small_synthetic, TINY, out, seed=3, resume=True, progress=False)  # to step 4
    (out / "generator.pt").write_bytes(stale)
    (out / "summary.json").unlink()  # the kill came before the summary
    (out / ".generator.pt.x1y2.tmp").write_bytes(stale[:100])  # the half-written replacement
    summary = train_generator("pona", small_synthetic, TINY, out, seed=3, resume=True, progress=False)
    assert summary["step"] == 4
    _, payload = load_generator(out / "generator.pt")
    final = torch.load(out / "checkpoint.pt", weights_only=True)
    assert payload["step"] == final["step"] == 4
    weights = final["training_state"]["models"]["generator"]
    assert all(torch.equal(payload["state_dict"][k], weights[k]) for k in weights)
    assert not list(out.glob(".*.tmp"))


def test_an_unbuildable_shape_or_unreadable_image_fails_before_training(tmp_path, small_synthetic):
    broken = dataclasses.replace(TINY, generators=dataclasses.replace(
        TINY.generators, gfla=dataclasses.replace(TINY.generators.gfla, blocks=2)))
    with pytest.raises(InputError, match=r"generators.gfla: this shape does not build \(blocks must be 3"):
        train_generator("gfla", small_synthetic, broken, tmp_path / "gfla", progress=False)
    root = tmp_path / "copy"
    shutil.copytree(small_synthetic, root)
    image = sorted((root / "bounding_box_train").glob("*.jpg"))[-1]
    image.write_bytes(image.read_bytes()[:200])
    with pytest.raises(InputError, match=rf"{image.name}: cannot read image"):
        train_generator("pona", root, TINY, tmp_path / "pona", progress=False)
    assert not (tmp_path / "gfla").exists() and not (tmp_path / "pona").exists()


def test_loading_a_mismatched_or_foreign_checkpoint_is_a_clear_error(tmp_path, small_synthetic):
    train_generator("pona", small_synthetic, TINY, tmp_path / "run", seed=0, stop_after=2, progress=False)
    with pytest.raises(InputError, match=r"holds pona\(blocks=1, .*but patn\(blocks=1"):
        load_generator(tmp_path / "run" / "generator.pt", "patn", TINY_ARCH)
    with pytest.raises(InputError, match=r"but pona\(blocks=3"):
        load_generator(tmp_path / "run" / "generator.pt", "pona", GeneratorArchitecture())
    train_generator("aps", small_synthetic, TINY, tmp_path / "aps", seed=0, stop_after=1, progress=False)
    with pytest.raises(InputError, match=r"holds aps\(blocks=2, .*but gfla\(blocks=3"):
        load_generator(tmp_path / "aps" / "generator.pt", "gfla", TINY.generators.gfla)
    (tmp_path / "junk.pt").write_bytes(b"\x00garbage")
    with pytest.raises(InputError, match="not an augreid checkpoint"):
        load_generator(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(InputError, match="not an augreid checkpoint of format augreid-generator/1 or"):
        load_generator(tmp_path / "other.pt")
    from_training, payload = load_generator(tmp_path / "run" / "checkpoint.pt")  # read as its generator.pt
    from_inference, _ = load_generator(tmp_path / "run" / "generator.pt")
    assert payload["step"] == 2 and all(torch.equal(a, b) for a, b in zip(from_training.state_dict().values(),
                                                                         from_inference.state_dict().values()))


def _cli(*args):
    return run_module("augreid.train_generator", *map(str, args))


def test_cli_bad_inputs_exit_2_with_one_line(tmp_path, small_synthetic):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump({"generator_training": {"iterations": 2, "decay_iterations": 1, "lambda_perceptual": 10}}))
    missing_root = _cli("--generator", "pona", "--data-root", tmp_path / "absent", "--config", config, "--out", tmp_path / "o")
    assert missing_root.returncode == 2
    assert missing_root.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'absent'}: data root does not exist"]
    no_vgg = _cli("--generator", "pona", "--data-root", small_synthetic, "--config", config, "--out", tmp_path / "o",
                  "--vgg-weights", tmp_path / "vgg.pth")
    assert no_vgg.returncode == 2 and "Remedies:" in no_vgg.stderr and len(no_vgg.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o" / "checkpoint.pt").exists()
