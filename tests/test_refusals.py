"""Bad input of every kind (arguments, seeds, checkpoints, configs, folders, names) is refused in one line, `error:
...` with exit status 2 from a command line, before anything is written; valid input that used to be refused or
mangled is read as it should be."""
import re
import subprocess
from pathlib import Path

import pytest
from tests.tools.forked_cli import run_module

ROOT = Path(__file__).parents[1]
SEEDED = [  # (module, the seed's flag, the other flags it needs to reach its checks)
    ("augreid.synthetic", "--seed", ["--out", "x"]),
    ("augreid.reid", "--seed", ["--data-root", "x", "--config", "x", "--out", "x"]),
    ("augreid.generate", "--seed", ["--portion", "0.5", "--out", "x"]),
    ("augreid.train_generator", "--seed", ["--data-root", "x", "--out", "x"]),
    ("augreid.quality", "--seed", ["--data-root", "x", "--out", "x"]),
    ("augreid.slots", "--seeds", ["--data-root", "x", "--out", "x", "--portions", "0.5"]),
    ("flows.augment_and_evaluate", "--seeds", []),
]


def run(module: str, *args: str) -> subprocess.CompletedProcess:
    return run_module(module, *args, cwd=ROOT, timeout=120)


@pytest.mark.parametrize("module, flag, others", SEEDED, ids=[m for m, _, _ in SEEDED])
def test_a_negative_seed_is_refused_in_one_line(module, flag, others):
    result = run(module, *others, flag, "-1")
    assert result.returncode == 2
    assert result.stderr == (f"error: python -m {module}: argument {flag}: a seed must be at least 0, got -1 "
                             "(see --help)\n")


@pytest.mark.parametrize("args, message", [
    (["augreid.generate", "--portion", "abc", "--out", "x"], "argument --portion: invalid float value: 'abc'"),
    (["augreid.generate", "--factor", "2.5", "--out", "x"], "argument --factor: invalid int value: '2.5'"),
    (["augreid.reid", "--config", "x"], "the following arguments are required: --data-root, --out"),
    (["augreid.train_generator", "--data-root", "x", "--out", "x", "--stop-after", "-1"],
     "argument --stop-after: a count must be at least 1, got -1"),
    (["augreid.bench", "aa", "--first-seed", "x"], "argument --first-seed: a seed is a whole number, got 'x'"),
])
def test_argparse_refusals_are_one_line(args, message):
    result = run(*args)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: python -m ") and message in result.stderr
    assert "usage:" not in result.stderr


def test_help_still_prints_the_usage():
    result = run("augreid.generate", "--help")
    assert result.returncode == 0 and result.stdout.startswith("usage: python -m augreid.generate")


def test_the_flow_refuses_a_negative_seed_before_anything(tmp_path):
    from flows.augment_and_evaluate import check_parameters

    with pytest.raises(ValueError, match=r"seeds: -2 is negative"):
        check_parameters(str(ROOT / "tests" / "configs" / "tiny.yaml"), None, [0.5], ["none"], [0, -2])


def test_a_text_forged_or_code_running_checkpoint_is_refused_in_one_line(tmp_path, small_synthetic):
    import torch

    (tmp_path / "text.pt").write_text("hello\n")
    torch.save({"format": "augreid-generator/1"}, tmp_path / "forged.pt")
    torch.save({"format": "augreid-generator/1", "object": ArithmeticError("runs code")}, tmp_path / "code.pt")
    expected = {"text.pt": "not an augreid checkpoint (KeyError: ",
                "forged.pt": "a damaged augreid checkpoint (KeyError: 'architecture')",
                "code.pt": "not an augreid checkpoint (it holds Python objects beyond tensors and plain values"}
    for name, message in expected.items():
        result = run("augreid.generate", "--portion", "0.5", "--data-root", str(small_synthetic), "--generator",
                     "pona", "--checkpoint", str(tmp_path / name), "--out", str(tmp_path / f"out_{name}"))
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
        assert result.stderr.startswith(f"error: {tmp_path / name}: {message}"), result.stderr
        assert "weights_only" not in result.stderr and "\x1b" not in result.stderr
        assert not (tmp_path / f"out_{name}").exists()
    converted = run("augreid.convert", "--official", str(tmp_path / "text.pt"), "--out", str(tmp_path / "g.pt"))
    assert converted.returncode == 2 and converted.stderr == (f"error: {tmp_path / 'text.pt'}: not a PyTorch weights "
                                                              "file (KeyError: 101)\n")


