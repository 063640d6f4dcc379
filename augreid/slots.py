"""`python -m augreid.slots --data-root DIR --portions P ... [--factors K ...] --out DIR`: the images a study needs
from a generator that runs elsewhere, as inputs to its authors' own test script.

For each portion and seed it makes the choices `augreid.generate` makes (kept images, and for every missing image
its condition image and target pose), the same for each factor K (every image the condition of K-1 target poses),
and adds the test pairs that the quality table scores (the data root's
`market-pairs-test.csv`, else the config's seeded pairs). Each (condition, target) pair is one image to make.
They are written in the format the PATN-family test scripts read, one folder per batch:

    OUT/batch_1/test/                       condition images, and a stand-in for every target image
    OUT/batch_1/testK/NAME.npy              each image's pose heatmaps, as their loaders read them
    OUT/batch_1/market-annotation-test.csv  keypoints of both (PATN format)
    OUT/batch_1/market-pairs-test.csv       from,to
    OUT/slots.csv                           every pair: kind (slot or test), portion or factor, seed, batch
    OUT/export.json                         the inputs, counts and the stand-in rule

Those scripts also open the target image of each pair, which does not exist for a missing slot. Its stand-in is
a copy of the pair's condition image, so no real target can leak into a generated image; and since an image may
be a target in one pair and a condition in another, pairs are split into batches within which no target name is a
condition name. The heatmaps are what their `tool/generate_pose_map_market.py` would write from the annotations
(computed by `augreid.data.heatmap`), so their test script runs on a batch unchanged. Run it on each batch, gather the
generated images in one folder, and read them back with `augreid.generate --generator external:NAME --images DIR`
(and the flow's `external:NAME=DIR`).
"""
from __future__ import annotations

from pathlib import Path

from augreid.config import QUALITY_PAIRS, load_config
from augreid.core.cli import ArgumentParser, command, seed_number
from augreid.data.market import TEST_PAIRS
from augreid.study.slots import export_slots


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m augreid.slots", description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", required=True, type=Path, help="Market-1501-layout folder with keypoints")
    parser.add_argument("--out", required=True, type=Path, help="a new folder for the batches")
    parser.add_argument("--config", type=Path, help="YAML config: its augmentation and quality sections give the "
                                                    "defaults of --condition, --unposed and the test pairs")
    parser.add_argument("--portions", type=float, nargs="*", default=[0.2, 0.4, 0.6, 0.8],
                        help="kept portions p (none given: only the factors)")
    parser.add_argument("--factors", type=int, nargs="+", default=[], help="factors K of augmentation by K")
    parser.add_argument("--poses", nargs="+", metavar="MODE",
                        help="the factors' poses: pool, canonical N or rare [N] (default: the config's, else pool)")
    parser.add_argument("--seeds", type=seed_number, nargs="+", default=[0])
    parser.add_argument("--condition", help="nearest or random (default: the config's, else nearest)")
    parser.add_argument("--unposed", help="generate, copy or skip (default: the config's, else generate)")
    parser.add_argument("--no-test-pairs", action="store_true", help="leave out the quality table's test pairs")
    args = parser.parse_args(argv)
    config = load_config(args.config) if args.config else None
    summary = export_slots(
        args.data_root, args.out, args.portions, args.seeds,
        args.condition or (config.augmentation.condition if config else "nearest"),
        args.unposed or (config.augmentation.unposed if config else "generate"),
        config.quality.pairs if config else QUALITY_PAIRS, config.quality.seed if config else 0,
        not args.no_test_pairs,
        args.factors, " ".join(args.poses) if args.poses else config.augmentation.poses if config else "pool")
    counts, inputs = summary["counts"], summary["inputs"]
    cells = (len(inputs["portions"]) + len(inputs["factors"])) * len(args.seeds)
    print(f"{summary['out']}: {counts['slots']} slots of {cells} cells "
          f"and {counts['test_pairs']} test pairs = {counts['images_to_make']} images to make, in "
          f"{counts['batches']} batch folders (test/, testK/, market-annotation-test.csv, {TEST_PAIRS}); every target "
          "image there is a stand-in, a copy of its pair's condition image")
    return 0


run = command(main)

if __name__ == "__main__":
    run()
