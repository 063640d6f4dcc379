import dataclasses
from pathlib import Path

import pytest

from augreid.config import ReidConfig, SyntheticConfig, config_digest, load_config, to_dict
from augreid.core.atomic import file_sha256
from augreid.core.errors import InputError, one_line

CONFIGS = Path(__file__).parents[1] / "configs"


def write(tmp_path, text, name="c.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def refusal(path) -> str:
    with pytest.raises(InputError) as refused:
        load_config(path)
    message = str(refused.value)
    assert "\n" not in message
    return message


def test_sections_load_into_typed_dataclasses(tmp_path):
    config = load_config(write(tmp_path, "synthetic:\n  train_identities: 20\n  train_images_per_identity: [3, 9]\n"))
    assert config.synthetic.train_identities == 20
    assert config.synthetic.train_images_per_identity == (3, 9)
    assert config.synthetic.test_identities == SyntheticConfig().test_identities
    assert to_dict(config.synthetic)["train_images_per_identity"] == [3, 9]


def test_whole_numbers_load_as_floats_and_lists_as_tuples_as_before(tmp_path):
    config = load_config(write(tmp_path, "reid:\n  lr: 1\n  milestones: [4, 8]\n  center_weight: 0\n"))
    assert [type(config.reid.lr), type(config.reid.center_weight), config.reid.milestones] == [float, float, (4, 8)]


@pytest.mark.parametrize("text, message", [
    ("synthetic:\n  train_identites: 20\n", "2:3: unknown setting 'synthetic.train_identites' (known: "
                                            "background_saturation, cameras, "),
    ("synthetic:\n  train_identities: many\n",
     "2:21: synthetic.train_identities: Input should be a valid integer, got 'many'"),
    ("synthetic:\n  train_identities: true\n", "2:21: synthetic.train_identities: Input should be a valid integer, "
                                               "got True"),
    ("reid:\n  epochs: 2.0\n", "2:11: reid.epochs: Input should be a valid integer, got 2.0"),
    ("reid:\n  pretrained: 1\n", "2:15: reid.pretrained: Input should be a valid boolean, got 1"),
    ("synthetic:\n  train_images_per_identity: [3]\n",
     "2:30: synthetic.train_images_per_identity[1]: Field required, got [3]"),
    ("synthetic:\n  train_images_per_identity: [5, 3]\n",
     "2:30: synthetic.train_images_per_identity: must be [low, high] with 2 <= low <= high, got [5, 3]"),
    ("synthetic: [1, 2]\n", "1:12: synthetic: expected a mapping of settings, got [1, 2]"),
    ("- 1\n", "1:1: expected a mapping of settings, got [1]"),
    ("synthetic: {a: [\n", "2:1: not valid YAML (expected the node content, but found '<stream end>')"),
    ("synthetic:\n  cameras: 4\n   junk_images: 2\n", "3:15: not valid YAML (mapping values are not allowed here)"),
    ("reid:\n  lr: 0.1\n  lr: 0.2\n", "3:3: not valid YAML (duplicate key 'lr')"),
    ("reid:\n  1: 2\n", "2:3: a setting's name must be text, got 1"),
    ("zz: 1\n", "1:1: unknown setting 'zz' (known: augmentation, extends, generator_training, "),
    ("", " the config is empty"),
    ("# nothing but a comment\n", " the config is empty"),
])
def test_bad_config_names_file_line_and_column(tmp_path, text, message):
    path = write(tmp_path, text)
    assert refusal(path).startswith(f"{path}:{message}")


@pytest.mark.parametrize("text, message", [
    ("generator_training:\n  lr: -0.001\n", "2:7: generator_training.lr: Input should be greater than 0, got -0.001"),
    ("reid:\n  lr: .nan\n", "2:7: reid.lr: Input should be a finite number, got nan"),
    ("reid:\n  lr: .inf\n", "2:7: reid.lr: Input should be a finite number, got inf"),
    ("generator_training:\n  beta1: 1.5\n", "2:10: generator_training.beta1: Input should be less than 1, got 1.5"),
    ("reid:\n  momentum: 1\n", "2:13: reid.momentum: Input should be less than 1, got 1"),
    ("gfla_training:\n  lambda_style: -1\n",
     "2:17: gfla_training.lambda_style: Input should be greater than or equal to 0, got -1"),
    ("reid:\n  weight_decay: .nan\n", "2:17: reid.weight_decay: Input should be a finite number, got nan"),
    ("reid:\n  milestones: [70, 40]\n", "2:15: reid.milestones: must increase, got [70, 40]"),
    ("reid:\n  milestones: [40, 40]\n", "2:15: reid.milestones: must increase, got [40, 40]"),
    ("reid:\n  milestones: [0, 40]\n", "2:16: reid.milestones[0]: Input should be greater than or equal to 1, got 0"),
    ("reid:\n  random_erase: 2\n", "2:17: reid.random_erase: Input should be less than or equal to 1, got 2"),
    ("reid:\n  pad: -1\n", "2:8: reid.pad: Input should be greater than or equal to 0, got -1"),
    ("reid:\n  base_lr_mult: 0\n", "2:17: reid.base_lr_mult: Input should be greater than 0, got 0"),
    ("reid:\n  warmup_epochs: -1\n", "2:18: reid.warmup_epochs: Input should be greater than or equal to 0, got -1"),
    ("reid:\n  epochs: 0\n", "2:11: reid.epochs: Input should be greater than or equal to 1, got 0"),
    ("reid:\n  optimizer: sdg\n",
     "2:14: reid.optimizer: Input should be 'adam', 'amsgrad', 'sgd', 'rmsprop' or 'radam', got 'sdg'"),
    ("quality:\n  seed: -1\n", "2:9: quality.seed: Input should be greater than or equal to 0, got -1"),
    ("synthetic:\n  cameras: 10\n", "2:12: synthetic.cameras: Input should be less than or equal to 9, got 10"),
    ("generators:\n  pona: {dropout: 1}\n", "2:19: generators.pona.dropout: Input should be less than 1, got 1"),
    ("generators:\n  pona: {scale: 3}\n",
     "2:17: generators.pona.scale: must be 1, 2 or 4 (128x64 divided by it), got 3"),
    # checks across a section's settings point at the section's name
    ("reid:\n  model: resnet50\n  triplet_margin: 0.3\n", "1:1: reid: triplet_margin and center_weight need model "
                                                          "resnet50_bot (its BNNeck gives the feature they act on)"),
    ("generator_training:\n  iterations: 10\n  decay_iterations: 20\n",
     "1:1: generator_training: decay_iterations must be between 0 and iterations"),
])
def test_a_setting_out_of_its_range_is_refused_where_it_was_written(tmp_path, text, message):
    path = write(tmp_path, text)
    assert refusal(path) == f"{path}:{message}"


def test_configs_built_in_code_are_checked_too():
    with pytest.raises(ValueError) as refused:
        dataclasses.replace(ReidConfig(), random_erase=2.0)
    assert one_line(refused.value) == "random_erase: Input should be less than or equal to 1, got 2.0"
    with pytest.raises(ValueError) as refused:
        ReidConfig(pad=-1)
    assert one_line(refused.value) == "pad: Input should be greater than or equal to 0, got -1"


def test_yaml_is_loaded_safely(tmp_path):
    with pytest.raises(InputError, match="not valid YAML"):
        load_config(write(tmp_path, "synthetic: !!python/object/apply:os.system ['true']\n"))


def test_repository_configs_load():
    for path in sorted(CONFIGS.glob("*.yaml")):
        load_config(path)


def test_an_overlay_merges_over_its_base_setting_by_setting(tmp_path):
    write(tmp_path, "reid:\n  lr: 0.1\n  epochs: 5\n  milestones: [2, 4]\ngenerators:\n  pona: {ngf: 32, blocks: 2}\n"
                    "quality:\n  pairs: 7\n", "base.yaml")
    (tmp_path / "sub").mkdir()  # the base's path is relative to the overlay's folder
    overlay = write(tmp_path, "extends: ../base.yaml\nreid:\n  epochs: 7\n  milestones: [3]\n"
                              "generators:\n  pona: {blocks: 4}\nquality:\n", "sub/overlay.yaml")
    config = load_config(overlay)
    assert (config.reid.lr, config.reid.epochs, config.reid.milestones) == (0.1, 7, (3,))  # a list is replaced
    assert (config.generators.pona.ngf, config.generators.pona.blocks) == (32, 4)
    assert config.quality.pairs == 7  # an empty section changes nothing
    assert config.synthetic == SyntheticConfig()


def test_an_overlay_of_an_overlay_merges_in_order(tmp_path):
    write(tmp_path, "reid:\n  lr: 0.1\n  epochs: 5\n", "a.yaml")
    write(tmp_path, "extends: a.yaml\nreid:\n  epochs: 6\n  pad: 2\n", "b.yaml")
    config = load_config(write(tmp_path, "extends: b.yaml\nreid:\n  pad: 3\n", "c.yaml"))
    assert (config.reid.lr, config.reid.epochs, config.reid.pad) == (0.1, 6, 3)


def test_an_overlays_errors_name_the_file_that_wrote_the_value(tmp_path):
    base = write(tmp_path, "# the base\nreid:\n  lr: 0.1\n  pad: -2\n", "base.yaml")
    overlay = write(tmp_path, "extends: base.yaml\nreid:\n  lr: -1\n", "overlay.yaml")
    assert refusal(overlay) == f"{overlay}:3:7: reid.lr: Input should be greater than 0, got -1"
    overlay.write_text("extends: base.yaml\nreid:\n  lr: 1\n")
    assert refusal(overlay) == f"{base}:4:8: reid.pad: Input should be greater than or equal to 0, got -2"
    overlay.write_text("extends: base.yaml\nreid:\n  pad: 0\n  lrr: 1\n")
    assert refusal(overlay).startswith(f"{overlay}:4:3: unknown setting 'reid.lrr' (known: ")


def test_a_missing_base_a_cycle_and_a_base_that_is_no_name_are_refused(tmp_path):
    overlay = write(tmp_path, "extends: nowhere.yaml\n", "overlay.yaml")
    assert refusal(overlay) == f"{overlay}:1:10: extends: no config file {tmp_path / 'nowhere.yaml'}"
    a = write(tmp_path, "extends: b.yaml\n", "a.yaml")
    b = write(tmp_path, "reid:\n  lr: 0.1\nextends: a.yaml\n", "b.yaml")
    assert refusal(a) == f"{b}:3:10: extends: a cycle ({a} -> {b} -> {tmp_path / 'a.yaml'})"
    itself = write(tmp_path, "extends: ./itself.yaml\n", "itself.yaml")
    assert refusal(itself) == f"{itself}:1:10: extends: a cycle ({itself} -> {tmp_path / 'itself.yaml'})"
    listed = write(tmp_path, "extends: [a.yaml]\n", "listed.yaml")
    assert refusal(listed) == f"{listed}:1:10: extends: expected the path of a config file, got ['a.yaml']"
    nested = write(tmp_path, "reid:\n  extends: a.yaml\n", "nested.yaml")
    assert refusal(nested).startswith(f"{nested}:2:3: unknown setting 'reid.extends'")


def test_the_ide_and_bot_recipes_differ_from_market1501_only_in_their_reid_section():
    base = to_dict(load_config(CONFIGS / "market1501.yaml"))
    for name in ("market1501-ide.yaml", "market1501-bot.yaml"):
        overlay = to_dict(load_config(CONFIGS / name))
        assert overlay["reid"] != base["reid"]
        assert {**overlay, "reid": base["reid"]} == base | {"san_training": overlay["san_training"]}
    # the IDE file had no san_training: section before it extended market1501.yaml: its records keep the default
    assert load_config(CONFIGS / "market1501-ide.yaml").san_training.workers == 4


def test_the_digest_of_an_overlay_follows_its_base(tmp_path):
    base = write(tmp_path, "reid:\n  lr: 0.1\n", "base.yaml")
    overlay = write(tmp_path, "extends: base.yaml\nreid:\n  epochs: 7\n", "overlay.yaml")
    assert config_digest(base) == file_sha256(base)  # a file extending none: as before, the flow's caches stay
    before = config_digest(overlay)
    assert before != file_sha256(overlay)
    base.write_text("reid:\n  lr: 0.2\n")
    assert config_digest(overlay) != before