@pytest.mark.parametrize("section, setting, message", [
    ("generator_training", "lr: -0.001", "2:7: generator_training.lr: Input should be greater than 0, got -0.001"),
    ("generator_training", "lr: .nan", "2:7: generator_training.lr: Input should be a finite number, got nan"),
    ("generator_training", "beta1: 1.5", "2:10: generator_training.beta1: Input should be less than 1, got 1.5"),
    ("generator_training", "lambda_l1: -10",
     "2:14: generator_training.lambda_l1: Input should be greater than or equal to 0, got -10"),
    ("gfla_training", "discriminator_lr: 0", "2:21: gfla_training.discriminator_lr: Input should be greater than 0, "
                                             "got 0"),
    ("reid", "lr: .nan", "2:7: reid.lr: Input should be a finite number, got nan"),
    ("pretraining", "lr: -1", "2:7: pretraining.lr: Input should be greater than 0, got -1"),
])
def test_rates_and_loss_weights_that_cannot_train_are_refused(tmp_path, section, setting, message):
    from augreid.config import load_config
    from augreid.core.errors import InputError

    path = tmp_path / "bad.yaml"
    path.write_text(f"{section}:\n  {setting}\n")
    with pytest.raises(InputError) as refused:
        load_config(path)
    assert str(refused.value) == f"{path}:{message}"


def test_a_key_given_twice_or_a_name_that_is_not_text_is_refused(tmp_path):
    from augreid.config import load_config
    from augreid.core.errors import InputError

    twice = tmp_path / "twice.yaml"
    twice.write_text("reid:\n  lr: 0.1\n  lr: 0.2\n")
    with pytest.raises(InputError, match=re.escape(f"{twice}:3:3: not valid YAML (duplicate key 'lr')")):
        load_config(twice)
    numbered = tmp_path / "numbered.yaml"
    numbered.write_text("reid:\n  1: 2\n  lr: 0.1\n")
    with pytest.raises(InputError, match=re.escape(f"{numbered}:2:3: a setting's name must be text, got 1")):
        load_config(numbered)


