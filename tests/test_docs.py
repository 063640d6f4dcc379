"""The documentation's commands still run: every fenced code line of README.md and docs/**/*.md (and every inline
code span) that runs `python -m augreid.X`, `python -m flows.X` or the console form `augreid X` names a module whose
`--help` exits 0, and every long option (`--name`) that the line gives that command appears in that `--help`.
A flag that a command no longer has fails the suite here, not in a reader's terminal.

Each distinct module (or module and subcommand, e.g. `augreid.bench aa`) is asked for `--help` once. One subprocess,
started from the repository root with this interpreter, runs every module in turn as `python -m` runs it, so the
heavy imports (torch, torchreid, prefect) are paid once and the whole file takes seconds. Shell continuations (a
`\` at the end of a line) are joined first. README.md is also held to 200 lines."""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README_LINES = 200
FENCE = re.compile(r"^\s*(```|~~~)")
# a shell line's commands, each checked on its own; a `|` or `&` counts only between spaces (or at the end), so
# that `--generator pona|patn` and `2>&1` stay one command
SEPARATORS = re.compile(r"&&|\|\||;|\s\|(?=\s)|\s&(?=\s|$)")
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")  # `PREFECT_HOME=.prefect python -m ...`
LONG_OPTION = re.compile(r"(?<![\w-])--([A-Za-z][\w-]*)")
SUBCOMMANDS = re.compile(r"^usage: .*?\{([\w,-]+)\}", re.S)  # argparse's usage line of a parser with subparsers


@dataclass(frozen=True)
class Command:
    where: str  # file:line
    module: str  # augreid.generate, flows.serve
    words: tuple[str, ...]  # what follows the module, shell-split
    text: str  # the command as written

    @property
    def options(self) -> list[str]:
        return sorted(set(LONG_OPTION.findall(" ".join(self.words))))


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def logical_lines(lines: list[str]) -> list[tuple[int, str]]:
    """Lines with shell continuations (a `\\` at the end) joined, each with the number of its first line."""
    joined, start, parts = [], None, []
    for number, line in enumerate(lines, 1):
        stripped = line.rstrip()
        start = number if start is None else start
        if stripped.endswith("\\"):
            parts.append(stripped[:-1])
            continue
        parts.append(stripped)
        joined.append((start, " ".join(p.strip() for p in parts)))
        start, parts = None, []
    if parts:
        joined.append((start, " ".join(p.strip() for p in parts)))
    return joined


def code_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of every fenced code line (continuations joined) and every inline code span."""
    fenced, prose, block, start = [], [], None, 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if FENCE.match(line):
            if block is None:
                block, start = [], number + 1
            else:
                fenced += [(start + n - 1, text) for n, text in logical_lines(block)]
                block = None
            prose.append((number, ""))
        elif block is not None:
            block.append(line)
        else:
            prose.append((number, line))
    text = "\n".join(line for _, line in prose)
    spans = [(prose[text.count("\n", 0, m.start())][0], " ".join(m.group(1).split()))
             for m in re.finditer(r"`([^`]+)`", text)]
    return fenced + spans


def commands_in(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """(module, words after it) of each augreid or flows command in one shell line."""
    found = []
    for segment in SEPARATORS.split(text):
        try:
            words = shlex.split(segment, comments=True)
        except ValueError:  # an unbalanced quote in prose: read it word by word
            words = segment.split("#")[0].split()
        while words and ASSIGNMENT.match(words[0]):
            words = words[1:]
        if not words:
            continue
        if words[0] == "augreid" and len(words) > 1 and re.fullmatch(r"[a-z_]+", words[1]):
            found.append((f"augreid.{words[1]}", tuple(words[2:])))
            continue
        for i, word in enumerate(words[:-2]):
            # a module named in lower case: `python -m augreid.STEP` is a placeholder, not a command
            if re.search(r"(^|/)python(3(\.\d+)?)?$", word) and words[i + 1] == "-m" \
                    and re.fullmatch(r"(augreid|flows)(\.[a-z_][a-z0-9_]*)*", words[i + 2]):
                found.append((words[i + 2], tuple(words[i + 3:])))
                break
    return found


def documented_commands() -> list[Command]:
    commands = []
    for path in doc_files():
        for number, text in code_lines(path):
            for module, words in commands_in(text):
                commands.append(Command(f"{path.relative_to(ROOT)}:{number}", module, words, text))
    return commands


COMMANDS = documented_commands()


# One subprocess answers every `--help`: it runs each module as `python -m` does (runpy, as __main__, with its
# sys.argv), so torch and the rest are imported once, not once per module. For a module whose parser has
# subcommands (`augreid.bench`), it then asks each subcommand the docs name.
HELPER = r"""
import contextlib, io, json, re, runpy, sys, traceback

