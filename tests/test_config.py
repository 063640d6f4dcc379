import pytest

from augreid.config import SyntheticConfig, load_config, to_dict
from augreid.core.errors import InputError


def write(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_sections_load_into_typed_dataclasses(tmp_path):
    config = load_config(write(tmp_path, "synthetic:\n  train_identities: 20\n  train_images_per_identity: [3, 9]\n"))
    assert config.synthetic.train_identities == 20
    assert config.synthetic.train_images_per_identity == (3, 9)
    assert config.synthetic.test_identities == SyntheticConfig().test_identities
    assert to_dict(config.synthetic)["train_images_per_identity"] == [3, 9]


@pytest.mark.parametrize("text, message", [
    ("synthetic:\n  train_identites: 20\n", "unknown setting 'train_identites'"),
    ("synthetic:\n  train_identities: many\n", r"synthetic.train_identities: expected int, got 'many'"),
    ("synthetic:\n  train_identities: true\n", "expected int, got True"),
    ("synthetic:\n  train_images_per_identity: [3]\n", "expected a list of 2 values"),
    ("synthetic:\n  train_images_per_identity: [5, 3]\n", "2 <= low <= high"),
    ("synthetic: [1, 2]\n", "expected a mapping"),
    ("synthetic: {a: [\n", "not valid YAML"),
    ("synthetic:\n  cameras: 4\n   junk_images: 2\n", r":3:\d+: not valid YAML \(mapping values are not allowed here\)"),
    ("", "the config is empty"),
    ("# nothing but a comment\n", "the config is empty"),
])
def test_bad_config_names_file_and_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(InputError, match=message) as caught:
        load_config(path)
    assert str(caught.value).startswith(str(path))


def test_yaml_is_loaded_safely(tmp_path):
    with pytest.raises(InputError, match="not valid YAML"):
        load_config(write(tmp_path, "synthetic: !!python/object/apply:os.system ['true']\n"))


def test_repository_configs_load():
    from pathlib import Path

    for path in sorted((Path(__file__).parents[1] / "configs").glob("*.yaml")):
        load_config(path)
