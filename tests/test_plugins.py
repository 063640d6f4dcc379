"""A generator from another package: the example plugin (examples/augreid-flip), installed offline, by name."""
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from augreid.core.errors import InputError
from augreid.data.images import load_image
from augreid.evaluation.quality import evaluate
from augreid.protocol.augmented_set import augment
from augreid.sources.plugins import load_plugin, plugin_names
from augreid.sources.source import parse_generator


def _env(plugin_dir) -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin_dir), os.environ.get("PYTHONPATH", "")])}


def test_the_installed_plugin_is_a_generator_name(flip_plugin):
    assert "flip" in plugin_names()
    assert parse_generator("flip").kind == "plugin"
    with pytest.raises(InputError, match=r"unknown generator 'vunet' \(built in: pona, patn, aps, gfla, san; installed "
                                         r"plugins: .*flip"):
        parse_generator("vunet")
    with pytest.raises(InputError, match="refused to load .*flip has no weights"):
        load_plugin("flip", "weights.pt", "cpu")


def test_the_plugin_fills_a_set_and_is_scored(flip_plugin, small_synthetic, tmp_path):
    summary = augment(0.5, small_synthetic, "flip", out=tmp_path / "aug", progress=False)
    manifest = pd.read_csv(tmp_path / "aug" / "manifest.csv")
    generated = manifest[manifest["source"] == "generated"]
    assert summary["counts"]["generated_now"] == len(generated) > 0 and set(generated["generator"]) == {"flip"}
    assert summary["inputs"]["source"]["kind"] == "plugin" and len(summary["inputs"]["source"]["sha256"]) == 64
    differences = []
    for row in generated.itertuples():
        made = load_image(tmp_path / "aug" / "bounding_box_train" / row.name).astype(int)
        condition = load_image(small_synthetic / "bounding_box_train" / row.condition).astype(int)
        differences.append(min(np.abs(made - condition).mean(), np.abs(made - condition[:, ::-1]).mean()))
    assert max(differences) < 4  # each is its condition, mirrored or not (one JPEG encoding apart)
    result = evaluate(small_synthetic, parse_generator("flip"), tmp_path / "q", count=12, seed=3)
    assert result["generator"] == "flip" and result["pairs"] == 12 and 0 < result["ssim"] < 1


def test_the_plugin_runs_by_name_from_the_command_line(flip_plugin, small_synthetic, tmp_path):
    done = subprocess.run([sys.executable, "-m", "augreid.generate", "--portion", "0.5", "--data-root",
                           str(small_synthetic), "--generator", "flip", "--out", str(tmp_path / "aug")],
                          capture_output=True, text=True, env=_env(flip_plugin))
    assert done.returncode == 0 and "flip = " in done.stdout, done.stderr
    unknown = subprocess.run([sys.executable, "-m", "augreid.generate", "--portion", "0.5", "--data-root",
                              str(small_synthetic), "--generator", "vunet", "--out", str(tmp_path / "x")],
                             capture_output=True, text=True)
    assert unknown.returncode == 2 and "unknown generator 'vunet'" in unknown.stderr and not (tmp_path / "x").exists()


class _Point:
    """An entry point whose target raises on import, or returns a callable that raises while drawing."""

    def __init__(self, on_import: bool):
        self.on_import, self.value = on_import, "broken_plugin:load"

    def load(self):
        if self.on_import:
            raise RuntimeError("the plugin's module failed")
        return lambda checkpoint, device: (lambda *arrays: 1 / 0)


def test_a_plugin_failing_on_import_or_while_drawing_is_named_in_one_line(monkeypatch):
    import numpy as np
    import torch

    from augreid.core.errors import InputError
    from augreid.sources import plugins

    monkeypatch.setattr(plugins, "_entry_points", lambda: {"broken": _Point(on_import=True)})
    with pytest.raises(InputError, match=r"^generator 'broken': cannot load broken_plugin:load \(RuntimeError: the "
                                         r"plugin's module failed\)$"):
        plugins.load_plugin("broken", None, torch.device("cpu"))
    monkeypatch.setattr(plugins, "_entry_points", lambda: {"broken": _Point(on_import=False)})
    transfer = plugins.load_plugin("broken", None, torch.device("cpu"))
    with pytest.raises(InputError, match=r"^generator 'broken': broken_plugin:load failed while drawing "
                                         r"\(ZeroDivisionError: division by zero\)$"):
        transfer(np.zeros((1, 128, 64, 3), np.uint8), np.zeros((1, 18, 2)), np.zeros((1, 18, 2)))