def run(words):
    out, code = io.StringIO(), 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        sys.argv = [words[0], *words[1:], "--help"]
        try:
            runpy.run_module(words[0], run_name="__main__", alter_sys=True)
        except SystemExit as stop:
            code = 0 if stop.code is None else stop.code if isinstance(stop.code, int) else 1
        except BaseException:
            traceback.print_exc()
            code = 1
    return [code, out.getvalue()]

found = {}
for module, candidates in json.load(sys.stdin).items():
    found[module] = run([module])
    choices = re.match(SUBCOMMANDS, found[module][1], re.S)
    for word in candidates:
        if choices and word in choices.group(1).split(","):
            found[module + " " + word] = run([module, word])
json.dump(found, sys.__stdout__)
"""


def first_positional(command: Command) -> str | None:
    return next((w for w in command.words if not w.startswith("-")), None)


@pytest.fixture(scope="module")
def helps() -> dict[str, tuple[int, str]]:
    """`--help` of every module the docs name (key: the module) and of every subcommand they name (key: `module
    subcommand`), asked once each, from the repository root with this interpreter."""
    wanted: dict[str, set[str]] = {}
    for command in COMMANDS:
        wanted.setdefault(command.module, set()).update({first_positional(command)} - {None})
    done = subprocess.run([sys.executable, "-c", f"SUBCOMMANDS = {SUBCOMMANDS.pattern!r}\n{HELPER}"], cwd=ROOT,
                          input=json.dumps({m: sorted(w) for m, w in wanted.items()}), capture_output=True,
                          text=True, timeout=600, env={**os.environ, "AUGREID_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    return {key: (code, text) for key, (code, text) in json.loads(done.stdout).items()}


def subcommand_of(command: Command, helps: dict[str, tuple[int, str]]) -> str | None:
    """The subcommand a line names (`augreid.bench aa ...`), when its module's parser has subcommands."""
    word = first_positional(command)
    return word if f"{command.module} {word}" in helps else None


def test_the_docs_name_commands_to_check():
    modules = {c.module for c in COMMANDS}
    assert {"augreid.generate", "augreid.reid", "flows.augment_and_evaluate"} <= modules, modules
    assert any(c.where.startswith("README.md:") for c in COMMANDS)


@pytest.mark.parametrize("command", COMMANDS, ids=[f"{c.where} {c.module}" for c in COMMANDS])
def test_documented_command_exists_with_its_options(command, helps):
    code, text = helps[command.module]
    assert code == 0, f"{command.where}: `python -m {command.module} --help` exited {code}:\n{text[-2000:]}"
    subcommand = subcommand_of(command, helps)
    if subcommand:
        code, text = helps[f"{command.module} {subcommand}"]
        assert code == 0, f"{command.where}: `{command.module} {subcommand} --help` exited {code}:\n{text[-2000:]}"
    known = set(LONG_OPTION.findall(text))
    unknown = [f"--{o}" for o in command.options if o not in known]
    assert not unknown, (f"{command.where}: {command.module}{' ' + subcommand if subcommand else ''} has no "
                         f"{', '.join(unknown)} (in: {command.text})")


def test_readme_is_a_front_door():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_LINES, f"README.md has {len(lines)} lines; at most {README_LINES} (move text to docs/)"


@pytest.mark.parametrize("text, expected", [
    ("python -m augreid.generate --portion 0.2 \\", None),
    ("PREFECT_HOME=.prefect .venv/bin/python -m flows.augment_and_evaluate --seeds 0 1  # --not-this",
     [("flows.augment_and_evaluate", ("--seeds", "0", "1"))]),
    ("rm -rf x; python -m augreid.generate --portion 0.4 --out x", [("augreid.generate", ("--portion", "0.4", "--out",
                                                                                          "x"))]),
    ("augreid generate --help", [("augreid.generate", ("--help",))]),
    (".venv/bin/prefect work-pool create augreid --type process", []),
    ("python -m augreid.STEP ARGS...", []),
])
def test_commands_are_found_in_a_line(text, expected):
    if expected is None:  # a continued line is joined first
        ((_, joined),) = logical_lines([text, "    --seed 3"])
        assert commands_in(joined) == [("augreid.generate", ("--portion", "0.2", "--seed", "3"))]
    else:
        assert commands_in(text) == expected
