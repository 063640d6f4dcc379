"""`python -m augreid.synthetic --out DIR [--seed N] [--config FILE]`: write the synthetic Market-1501 stand-in."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from augreid.config import SyntheticConfig, load_config
from augreid.core.cli import ArgumentParser, command, seed_number
from augreid.core.errors import InputError, one_line
from augreid.data.synthetic.dataset import build_synthetic_market


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m augreid.synthetic", description=__doc__.split(":")[1].strip())
    parser.add_argument("--out", required=True, type=Path, help="folder to create (Market-1501 layout)")
    parser.add_argument("--seed", type=seed_number, default=0, help="everything follows from it (default 0)")
    parser.add_argument("--config", type=Path, help="YAML file whose `synthetic:` section sets the sizes")
    parser.add_argument("--train-identities", type=int, help="override the config's train_identities")
    parser.add_argument("--test-identities", type=int, help="override the config's test_identities")
    parser.add_argument("--workers", type=int, help="rendering processes (default: up to 4, one per core)")
    args = parser.parse_args(argv)
    config = load_config(args.config).synthetic if args.config else SyntheticConfig()
    overrides = {k: v for k, v in (("train_identities", args.train_identities),
                                   ("test_identities", args.test_identities)) if v is not None}
    try:
        config = dataclasses.replace(config, **overrides)
    except ValueError as err:
        raise InputError(f"--train-identities / --test-identities: {one_line(err)}") from None
    summary = build_synthetic_market(args.out, config, seed=args.seed, workers=args.workers)
    counts = summary["counts"]
    verb = "already there, reused" if summary["reused"] else f"written in {summary['seconds']} s " \
        f"({summary['images_per_second']} images/s)"
    print(f"synthetic Market-1501 (seed {args.seed}) at {args.out}: {verb}")
    for split, c in counts.items():
        extra = f", {c['junk']} junk, {c['distractors']} distractors" if c["junk"] or c["distractors"] else ""
        print(f"  {split:8s} {c['images']:5d} images, {c['identities']:4d} identities{extra}")
    print("  annotations: market-annotation-train.csv, market-annotation-test.csv, market-annotation-query.csv")
    return 0


run = command(main)

if __name__ == "__main__":
    run()
