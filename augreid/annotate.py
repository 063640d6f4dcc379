"""`python -m augreid.annotate --data-root DIR [--splits ...] [--overwrite] [--masks]`: keypoints, person masks and
body-part maps for the images of a Market-1501-layout folder (Market-1501, DukeMTMC-reID, a lab's own), offline.

Writes the PATN-format keypoint file of each split (`market-annotation-train.csv`, `-test.csv`, `-query.csv`) with
a row for every image that has none, estimated by BlazePose (`data/blazepose.py`); the rows already there
(the published files') are kept, `--overwrite` estimates them all anew. A joint BlazePose is unsure of (visibility
below 0.5) is -1. An image in which no person is found gets a row of -1 (as the published files have for the
images OpenPose missed), and is reported and counted. With `--masks`, also `<root>/masks/<split folder>/<name>.png`
(the person, 0 or 255) and `<root>/parts/<split folder>/<name>.png` (Pascal-Person-Part labels 0-6, drawn from the
mask and the image's keypoints: `data/semantic.py`), both 64x128 as the keypoints.

Resumable: the keypoint file is saved every SAVE_EVERY images (atomically), and masks already written are kept, so
running the same command again after an interruption goes on where it stopped. Deterministic: the same image gives
the same keypoints and mask.
"""
from __future__ import annotations

from pathlib import Path

from augreid.core.cli import ArgumentParser, command
from augreid.data.market import SPLIT_DIRS
from augreid.data.pose_estimation import annotate, report_lines


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m augreid.annotate", description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", required=True, type=Path, help="Market-1501-layout folder")
    parser.add_argument("--splits", nargs="+", choices=list(SPLIT_DIRS), help="default: every split folder there")
    parser.add_argument("--overwrite", action="store_true", help="estimate every image anew, published rows too")
    parser.add_argument("--masks", action="store_true", help="also write person masks and body-part maps")
    args = parser.parse_args(argv)
    result = annotate(args.data_root, args.splits, args.overwrite, args.masks)
    for line in report_lines(result):
        print(line)
    return 0


run = command(main)

if __name__ == "__main__":
    run()
