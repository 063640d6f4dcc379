"""What every command line shares: refusals in one line (`error: ...`, exit status 2), argparse's own among them,
the checked types of its numbers, and torch's threads fitted to the machine."""
from __future__ import annotations

import argparse
import sys
from typing import Callable, NoReturn

from augreid.core.errors import exit_on_input_error
from augreid.core.threads import fit_threads


class ArgumentParser(argparse.ArgumentParser):
    """argparse, whose refusals (a missing flag, `--portion abc`) print one `error:` line naming the argument
    instead of a usage block; `--help` still prints the usage."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {self.prog}: {message} (see --help)", file=sys.stderr)
        sys.exit(2)


def seed_number(text: str) -> int:
    """A random seed: a whole number, 0 or more (numpy's generators take no negative seed)."""
    return _whole(text, 0, "a seed")


def positive_number(text: str) -> int:
    return _whole(text, 1, "a count")


def _whole(text: str, least: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} is a whole number, got '{text}'") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"{what} must be at least {least}, got {value}")
    return value


def command(main: Callable[[list[str] | None], int | None]) -> Callable[[list[str] | None], NoReturn]:
    """A step's entry point, `run = command(main)`: torch's threads fitted to the CPUs it may use
    (`core/threads.py`), then `main(argv)`; bad input is one `error:` line and exit status 2."""

    def fitted(argv: list[str] | None = None) -> int | None:
        fit_threads()
        return main(argv)

    return exit_on_input_error(fitted)
