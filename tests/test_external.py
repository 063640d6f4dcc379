"""Images made elsewhere: the slots exported for an outside test script, filled by one, and read back."""
import inspect
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from augreid.config import QualityConfig
from augreid.core.errors import InputError
from augreid.data.annotations import read_annotations
from augreid.data.heatmap import pose_heatmaps
from augreid.data.images import JPEG_QUALITY, load_image
from augreid.data.market import annotation_file, pair_names, scan_split
from augreid.evaluation.quality import evaluate
from augreid.protocol.augmented_set import augment
from augreid.protocol.plan import plan_augmentation
from augreid.sources.external import PRESETS, ExternalImages, detect_pattern, file_name, pattern_regex, resolve_pattern
from augreid.sources.source import GeneratorSpec
from augreid.study.slots import export_slots
from tests.tools.forked_cli import run_module

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
    assert pattern_regex(PRESETS["patn"]).match("0002_c1s1_000451_03.jpg___0002_c3s1_000551_01.jpg_vis.jpg").groups() \
        == ("0002_c1s1_000451_03", "0002_c3s1_000551_01")
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
    ("extra", r"1 unexpected images: 0099_c1s1_000001_00.jpg___0099_c2s1_000002_00.jpg_vis.jpg \(the pattern"),
    ("undecodable", r"1 unusable generated images: .*cannot read image"),
    ("wrong size", r"1 unusable generated images: .*_vis.jpg: 50x100 pixels, not a strip of 5 panels of 64x128 "
                   r"\(320x128\)"),
    ("not an image", r"1 files that are not images: notes.txt \(the folder holds the generated images alone\)"),
])
def test_a_bad_folder_is_refused_before_anything_is_written(exported, small_synthetic, tmp_path, damage, message):
    _, slots, results = exported
    broken = _copy(results, tmp_path)
    first_slot = pd.read_csv(slots / "slots.csv").iloc[0]
    victim = broken / file_name(PRESETS["patn"], first_slot["from"], first_slot["to"])
    if damage == "missing":
        victim.unlink()
    elif damage == "extra":
        shutil.copy(victim, broken / "0099_c1s1_000001_00.jpg___0099_c2s1_000002_00.jpg_vis.jpg")
    elif damage == "undecodable":
        victim.write_bytes(b"not a jpeg")
    elif damage == "not an image":
        (broken / "notes.txt").write_text("a result saved under another name")
    else:
        Image.new("RGB", (50, 100)).save(victim)
    spec = GeneratorSpec("mirror", "external", str(broken), pattern="patn")
    with pytest.raises(InputError, match=message):
        augment(0.5, small_synthetic, spec, out=tmp_path / "aug", progress=False)
    assert not (tmp_path / "aug").exists()  # nothing half-assembled
    if damage == "wrong size":  # resizing a strip cannot tell its panels: refused all the same
        with pytest.raises(InputError, match=message):
            augment(0.5, small_synthetic, GeneratorSpec("mirror", "external", str(broken), pattern="patn",
                                                        resize=True), out=tmp_path / "aug", progress=False)


def test_generate_cli_reads_a_folder_by_name_and_refuses_a_missing_one(exported, small_synthetic, tmp_path):
    _, _, results = exported
    done = run_module("augreid.generate", "--portion", "0.5", "--data-root", str(small_synthetic), "--generator",
                      "external:mirror", "--images", str(results), "--out", str(tmp_path / "aug"))
    assert done.returncode == 0, done.stderr
    assert "= " in done.stdout and "mirror" in done.stdout and "verified" in done.stdout
    absent = run_module("augreid.generate", "--portion", "0.5", "--data-root", str(small_synthetic), "--generator",
                        "external:mirror", "--images", str(tmp_path / "no"), "--out", str(tmp_path / "aug2"))
    assert absent.returncode == 2 and absent.stderr.count("\n") == 1
    assert "folder of generated images does not exist" in absent.stderr


def test_quality_scores_the_exported_test_pairs(exported, small_synthetic, tmp_path):
    _, _, results = exported
    result = evaluate(small_synthetic, GeneratorSpec("mirror", "external", str(results)), tmp_path / "q", count=20,
                      seed=0)
    assert result["generator"] == "mirror" and result["pairs"] == 20
    assert result["inputs"]["source"]["pattern"] == PRESETS["patn"]  # found from the folder's names
    assert 0 < result["ssim"] < 1 and result["ssim"] != result["copy_ssim"]


def authors_name(condition: str, target: str) -> str:
    """The name PATN's, PoNA's and APS's test scripts give a pair's strip: `image_path = P1 + '___' + P2`
    (Pose-Transfer models/PATN.py:113), saved as `'%s_%s.jpg' % (image_path[0], label)` with label 'vis'
    (util/visualizer.py:135)."""
    return "%s_%s.jpg" % (condition + "___" + target, "vis")


def write_strip(path: Path, panels: int, rng: np.random.Generator) -> None:
    """A strip of `panels` 64x128 panels of noise: every file's every panel differs from all others."""
    Image.fromarray(rng.integers(0, 256, (128, 64 * panels, 3), dtype=np.uint8)).save(path, quality=95)


@pytest.fixture(scope="module")
def authors_results(exported, tmp_path_factory) -> Path:
    """Every exported pair's 5-panel strip, named by the authors' rule."""
    _, slots, _ = exported
    folder = tmp_path_factory.mktemp("authors") / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for condition, target in pd.read_csv(slots / "slots.csv").drop_duplicates(["from", "to"])[["from", "to"]].values:
        write_strip(folder / authors_name(condition, target), 5, rng)
    return folder


