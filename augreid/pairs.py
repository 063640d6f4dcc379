"""`python -m augreid.pairs --annotations CSV --out CSV`: training pairs by the published PATN / PoNA rule (`data/pairs.py`).

Rule: drop junk (`-1`) and distractor (`0000`) names and every image missing a shoulder or a hip; then every
ordered pair (condition, target) of two different images of the same identity. On the real Market-1501 train
annotation file this gives 263,632 pairs: 12,116 usable images of 745 identities (4 of them with one image only).
"""
from __future__ import annotations

from pathlib import Path

from augreid.core.cli import ArgumentParser, command
from augreid.core.output import check_output_file
from augreid.data.annotations import read_annotations
from augreid.data.market import parse_name
from augreid.data.pairs import pairs_within_identities, usable_for_pairs, write_pairs


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m augreid.pairs", description=__doc__.splitlines()[0])
    parser.add_argument("--annotations", required=True, type=Path, help="PATN-format train annotation CSV")
    parser.add_argument("--out", required=True, type=Path, help="pairs CSV to write (from,to)")
    args = parser.parse_args(argv)
    check_output_file(args.out)
    annotations = read_annotations(args.annotations)
    usable = usable_for_pairs(annotations)
    pairs = pairs_within_identities(usable)
    write_pairs(args.out, pairs)
    identities = len({parse_name(name).pid for name in usable})
    print(f"{len(pairs)} pairs from {len(usable)} usable of {len(annotations)} annotated images "
          f"({identities} identities) -> {args.out}")
    return 0


run = command(main)

if __name__ == "__main__":
    run()
