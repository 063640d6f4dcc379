"""The authors' published weights through `augreid.convert`: each official fixture (the authors' own generator
class run on one crop; `tests/fixtures/official/README.md`) converted, then run by augreid. The fixtures on a
synthetic crop are committed, so these tests run on every checkout; the same fixtures on a real Market-1501 crop
(`../shared/reference/official-fixtures/`) are added where that folder is present."""
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from augreid.config import GeneratorArchitecture
from augreid.core.atomic import file_sha256
from augreid.core.errors import InputError, one_line
from augreid.data import heatmap
from augreid.data.images import load_image, to_pixels, to_tensor
from augreid.data.pose import MISSING
from augreid.models import build_generator, check_architecture
from augreid.sources.checkpoint import load_generator, save
from augreid.sources.inference import transfer
from augreid.sources.official import convert_official, to_official
from tests.tools.forked_cli import run_module

REPO = Path(__file__).resolve().parents[1]
CROPS = {  # the same weights, shapes and official code on two condition crops
    "synthetic": REPO / "tests" / "fixtures" / "official",
    "market1501": REPO.parent / "shared" / "reference" / "official-fixtures",
}
GENERATORS = ("patn", "pona", "aps")

# Bounds on max |augreid - official|, about twice the largest measured (tests/fixtures/official/README.md).
# On the official float64 inputs only the summation order differs, and it differs with the CPU's kernels and threads.
SAME_INPUTS = {"patn": 2e-14, "pona": 2e-14, "aps": 3e-13}
# On augreid's own image and float32 heatmaps: their rounding, carried through the network, depends on the crop.
OWN_INPUTS = {"synthetic": {"patn": 3e-7, "pona": 3e-7, "aps": 1.2e-6},
              "market1501": {"patn": 3e-7, "pona": 3e-7, "aps": 7e-6}}
HEATMAPS = 6e-8  # float32 rounding: one unit in the last place just below 1 is 2**-24 = 5.96e-8
GREY_LEVELS = 1  # transfer() runs in float32 and rounds to uint8


def load_fixture(name: str, crop: str = "synthetic") -> dict:
    """The fixture, with `crop` added; a missing committed fixture fails, a missing real-crop one skips."""
    path = CROPS[crop] / f"{name}.pt"
    if crop == "market1501" and not path.is_file():
        pytest.skip(f"real-crop official fixture not found at {path}: ../shared is absent, and a Market-1501 crop "
                    "may not be committed (the synthetic-crop fixture runs instead)")
    return {**torch.load(path, weights_only=True), "crop": crop}


@pytest.fixture(scope="module", params=[(crop, name) for crop in CROPS for name in GENERATORS],
                ids=lambda param: "-".join(param))
def fixture(request) -> dict:
    """Both crops: for the tests of what augreid computes, which the real crop's pose and pixels exercise too."""
    crop, name = request.param
    return load_fixture(name, crop)


@pytest.fixture(scope="module", params=GENERATORS)
def synthetic(request) -> dict:
    """The committed crop only: for the tests of conversion, whose key names and shapes both crops share."""
    return load_fixture(request.param)


def converted(source, tmp_path: Path, generator: str | None = None) -> tuple[torch.nn.Module, dict]:
    """Through the whole path a user takes: convert, write generator.pt, load it as any generator.pt."""
    save(tmp_path / "generator.pt", convert_official(generator, source))
    model, payload = load_generator(tmp_path / "generator.pt")
    return model.double().eval(), payload


def official_inputs(fixture: dict) -> tuple[torch.Tensor, torch.Tensor]:
    maps = torch.cat([fixture["condition_heatmaps"], fixture["target_heatmaps"]], 1)
    return fixture["condition_image"].double(), maps.double()


def augreid_inputs(fixture: dict) -> tuple[torch.Tensor, torch.Tensor]:
    image = to_tensor(fixture["condition_pixels"][None].numpy())
    maps = heatmap.pose_pair_maps(fixture["condition_keypoints"][None].numpy(),
                                  fixture["target_keypoints"][None].numpy())
    return image.double(), maps.double()


def max_difference(model: torch.nn.Module, inputs: tuple[torch.Tensor, torch.Tensor], fixture: dict) -> float:
    with torch.no_grad():
        return (model(*inputs) - fixture["output"]).abs().max().item()


