"""Images made elsewhere: the slots exported for an outside test script, filled by one, and read back."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from augreid.errors import InputError
from augreid.generate import augment, plan_augmentation
from augreid.annotations import read_annotations
from augreid.generators.external import PRESETS, detect_pattern, file_name, pattern_regex, resolve_pattern
from augreid.generators.source import GeneratorSpec
from augreid.images import load_image
from augreid.market import annotation_file, scan_split
from augreid.slots import export_slots

MIRROR = Path(__file__).parent / "tools" / "mirror_generator.py"


@pytest.fixture(scope="module")
def exported(small_synthetic, tmp_path_factory):
    """A tiny study's slots (p = 0.5, seed 0, 20 test pairs), and the mirror script's PATN-named strips for them."""
    folder = tmp_path_factory.mktemp("external")
    summary = export_slots(small_synthetic, folder / "slots", [0.5], [0], test_count=20, test_seed=0)
    results = folder / "results"
    for batch in sorted((folder / "slots").glob("batch_*")):
        subprocess.run([sys.executable, str(MIRROR), str(batch), str(results)], check=True)
    return summary, folder / "slots", results


def test_export_writes_every_slot_once_with_stand_ins_and_no_real_target(exported, small_synthetic):
    summary, slots, _ = exported
    table = pd.read_csv(slots / "slots.csv")
    train = scan_split(small_synthetic, "train")
    manifest = plan_augmentation(train, read_annotations(annotation_file(small_synthetic, "train")), 0.5, 0, "x")
    generated = manifest[manifest["source"] == "generated"]
    in_table = table[table["kind"] == "slot"]
    assert sorted(zip(in_table["from"], in_table["to"])) == sorted(zip(generated["condition"], generated["target"]))
    assert summary["counts"] == {"slots": len(generated), "test_pairs": 20,
                                 "images_to_make": len(table.drop_duplicates(["from", "to"])),
                                 "batches": table["batch"].max()}
    real = {**dict(train[["name", "path"]].values), **dict(scan_split(small_synthetic, "gallery")[["name", "path"]].values)}
    for batch in sorted(slots.glob("batch_*")):
        pairs = pd.read_csv(batch / "market-pairs-test.csv")
        assert not set(pairs["from"]) & set(pairs["to"])  # no target is a condition in its batch
        keypoints = read_annotations(batch / "market-annotation-test.csv")
        assert set(keypoints.names) == set(pairs["from"]) | set(pairs["to"])
        for target, condition in pairs.drop_duplicates("to")[["to", "from"]].itertuples(index=False):
            stand_in = (batch / "test" / target).read_bytes()
            assert stand_in == Path(real[condition]).read_bytes() != Path(real[target]).read_bytes()


def test_imported_images_fill_the_set_from_the_strips_last_panel(exported, small_synthetic, tmp_path):
    _, _, results = exported
    spec = GeneratorSpec("mirror", "external", str(results), pattern="patn")
    summary = augment(0.5, small_synthetic, spec, out=tmp_path / "aug", progress=False)
    manifest = pd.read_csv(tmp_path / "aug" / "manifest.csv")
    generated = manifest[manifest["source"] == "generated"]
    assert summary["counts"]["generated_now"] == len(generated) > 0
    assert set(generated["generator"]) == {"mirror"} and generated["name"].str.endswith("_mirror.jpg").all()
    first = generated.iloc[0]
    made = load_image(tmp_path / "aug" / "bounding_box_train" / first["name"]).astype(int)
    condition = load_image(small_synthetic / "bounding_box_train" / first["condition"]).astype(int)
    to_mirrored, to_condition = np.abs(made - condition[:, ::-1]).mean(), np.abs(made - condition).mean()
    assert to_mirrored < 8 and to_mirrored < to_condition / 3  # the strip's last panel, two JPEG encodings apart
    stored = json.loads((tmp_path / "aug" / "summary.json").read_text())["inputs"]["source"]
    assert stored["kind"] == "external" and stored["pattern"] == PRESETS["patn"] and len(stored["sha256"]) == 64


def test_the_pattern_is_found_from_the_folder_and_reads_the_published_names(tmp_path):
    assert pattern_regex(PRESETS["patn"]).match("0002_c1s1_000451_03.jpg___0002_c3s1_000551_01_vis.jpg")
    assert pattern_regex(PRESETS["gfla"]).match("0002_c1s1_000451_03_2_0002_c3s1_000551_01_vis.jpg")
    assert pattern_regex(PRESETS["gfla"]).match("0005_c2_f0046985_2_0005_c5_f0051341_vis.jpg").groups() == (
        "0005_c2_f0046985", "0005_c5_f0051341")  # DukeMTMC-reID names
    for preset in ("patn", "gfla", "plain"):
        folder = tmp_path / preset
        folder.mkdir()
        (folder / file_name(PRESETS[preset], "0002_c1s1_000451_03.jpg", "0002_c3s1_000551_01.jpg")).touch()
        assert detect_pattern(folder) == PRESETS[preset]
    with pytest.raises(InputError, match=r"needs \{from\} and \{to\} once each"):
        resolve_pattern("{from}.png", "x", Path("."))


def _copy(results: Path, tmp_path: Path) -> Path:
    broken = tmp_path / "results"
    shutil.copytree(results, broken)
    return broken


@pytest.mark.parametrize("damage, message", [
    ("missing", r"1 generated images missing: 0\d{3}_c"),
    ("extra", r"1 unexpected images: 0099_c1s1_000001_00.jpg___0099_c2s1_000002_00_vis.jpg \(the pattern"),
    ("undecodable", r"1 unusable generated images: .*cannot read image"),
    ("wrong size", r"1 unusable generated images: .*: 50x100 pixels, not 64x128 nor a strip"),
])
def test_a_bad_folder_is_refused_before_anything_is_written(exported, small_synthetic, tmp_path, damage, message):
    _, slots, results = exported
    broken = _copy(results, tmp_path)
    first_slot = pd.read_csv(slots / "slots.csv").iloc[0]
    victim = broken / file_name(PRESETS["patn"], first_slot["from"], first_slot["to"])
    if damage == "missing":
        victim.unlink()
    elif damage == "extra":
        shutil.copy(victim, broken / "0099_c1s1_000001_00.jpg___0099_c2s1_000002_00_vis.jpg")
    elif damage == "undecodable":
        victim.write_bytes(b"not a jpeg")
    else:
        Image.new("RGB", (50, 100)).save(victim)
    spec = GeneratorSpec("mirror", "external", str(broken), pattern="patn")
    with pytest.raises(InputError, match=message):
        augment(0.5, small_synthetic, spec, out=tmp_path / "aug", progress=False)
    assert not (tmp_path / "aug").exists()  # nothing half-assembled
    if damage == "wrong size":
        resized = augment(0.5, small_synthetic, GeneratorSpec("mirror", "external", str(broken), pattern="patn",
                                                             resize=True), out=tmp_path / "aug", progress=False)
        assert resized["counts"]["generated_now"] > 0


def test_generate_cli_reads_a_folder_by_name_and_refuses_a_missing_one(exported, small_synthetic, tmp_path):
    _, _, results = exported
    done = subprocess.run([sys.executable, "-m", "augreid.generate", "--portion", "0.5", "--data-root",
                           str(small_synthetic), "--generator", "external:mirror", "--images", str(results),
                           "--out", str(tmp_path / "aug")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "= " in done.stdout and "mirror" in done.stdout and "verified" in done.stdout
    absent = subprocess.run([sys.executable, "-m", "augreid.generate", "--portion", "0.5", "--data-root",
                             str(small_synthetic), "--generator", "external:mirror", "--images", str(tmp_path / "no"),
                             "--out", str(tmp_path / "aug2")], capture_output=True, text=True)
    assert absent.returncode == 2 and absent.stderr.count("\n") == 1
    assert "folder of generated images does not exist" in absent.stderr


def test_quality_scores_the_exported_test_pairs(exported, small_synthetic, tmp_path):
    from augreid.quality import evaluate

    _, _, results = exported
    result = evaluate(small_synthetic, GeneratorSpec("mirror", "external", str(results)), tmp_path / "q", count=20,
                      seed=0)
    assert result["generator"] == "mirror" and result["pairs"] == 20
    assert result["inputs"]["source"]["pattern"] == PRESETS["patn"]  # found from the folder's names
    assert 0 < result["ssim"] < 1 and result["ssim"] != result["copy_ssim"]
