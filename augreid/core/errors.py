"""One error type for bad user input, and the CLI wrapper that turns it into exit status 2."""
from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, Callable, NoReturn

import pydantic


class InputError(Exception):
    """Bad input from the user: the message is one line naming what is wrong and where (file, line)."""


def one_line(error: BaseException) -> str:
    """The error's message on one line. torch re-raises an error of a DataLoader worker with the worker's whole
    traceback as its message; its last line is the original message, after the exception's qualified name.
    pydantic's (a config's setting out of range) lists each failed check on three lines: the first is enough."""
    if isinstance(error, pydantic.ValidationError):
        return invalid_value(error.errors()[0])
    lines = str(error).strip().splitlines() or [type(error).__name__]
    if len(lines) == 1:
        return lines[0]
    return lines[-1].split(": ", 1)[1] if lines[-1].startswith(f"{type(error).__module__}.") else lines[0]


def invalid_value(detail: Mapping[str, Any]) -> str:
    """One of pydantic's failed checks (an item of `ValidationError.errors()`) as `reid.lr: Input should be greater
    than 0, got -1`; a check of our own (a ValueError) says its own words, with the value where it helps."""
    own = detail["type"] == "value_error"
    what = str(detail["ctx"]["error"]) if own else f"{detail['msg']}, got {detail['input']!r}"
    where = setting_path(detail["loc"])
    return f"{where}: {what}" if where else what


def setting_path(loc: tuple[str | int, ...]) -> str:
    """Where pydantic's location tuple points, as messages write it: `synthetic.cameras`, `reid.milestones[1]`."""
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")


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