def _generate(data_root: Path, images: Path, out: Path, *options: str) -> subprocess.CompletedProcess:
    return run_module("augreid.generate", "--portion", "0.5", "--data-root", str(data_root), "--images", str(images),
                      "--out", str(out), *options)


def test_the_authors_file_names_fill_each_slot_with_its_own_files_last_panel(authors_results, small_synthetic,
                                                                            tmp_path):
    done = _generate(small_synthetic, authors_results, tmp_path / "aug", "--generator", "external:patn")
    assert done.returncode == 0, done.stderr
    generated = pd.read_csv(tmp_path / "aug" / "manifest.csv").query("source == 'generated'")
    assert len(generated) > 0
    for name, condition, target in generated[["name", "condition", "target"]].values:
        with Image.open(authors_results / authors_name(condition, target)) as strip:
            last = strip.convert("RGB").crop((256, 0, 320, 128))
        encoded = io.BytesIO()
        last.save(encoded, format="JPEG", quality=JPEG_QUALITY)  # the slot is that panel, written once as JPEG
        expected = np.asarray(Image.open(encoded).convert("RGB"))
        np.testing.assert_array_equal(load_image(tmp_path / "aug" / "bounding_box_train" / name), expected)


@pytest.mark.parametrize("label", ["pona", "aps"])
def test_pona_and_aps_read_the_authors_names_without_a_pattern(authors_results, exported, small_synthetic, label):
    _, slots, _ = exported
    pattern = resolve_pattern(None, label, authors_results)
    assert pattern == "{from}.jpg___{to}.jpg_vis.jpg"
    pairs = pd.read_csv(slots / "slots.csv")
    assert len(ExternalImages(authors_results, pattern).check(pairs, pair_names(small_synthetic))) == 64


@pytest.mark.parametrize("panels", [4, 6])
def test_a_strip_of_another_panel_count_is_refused_by_the_cli(authors_results, exported, small_synthetic, tmp_path,
                                                              panels):
    _, slots, _ = exported
    broken = _copy(authors_results, tmp_path)
    first = pd.read_csv(slots / "slots.csv").iloc[0]
    write_strip(broken / authors_name(first["from"], first["to"]), panels, np.random.default_rng(1))
    done = _generate(small_synthetic, broken, tmp_path / "aug", "--generator", "external:patn")
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("error: ")
    assert f"{authors_name(first['from'], first['to'])}: {64 * panels}x128 pixels, not a strip of 5" in done.stderr
    assert not (tmp_path / "aug").exists()


def test_plain_reads_single_images_only(exported, small_synthetic, tmp_path):
    """A 128x128 image is not a strip of two panels; resized only when asked."""
    _, slots, _ = exported
    pairs = pd.read_csv(slots / "slots.csv")
    folder = tmp_path / "plain"
    folder.mkdir()
    for condition, target in pairs[["from", "to"]].values:
        Image.new("RGB", (128, 128), (200, 10, 10)).save(folder / f"{condition[:-4]}___{target[:-4]}.jpg")
    known = pair_names(small_synthetic)
    with pytest.raises(InputError, match=r"unusable generated images: .*___.*\.jpg: 128x128 pixels, not 64x128 "
                                         r"\(resizing needs --resize\)"):
        ExternalImages(folder, PRESETS["plain"]).check(pairs, known)
    resized = ExternalImages(folder, PRESETS["plain"], resize=True)
    resized.check(pairs, known)
    assert resized.read(pairs["from"][:1].tolist(), pairs["to"][:1].tolist()).shape == (1, 128, 64, 3)
    with pytest.raises(InputError, match=r"--panel 2: a file named '\{from\}___\{to\}.jpg' holds 1 panel"):
        ExternalImages(folder, PRESETS["plain"], panel=2).check(pairs, known)


def test_the_export_holds_heatmaps_that_the_authors_loader_reads(exported, small_synthetic):
    """As Pose-Transfer's data/keypoint.py: `<dataroot>/<phase>K/<name>.npy`, np.load, then (H, W, C) -> (C, H, W)."""
    _, slots, _ = exported
    keypoints = {**dict(zip(*_names_and_keypoints(small_synthetic, "train"))),
                 **dict(zip(*_names_and_keypoints(small_synthetic, "gallery")))}
    for batch in sorted(slots.glob("batch_*")):
        pairs = pd.read_csv(batch / "market-pairs-test.csv")
        names = sorted(set(pairs["from"]) | set(pairs["to"]))
        assert sorted(p.name for p in (batch / "testK").iterdir()) == sorted(f"{n}.npy" for n in names)
        for name in names:
            stored = np.load(batch / "testK" / f"{name}.npy")
            assert stored.dtype == np.float32 and stored.shape == (128, 64, 18)
            loaded = torch.from_numpy(stored).float().transpose(2, 0).transpose(2, 1)
            assert loaded.shape == (18, 128, 64)
            assert torch.equal(loaded, pose_heatmaps(keypoints[name]))  # the target's own pose, not its stand-in's
            # the authors' tool/generate_pose_map_market.py formula, written out
            yy, xx = np.meshgrid(np.arange(128), np.arange(64), indexing="ij")
            for joint, (y, x) in enumerate(keypoints[name]):
                authors = 0 if y == -1 or x == -1 else np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * 6 ** 2))
                np.testing.assert_allclose(stored[..., joint], authors, atol=1e-6)


def _names_and_keypoints(data_root: Path, split: str) -> tuple[list[str], np.ndarray]:
    annotations = read_annotations(annotation_file(data_root, split))
    return annotations.names, annotations.keypoints


def test_slots_exports_as_many_test_pairs_as_quality_scores():
    exported_default = inspect.signature(export_slots).parameters["test_count"].default
    assert exported_default == inspect.signature(evaluate).parameters["count"].default == QualityConfig().pairs == 1000