def test_converted_official_weights_compute_the_official_output(fixture, tmp_path):
    official_file = tmp_path / f"{fixture['generator']}.pth"
    torch.save(fixture["state_dict"], official_file)
    model, payload = converted(official_file, tmp_path, fixture["generator"])
    assert max_difference(model, official_inputs(fixture), fixture) <= SAME_INPUTS[fixture["generator"]]
    provenance = payload["provenance"]
    assert provenance["origin"] == "official" and provenance["path"] == str(official_file.resolve())
    assert provenance["sha256"] == file_sha256(official_file)
    assert provenance["key_prefix"] == fixture["state_dict_key_prefix"]


def test_augreid_heatmaps_and_image_are_the_official_inputs(fixture):
    """augreid's float32 heatmaps differ from the official ones (float64, then float32) by float32 rounding and by
    the tail cut (profile values below `heatmap.TAIL`, 1e-9, are 0); a missing joint is all zeros in both."""
    for pose in ("condition", "target"):
        keypoints, official = fixture[f"{pose}_keypoints"], fixture[f"{pose}_heatmaps"][0]
        ours = heatmap.pose_heatmaps(keypoints)
        assert (ours - official).abs().max().item() <= HEATMAPS
        missing = (keypoints == MISSING).any(1)
        assert missing.any() and not ours[missing].any() and not official[missing].any()
    assert torch.equal(to_tensor(fixture["condition_pixels"].numpy()), fixture["condition_image"][0])


def test_augreid_images_and_heatmaps_give_the_official_output(fixture, tmp_path):
    """augreid's own input path, then its float32 inference to uint8 images."""
    model, _ = converted(fixture["state_dict"], tmp_path)
    bound = OWN_INPUTS[fixture["crop"]][fixture["generator"]]
    assert max_difference(model, augreid_inputs(fixture), fixture) <= bound
    pixels = transfer(model.float(), fixture["condition_pixels"][None].numpy(),
                      fixture["condition_keypoints"][None].numpy(), fixture["target_keypoints"][None].numpy())
    official_pixels = to_pixels(fixture["output"].float())
    assert np.abs(pixels.astype(int) - official_pixels.astype(int)).max() <= GREY_LEVELS


def test_the_committed_condition_crop_reads_as_the_fixtures_pixels(synthetic):
    """The jpg beside the fixtures is the crop they ran on: augreid's reader gives the official loader's pixels."""
    pixels = load_image(CROPS["synthetic"] / synthetic["condition_name"])
    assert np.array_equal(pixels, synthetic["condition_pixels"].numpy())


def with_prefix(state: dict, prefix: str) -> dict:
    return {prefix + key: tensor for key, tensor in state.items()}


def without_prefix(state: dict, prefix: str) -> dict:
    return {key.removeprefix(prefix): tensor for key, tensor in state.items()}


