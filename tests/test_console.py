"""`augreid STEP ...` and `python -m augreid STEP ...` (augreid/__main__.py) are `python -m augreid.STEP ...`: the
same arguments, output and exit status; `--help` lists the steps, one line each; no step or an unknown one is
refused in one `error:` line with status 2."""
import subprocess
import sys
import types
from pathlib import Path

import pytest

from augreid import __main__ as console
from augreid.core.errors import InputError

ROOT = Path(__file__).parents[1]


def test_help_lists_every_step_on_one_line(capsys):
    assert console.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: augreid STEP")
    steps = [line.split(maxsplit=1) for line in out.splitlines() if line.startswith("  ")]
    assert [name for name, _ in steps] == list(console.STEPS)
    assert all(description.strip() for _, description in steps)


def test_every_step_is_a_module_with_main():
    for name in console.STEPS:
        assert callable(getattr(console.step_module(name), "main", None)), name
    # a package's `main` is in its __main__.py, where `python -m augreid.reid` finds it
    assert console.step_module("reid").__name__ == "augreid.reid.__main__"


@pytest.mark.parametrize("argv", [[], ["frob"], ["--frob", "generate"]])
def test_no_step_or_an_unknown_one_is_refused_in_one_line(argv, capsys):
    assert console.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: augreid: ") and captured.err.count("\n") == 1, captured.err


def fake_step(monkeypatch, main) -> None:
    module = types.ModuleType("augreid.fake")
    module.main = main
    monkeypatch.setitem(sys.modules, "augreid.fake", module)
    monkeypatch.setitem(console.STEPS, "fake", "a step of the tests")


def test_a_step_gets_the_arguments_as_given_and_gives_the_exit_status(monkeypatch):
    seen = []
    fake_step(monkeypatch, lambda argv: seen.append(argv) or 3)
    assert console.main(["fake", "--help", "x", "--"]) == 3
    assert seen == [["--help", "x", "--"]]
    fake_step(monkeypatch, lambda argv: None)
    assert console.main(["fake"]) == 0


def test_a_steps_refusal_is_its_one_error_line_and_status_2(monkeypatch, capsys):
    def refuse(argv):
        raise InputError("x.csv: annotation file does not exist")

    fake_step(monkeypatch, refuse)
    assert console.main(["fake"]) == 2
    assert capsys.readouterr().err == "error: x.csv: annotation file does not exist\n"


def test_a_real_step_help_and_argparse_refusal(capsys):
    assert console.main(["pairs", "--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: python -m augreid.pairs")
    assert console.main(["pairs", "--out", "x.csv"]) == 2
    assert capsys.readouterr().err.startswith("error: python -m augreid.pairs: the following arguments are required")


def launchers() -> list[list[str]]:
    """Each way to run the step `pairs`: as its own module, through `python -m augreid`, and through the console
    script where this environment has augreid installed (`make setup`, `pip install .`)."""
    ways = [[sys.executable, "-m", "augreid.pairs"], [sys.executable, "-m", "augreid", "pairs"]]
    script = Path(sys.executable).parent / "augreid"
    return ways + ([[str(script), "pairs"]] if script.exists() else [])


def test_every_launcher_gives_the_same_output_and_status(tmp_path):
    argv = ["--annotations", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "pairs.csv")]
    results = [subprocess.run([*launcher, *argv], capture_output=True, text=True, cwd=ROOT, timeout=120)
               for launcher in launchers()]
    assert {(r.returncode, r.stdout, r.stderr) for r in results} == {
        (2, "", f"error: {tmp_path / 'missing.csv'}: annotation file does not exist\n")}
    assert not (tmp_path / "pairs.csv").exists()


def test_help_imports_no_step_and_no_torch():
    code = ("import sys; from augreid.__main__ import STEPS, main; main(['--help']); "
            "print(sorted(m for m in sys.modules if m == 'torch' or m.removeprefix('augreid.') in STEPS))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"
