"""Every command line refuses bad arguments in one line, `error: ...`, with exit status 2: argparse's own refusals
and negative seeds alike."""
import subprocess
import sys
from pathlib import Path

import pytest

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
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, cwd=ROOT, timeout=120)


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
