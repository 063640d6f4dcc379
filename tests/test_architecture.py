"""The import contracts of pyproject.toml (import-linter): kept by the code as it is, and broken by one sideways
import, so that a contract cannot pass by checking nothing."""
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})


def test_the_code_keeps_every_import_contract():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert result.stdout.count(" KEPT") == 3


def test_a_sideways_import_between_sibling_packages_breaks_the_layers(tmp_path):
    copy = tmp_path / "checkout"
    copy.mkdir()
    for name in ("augreid", "flows"):
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy)
    train = copy / "augreid" / "reid" / "train.py"  # re-ID and the sources are independent siblings
    train.write_text(train.read_text() + "\nfrom augreid.sources import external  # noqa: E402,F401\n")
    result = lint_imports(copy)
    assert result.returncode == 1
    assert "augreid.reid is not allowed to import augreid.sources" in result.stdout
    assert "augreid.reid.train -> augreid.sources.external" in result.stdout
