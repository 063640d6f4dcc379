"""Training pairs by the published PATN / PoNA rule, and the `python -m augreid.pairs` CLI.

Rule: drop junk (`-1`) and distractor (`0000`) names and every image missing a shoulder or a hip; then every
ordered pair (condition, target) of two different images of the same identity. On the real Market-1501 train
annotation file this gives 263,632 pairs: 12,116 usable images of 745 identities (4 of them with one image only).
"""
from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import pandas as pd

from augreid.annotations import Annotations, read_annotations
from augreid.atomic import atomic_file
from augreid.errors import exit_on_input_error
from augreid.market import is_identity, parse_name
from augreid.pose import has_torso


def usable_for_pairs(annotations: Annotations) -> list[str]:
    """Names that may appear in a training pair: a real identity with both shoulders and both hips."""
    torso = has_torso(annotations.keypoints)
    return [name for name, ok in zip(annotations.names, torso) if ok and is_identity(parse_name(name).pid)]


def pairs_within_identities(names: list[str]) -> pd.DataFrame:
    """All ordered pairs of two different images of one identity: columns `from` (condition), `to` (target).

    Identities in ascending order, images in the given order within an identity.
    """
    by_pid: dict[int, list[str]] = defaultdict(list)
    for name in names:
        by_pid[parse_name(name).pid].append(name)
    rows = [(a, b) for pid in sorted(by_pid) for a in by_pid[pid] for b in by_pid[pid] if a != b]
    return pd.DataFrame(rows, columns=["from", "to"])


def training_pairs(annotations: Annotations) -> pd.DataFrame:
    """The published training pairs of an annotation file."""
    return pairs_within_identities(usable_for_pairs(annotations))


def write_pairs(path: str | Path, pairs: pd.DataFrame) -> None:
    with atomic_file(path) as tmp:
        pairs.to_csv(tmp, index=False, lineterminator="\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m augreid.pairs", description=__doc__.splitlines()[0])
    parser.add_argument("--annotations", required=True, type=Path, help="PATN-format train annotation CSV")
    parser.add_argument("--out", required=True, type=Path, help="pairs CSV to write (from,to)")
    args = parser.parse_args(argv)
    annotations = read_annotations(args.annotations)
    usable = usable_for_pairs(annotations)
    pairs = pairs_within_identities(usable)
    write_pairs(args.out, pairs)
    identities = len({parse_name(name).pid for name in usable})
    print(f"{len(pairs)} pairs from {len(usable)} usable of {len(annotations)} annotated images "
          f"({identities} identities) -> {args.out}")
    return 0


run = exit_on_input_error(main)

if __name__ == "__main__":
    run()
