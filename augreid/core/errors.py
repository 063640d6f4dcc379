"""One error type for bad user input, and the CLI wrapper that turns it into exit status 2."""
from __future__ import annotations

import sys
from typing import Callable, NoReturn


class InputError(Exception):
    """Bad input from the user: the message is one line naming what is wrong and where (file, line)."""


def one_line(error: BaseException) -> str:
    """The error's message on one line. torch re-raises an error of a DataLoader worker with the worker's whole
    traceback as its message; its last line is the original message, after the exception's qualified name."""
    lines = str(error).strip().splitlines() or [type(error).__name__]
    if len(lines) == 1:
        return lines[0]
    return lines[-1].split(": ", 1)[1] if lines[-1].startswith(f"{type(error).__module__}.") else lines[0]


def exit_on_input_error(main: Callable[[list[str] | None], int | None]) -> Callable[[list[str] | None], NoReturn]:
    """Wrap a CLI `main(argv)`: InputError prints `error: ...` on stderr and exits 2; success exits 0."""

    def run(argv: list[str] | None = None) -> NoReturn:
        try:
            code = main(argv)
        except InputError as err:
            print(f"error: {one_line(err)}", file=sys.stderr)
            sys.exit(2)
        sys.exit(code or 0)

    return run