def test_an_unknown_reid_model_and_a_batch_beyond_the_pairs_are_refused(tmp_path, small_synthetic):
    config = tmp_path / "model.yaml"
    config.write_text("reid: {model: resnet5O, pretrained: false}\n")
    result = run("augreid.reid", "--data-root", str(small_synthetic), "--config", str(config), "--out",
                 str(tmp_path / "reid"))
    assert result.returncode == 2 and result.stderr.startswith("error: reid.model: torchreid has no model 'resnet5O'")
    batch = tmp_path / "batch.yaml"
    batch.write_text((ROOT / "tests" / "configs" / "tiny.yaml").read_text().replace(
        "generator_training:\n  iterations: 2\n  decay_iterations: 1\n  batch_size: 2\n",
        "generator_training:\n  iterations: 2\n  decay_iterations: 1\n  batch_size: 100000\n", 1))
    result = run("augreid.train_generator", "--generator", "pona", "--data-root", str(small_synthetic), "--config",
                 str(batch), "--out", str(tmp_path / "gen"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "fewer than one batch of 100000 (the recipe's batch_size)" in result.stderr


def test_images_named_in_upper_case_are_refused_not_skipped(tmp_path, small_synthetic):
    import shutil

    root = tmp_path / "market"
    shutil.copytree(small_synthetic, root)
    image = sorted((root / "bounding_box_train").glob("*.jpg"))[0]
    image.rename(image.with_suffix(".JPG"))
    result = run("augreid.reid", "--data-root", str(root), "--config", "tests/configs/tiny.yaml", "--out",
                 str(tmp_path / "out"))
    assert result.returncode == 2 and result.stderr == (
        f"error: {image.with_suffix('.JPG')}: image names end in '.jpg', in lower case, as Market-1501's do (1 such "
        "files; rename them)\n")


def test_a_byte_order_mark_before_the_header_is_read_as_no_mark(tmp_path, small_synthetic):
    from augreid.data.annotations import read_annotations

    source = small_synthetic / "market-annotation-train.csv"
    marked = tmp_path / "marked.csv"
    marked.write_bytes(b"\xef\xbb\xbf" + source.read_bytes())
    plain, with_mark = read_annotations(source), read_annotations(marked)
    assert with_mark.names == plain.names and (with_mark.keypoints == plain.keypoints).all()


def test_an_output_inside_the_data_through_its_links_is_refused(tmp_path, small_synthetic):
    """An augmented set links to its source's test folders: `AUG/bounding_box_test/run` resolves into the source
    set, but is inside AUG as named."""
    augmented = tmp_path / "aug"
    result = run("augreid.generate", "--portion", "0.5", "--data-root", str(small_synthetic), "--generator", "none",
                 "--out", str(augmented))
    assert result.returncode == 0, result.stderr
    assert (augmented / "bounding_box_test").is_symlink()
    inside = augmented / "bounding_box_test" / "run"
    result = run("augreid.reid", "--data-root", str(augmented), "--config", "tests/configs/tiny.yaml", "--out",
                 str(inside))
    assert result.returncode == 2 and "the output must not be the data set" in result.stderr
    assert not (small_synthetic / "bounding_box_test" / "run").exists()


def test_two_names_of_one_folder_share_one_lock(tmp_path):
    from augreid.core.errors import InputError
    from augreid.core.output import output_lock

    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    with output_lock(tmp_path / "real"):
        with pytest.raises(InputError, match="in use by another run"):
            with output_lock(tmp_path / "alias"):
                pass


def test_annotate_holds_the_data_roots_lock(tmp_path, small_synthetic):
    from augreid.core.errors import InputError
    from augreid.core.output import output_lock
    from augreid.data.pose_estimation import annotate

    with output_lock(small_synthetic):
        with pytest.raises(InputError, match="in use by another run"):
            annotate(small_synthetic, progress=False)


def test_slots_refuses_a_truncated_condition_image_before_writing(tmp_path, small_synthetic):
    import shutil

    root = tmp_path / "market"
    shutil.copytree(small_synthetic, root)
    for image in (root / "bounding_box_train").glob("*.jpg"):
        image.write_bytes(image.read_bytes()[:200])
    result = run("augreid.slots", "--data-root", str(root), "--out", str(tmp_path / "slots"), "--portions", "0.5")
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "cannot read image" in result.stderr
    assert not (tmp_path / "slots").exists()


def test_a_set_without_test_folders_or_training_images_is_not_augmented(tmp_path, small_synthetic):
    import shutil

    root = tmp_path / "market"
    shutil.copytree(small_synthetic, root)
    shutil.rmtree(root / "bounding_box_test")
    result = run("augreid.generate", "--portion", "0.5", "--data-root", str(root), "--generator", "none", "--out",
                 str(tmp_path / "a"))
    assert result.returncode == 2 and "missing Market-1501 split folder 'bounding_box_test'" in result.stderr
    assert not (tmp_path / "a").exists()
    shutil.copytree(small_synthetic / "bounding_box_test", root / "bounding_box_test")
    for image in (root / "bounding_box_train").glob("*.jpg"):
        image.unlink()
    result = run("augreid.generate", "--portion", "0.5", "--data-root", str(root), "--generator", "none", "--out",
                 str(tmp_path / "b"))
    assert result.returncode == 2 and result.stderr == (f"error: {root / 'bounding_box_train'}: no training images "
                                                        "(an empty set cannot be augmented)\n")


def test_someone_elses_run_records_are_refused_before_any_work(tmp_path, small_synthetic):
    import shutil

    from augreid.core.errors import InputError
    from augreid.data.pose_estimation import annotate

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "run.json").write_text("{not json")
    result = run("augreid.generate", "--portion", "0.5", "--data-root", str(small_synthetic), "--generator", "none",
                 "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and result.stderr == (f"error: {tmp_path / 'out' / 'run.json'}: not an "
                                                        "augreid.generate run record; choose another --out\n")
    root = tmp_path / "market"
    shutil.copytree(small_synthetic, root)
    (root / "annotate.json").write_text("[1, 2]")
    with pytest.raises(InputError, match="annotate.json: not an augreid.annotate record"):
        annotate(root, progress=False)


def test_bench_annotate_refuses_a_truncated_image_before_timing(tmp_path, small_synthetic):
    import shutil

    root = tmp_path / "market"
    shutil.copytree(small_synthetic, root)
    image = sorted((root / "bounding_box_train").glob("*.jpg"))[0]
    image.write_bytes(image.read_bytes()[:300])
    result = run("augreid.bench", "annotate", "--data-root", str(root), "--images", "3", "--min-seconds", "0")
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"error: {image}: cannot read image")


