import subprocess
import sys

import torch

from augreid.core.compat import import_torchvision, torchvision_extension_loads


def test_torchvision_imports_and_builds_the_models_augreid_uses():
    torchvision = import_torchvision()
    resnet = torchvision.models.resnet50()
    assert resnet(torch.zeros(1, 3, 64, 32)).shape == (1, 1000)
    vgg = torchvision.models.vgg19()
    assert vgg.features[2].out_channels == 64  # conv1_2, the perceptual-loss layer


def test_shim_is_what_makes_the_import_work_when_the_extension_cannot_load():
    plain = subprocess.run([sys.executable, "-c", "import torchvision"], capture_output=True, text=True)
    shimmed = subprocess.run(
        [sys.executable, "-c", "from augreid.core.compat import import_torchvision as i; print(i().__version__)"],
        capture_output=True, text=True)
    assert shimmed.returncode == 0, shimmed.stderr
    if torchvision_extension_loads():  # a matching CUDA install: nothing to fix, both ways work
        assert plain.returncode == 0
    else:
        assert "torchvision::nms does not exist" in plain.stderr
        assert shimmed.stdout.startswith("0.28.0")
