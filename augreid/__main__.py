"""`augreid STEP [ARGS...]` and `python -m augreid STEP [ARGS...]`: run `python -m augreid.STEP ARGS...`, with the
same arguments, output and exit status.

Only the chosen step is imported, and by its module name alone, so `augreid --help` answers at once (no torch) and
the dispatcher does not care in which file a step lives.
"""
from __future__ import annotations

import importlib
import sys
from types import ModuleType

# The steps in a study's order, each with its line for `augreid --help`. A step is the module `augreid.NAME` with
# `main(argv)`, or the package `augreid.NAME` whose __main__.py has it, as `python -m` finds it.
STEPS = {
    "synthetic": "write the synthetic Market-1501 stand-in",
    "annotate": "keypoints, person masks and body-part maps for a Market-1501-layout folder",
    "pairs": "training pairs by the published PATN / PoNA rule",
    "train_generator": "train a pose-transfer GAN (pona, patn, aps, gfla, san)",
    "convert": "the authors' published generator weights as an augreid generator.pt",
    "generate": "an augmented training set (--portion P or --factor K)",
    "slots": "the images a study needs from a generator that runs elsewhere",
    "quality": "generation quality on held-out test pairs (SSIM, mask-SSIM, PSNR, PCKh, identity)",
    "reid": "a torchreid re-ID baseline: train, then rank query against gallery",
    "bench": "speed of generators, re-ID training and the pose estimator; A/A calibration",
}
PROG = "augreid"


def usage() -> str:
    width = max(map(len, STEPS))
    lines = [f"usage: {PROG} STEP [ARGS...]   (the same: python -m augreid STEP [ARGS...])", "",
             "Runs `python -m augreid.STEP ARGS...`; `augreid STEP --help` shows a step's options.", "", "steps:"]
    lines += [f"  {name:{width}}  {line}" for name, line in STEPS.items()]
    return "\n".join(lines)


def step_module(name: str) -> ModuleType:
    """The module whose `main` runs the step, imported on demand."""
    module = importlib.import_module(f"augreid.{name}")
    if hasattr(module, "__path__"):  # a package: `python -m` runs its __main__
        module = importlib.import_module(f"augreid.{name}.__main__")
    return module


def exit_status(code: object) -> int:
    """sys.exit's argument as the process's exit status, as Python's own exit turns it into one."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] in (["-h"], ["--help"]):
        print(usage())
        return 0
    if args[:1] == ["--version"]:
        from augreid import __version__

        print(f"{PROG} {__version__}")
        return 0
    if not args:
        print(f"error: {PROG}: a step is required, one of {', '.join(STEPS)} (see --help)", file=sys.stderr)
        return 2
    name, rest = args[0], args[1:]
    if name not in STEPS:
        print(f"error: {PROG}: unknown step '{name}', choose one of {', '.join(STEPS)} (see --help)", file=sys.stderr)
        return 2
    from augreid.core.cli import command

    # the wrapper that each step's `python -m` runs (`run = command(main)`): torch's threads fitted, InputError
    # one `error: ...` line and status 2; it always ends in SystemExit, argparse's --help and refusals too
    run = command(step_module(name).main)
    try:
        run(rest)
    except SystemExit as stop:
        return exit_status(stop.code)
    raise AssertionError("command's run() returned")


if __name__ == "__main__":
    sys.exit(main())