def test_a_junk_image_in_the_training_split_is_refused(tmp_path, small_synthetic):
    import shutil

    root = tmp_path / "market"
    shutil.copytree(small_synthetic, root)
    junk = next((root / "bounding_box_test").glob("-1_*.jpg"))
    shutil.copy(junk, root / "bounding_box_train" / junk.name)
    annotations = root / "market-annotation-train.csv"
    annotations.write_text(annotations.read_text() + f"{junk.name}: [10, 20, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, "
                           "-1, -1, -1, -1, -1, -1]: [10, 20, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, "
                           "-1, -1]\n")
    result = run("augreid.generate", "--portion", "0.5", "--data-root", str(root), "--generator", "none", "--out",
                 str(tmp_path / "a"))
    assert result.returncode == 2 and result.stderr == (f"error: {root / 'bounding_box_train' / junk.name}: a junk "
                                                        "image (person -1) in the training split; training images "
                                                        "name a person\n")


def test_the_flow_refuses_a_truncated_image_of_its_data_root_at_once(tmp_path, small_synthetic):
    import shutil

    root = tmp_path / "market"
    shutil.copytree(small_synthetic, root)
    image = sorted((root / "query").glob("*.jpg"))[0]
    image.write_bytes(image.read_bytes()[:300])
    result = run("flows.augment_and_evaluate", "--config", "tests/configs/tiny.yaml", "--data-root", str(root),
                 "--portions", "0.5", "--generators", "none", "--seeds", "0", "--output", str(tmp_path / "out"))
    assert result.returncode == 2 and result.stderr.startswith(f"error: {image}: cannot read image")
    assert result.stderr.count("\n") == 1 and not (tmp_path / "out").exists()


def test_convert_refuses_an_output_it_cannot_write_before_converting(tmp_path):
    (tmp_path / "file").write_text("")
    for out, message in ((tmp_path, "is a folder, expected a file name"),
                         (tmp_path / "file" / "g.pt", "g.pt: cannot be created, "),
                         (Path("/proc/g.pt"), "/proc/g.pt: cannot write there (/proc: ")):
        result = run("augreid.convert", "--official", str(tmp_path / "absent.pth"), "--out", str(out))
        assert result.returncode == 2 and result.stderr.count("\n") == 1 and message in result.stderr, result.stderr


def test_pairs_refuses_an_output_it_cannot_write(tmp_path, small_synthetic):
    (tmp_path / "file").write_text("")
    annotations = str(small_synthetic / "market-annotation-train.csv")
    for out, message in ((tmp_path, "is a folder, expected a file name"),
                         (tmp_path / "file" / "pairs.csv", "pairs.csv: cannot be created, "),
                         (Path("/proc/pairs.csv"), "/proc/pairs.csv: cannot write there (/proc: ")):
        result = run("augreid.pairs", "--annotations", annotations, "--out", str(out))
        assert result.returncode == 2 and result.stderr.count("\n") == 1 and message in result.stderr, result.stderr


def test_a_code_running_reid_model_is_refused_by_the_identity_score(tmp_path):
    import json

    import torch

    from augreid.core.errors import InputError
    from augreid.reid.identity import ReidEmbedder

    (tmp_path / "metrics.json").write_text(json.dumps({"config": {"model": "osnet_x0_25"}, "train_identities": 2}))
    torch.save({"object": ArithmeticError("runs code")}, tmp_path / "model.pt")
    with pytest.raises(InputError, match="not a re-ID model's weights \\(it holds Python objects"):
        ReidEmbedder(tmp_path)


def test_a_forged_training_checkpoint_is_refused_on_resume(tmp_path, small_synthetic):
    import torch

    (tmp_path / "run").mkdir()
    torch.save({"format": "augreid-generator-training/1"}, tmp_path / "run" / "checkpoint.pt")
    result = run("augreid.train_generator", "--generator", "pona", "--data-root", str(small_synthetic), "--config",
                 "tests/configs/tiny.yaml", "--out", str(tmp_path / "run"), "--resume")
    assert result.returncode == 2 and result.stderr == (f"error: {tmp_path / 'run' / 'checkpoint.pt'}: a damaged "
                                                        "augreid checkpoint (no 'run'); choose another --out\n")