VARIANTS = {
    "module. added": lambda state, prefix: with_prefix(without_prefix(state, prefix), "module.model."),
    "module. removed": lambda state, prefix: with_prefix(without_prefix(state, prefix), "model."),
    "no prefix": without_prefix,
    # PyTorch < 0.4.1 (PATN's pinned 0.3.1) saved no batch-norm counter
    "no num_batches_tracked": lambda state, prefix: {k: v for k, v in state.items()
                                                     if not k.endswith("num_batches_tracked")},
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_conversion_accepts_any_wrapper_prefix_and_files_without_batch_norm_counters(synthetic, variant, tmp_path):
    state = VARIANTS[variant](synthetic["state_dict"], synthetic["state_dict_key_prefix"])
    model, payload = converted(state, tmp_path)  # the generator guessed from the key names
    assert payload["generator"] == synthetic["generator"]
    assert max_difference(model, official_inputs(synthetic), synthetic) <= SAME_INPUTS[synthetic["generator"]]
    counters = [v for k, v in payload["state_dict"].items() if k.endswith("num_batches_tracked")]
    assert counters and all(c == (0 if variant == "no num_batches_tracked" else 1000) for c in counters)


def test_a_file_in_the_legacy_format_without_counters_converts(synthetic, tmp_path):
    """As old PyTorch wrote them (PATN pins 0.3.1): the pre-1.6 serialisation, no batch-norm counters."""
    state = {k: v for k, v in synthetic["state_dict"].items() if not k.endswith("num_batches_tracked")}
    torch.save(state, tmp_path / "legacy.pth", _use_new_zipfile_serialization=False)
    model, _ = converted(tmp_path / "legacy.pth", tmp_path)
    assert max_difference(model, official_inputs(synthetic), synthetic) <= SAME_INPUTS[synthetic["generator"]]


def test_a_patn_trained_without_dropout_is_recognised_by_its_shifted_indices(tmp_path):
    """--no_dropout removes the Dropout module after each stream's first ReLU: the later layers sit one index
    lower. In eval mode dropout does nothing, so the fixture's weights in that layout compute the same output."""
    fixture = load_fixture("patn")
    def one_lower(match: re.Match) -> str:
        return f"{match.group(1)}.{int(match.group(2)) - 1}."

    state = {re.sub(r"(conv_block_stream[12])\.([67])\.", one_lower, key): tensor
             for key, tensor in fixture["state_dict"].items()}
    assert "model.att.0.conv_block_stream2.5.weight" in state
    model, payload = converted(state, tmp_path)
    assert payload["architecture"]["dropout"] == 0.0
    assert max_difference(model, official_inputs(fixture), fixture) <= SAME_INPUTS["patn"]


def small_official_patn() -> dict:
    """A PATN state dict under the official names (as PATNetwork saves it), made here from augreid's."""
    architecture = GeneratorArchitecture(blocks=2, ngf=8, norm="batch")
    return to_official("patn", architecture, build_generator("patn", architecture).state_dict(), prefix="model.")


def test_the_inverse_rules_give_the_official_patn_names():
    state = small_official_patn()
    assert {"model.att.1.conv_block_stream2.6.weight", "model.stream1_up.7.bias",
            "model.stream2_down.8.num_batches_tracked"} <= set(state)
    official = load_fixture("patn")["state_dict"]  # the very key names and shapes the authors' PATNetwork saves
    assert {k: v.shape for k, v in state.items()} == {k: v.shape for k, v in official.items()}


@pytest.mark.parametrize("change, named", [
    (lambda s: s.update({"model.att.1.conv_block_stream1.3.weight": torch.zeros(1)}),
     "official key 'model.att.1.conv_block_stream1.3.weight' has no place in PATNGenerator(blocks=2, ngf=8"),
    (lambda s: s.pop("model.att.1.conv_block_stream2.6.weight"),
     "augreid key 'blocks.1.pose_stream.6.weight' of PATNGenerator(blocks=2, ngf=8, norm=batch, dropout=0.5) is not "
     "filled by the official file (official key 'model.att.1.conv_block_stream2.6.weight')"),
    (lambda s: s.update({"model.att.0.conv_block_stream1.1.weight": torch.zeros(32, 32, 1, 1)}),
     "official key 'model.att.0.conv_block_stream1.1.weight' has shape (32, 32, 1, 1), but "
     "'blocks.0.image_stream.1.weight' of PATNGenerator(blocks=2, ngf=8, norm=batch, dropout=0.5) has (32, 32, 3, 3)"),
])
def test_a_key_that_does_not_fit_is_named_in_a_one_line_error(change, named, tmp_path):
    state = small_official_patn()
    change(state)
    torch.save(state, tmp_path / "patn.pth")
    with pytest.raises(InputError) as raised:
        convert_official("patn", tmp_path / "patn.pth")
    assert str(raised.value).startswith(f"{tmp_path / 'patn.pth'}: ") and named in str(raised.value)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("content, message", [
    ({"netG": {"a.weight": torch.zeros(1)}}, "key 'netG' holds a dict"),
    ({}, "not a state dict of tensors"),
    ({"encoder.weight": torch.zeros(1)}, "cannot tell which generator"),
])
def test_other_files_are_refused_clearly(content, message, tmp_path):
    torch.save(content, tmp_path / "weights.pth")
    with pytest.raises(InputError, match=message):
        convert_official(None, tmp_path / "weights.pth")


def test_gfla_official_names_round_trip_exactly():
    """GFLA's official ops are CUDA-only, so its numbers cannot be compared with the authors' model here (augreid's
    ops are tested against loop versions of the kernels, in test_gfla_ops.py); this checks the key mapping: augreid
    -> official names (as the authors' PoseGenerator, wrapped in DataParallel, saves them) -> augreid."""
    architecture = GeneratorArchitecture(blocks=3, ngf=64, ndf=32)
    torch.manual_seed(0)
    state = build_generator("gfla", architecture).state_dict()
    official = to_official("gfla", architecture, state, prefix="module.")
    expected_shapes = {  # from the official constructors at the published Market-1501 options
        "module.source.encoder1.model.5.weight": (256, 256, 3, 3),
        "module.target.decoder0.0.model.0.model.2.weight": (256, 256, 3, 3),
        "module.target.decoder2.1.shortcut.0.weight": (64, 64, 3, 3),
        "module.target.attn1.fully_connect_layer.0.weight": (128, 256, 3, 3),  # hidden_nc 128
        "module.target.attn1.fully_connect_layer.2.weight": (9, 128, 1, 1),
        "module.target.outconv.conv1.weight": (3, 64, 3, 3),
        "module.target.outconv.model.2.weight": (3, 64, 3, 3),
        "module.flow_net.block0.model.0.weight": (39,),
        "module.flow_net.encoder3.model.5.weight": (256, 256, 3, 3),
        "module.flow_net.decoder1.model.2.weight": (128, 256, 3, 3),
        "module.flow_net.jump2.conv1.weight": (64, 64, 3, 3),
        "module.flow_net.output2.weight": (2, 64, 3, 3),
        "module.flow_net.mask2.0.weight": (1, 64, 3, 3),
    }
    assert {key: tuple(official[key].shape) for key in expected_shapes} == expected_shapes
    payload = convert_official(None, official)
    assert payload["generator"] == "gfla" and payload["architecture"]["ngf"] == 64
    assert payload["state_dict"].keys() == state.keys()
    assert all(torch.equal(payload["state_dict"][key], state[key]) for key in state)


def test_a_gfla_layer_saved_twice_must_hold_the_same_tensor_under_both_names():
    architecture = GeneratorArchitecture(blocks=3, ngf=8)
    official = to_official("gfla", architecture, build_generator("gfla", architecture).state_dict())
    official["flow_net.jump1.conv1.bias"] = official["flow_net.jump1.conv1.bias"] + 1
    with pytest.raises(InputError, match=r"'flow_net.jump1.conv1.bias' should repeat 'flow_net.jump1.model.2.bias'"):
        convert_official("gfla", official)


@pytest.mark.parametrize("name", ["patn", "pona", "aps", "gfla"])
def test_every_generator_builds_and_runs_at_the_fixtures_narrow_width(name):
    check_architecture(name, GeneratorArchitecture(blocks=3, ngf=4))  # the PoNA fixture's ngf


def test_a_width_no_generator_builds_is_refused():
    with pytest.raises(ValueError) as refused:
        GeneratorArchitecture(ngf=1)
    assert one_line(refused.value) == "ngf: Input should be greater than or equal to 2, got 1"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return run_module("augreid.convert", *args, cwd=REPO, timeout=300)


def test_cli_converts_a_fixture_and_prints_its_architecture(tmp_path):
    torch.save(load_fixture("aps")["state_dict"], tmp_path / "latest_net_netG.pth")
    done = run_cli("--official", str(tmp_path / "latest_net_netG.pth"), "--out", str(tmp_path / "generator.pt"))
    assert done.returncode == 0, done.stderr
    assert "aps(blocks=3, ngf=8, norm=batch" in done.stdout and "parameters" in done.stdout
    assert "key prefix 'module.model.'" in done.stdout
    assert load_generator(tmp_path / "generator.pt", "aps")[1]["provenance"]["origin"] == "official"


def test_cli_bad_input_is_one_line_and_exit_status_2(tmp_path):
    (tmp_path / "notes.txt").write_text("not weights")
    done = run_cli("--generator", "patn", "--official", str(tmp_path / "notes.txt"), "--out", str(tmp_path / "g.pt"))
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {tmp_path / 'notes.txt'}: not a PyTorch weights file")
    assert done.stderr.count("\n") == 1 and not (tmp_path / "g.pt").exists()
