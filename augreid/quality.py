"""`python -m augreid.quality --data-root DIR --checkpoint FILE [--pairs CSV] [--reid-model RUN] --out DIR`.

Any generator of `generators/source.py` instead of a checkpoint: `--generator NAME [--checkpoint FILE]` (a
plugin), `--generator external:NAME --images DIR` (images made elsewhere for the test pairs).

Generation quality on held-out test pairs (the published `market-pairs-test.csv` format, `from,to`; without it,
pairs drawn with a seed from the test identities by the training pair rule): SSIM (Gaussian window, sigma 1.5),
mask-SSIM (both images multiplied by the body mask drawn from the target keypoints) and PSNR of generated against
real target images, each a mean over pairs, beside the "copy the condition image" baseline on the same pairs.
With `--reid-model` (an `augreid.reid` run trained on the real training set), the identity score: rank-1 and mAP
of the generated images as queries against the real gallery, beside the real targets' and the copies'
(`augreid/reid/identity.py`). PCKh (`metrics/pckh.py`): BlazePose's keypoints of the generated image, of the real
target (the estimator's own ceiling) and of the condition image (the copy), against the target's keypoints; BlazePose
is not the papers' OpenPose, so these are augreid's own scale. Metrics that need pretrained networks augreid does
not have (IS, FID, LPIPS) are reported as not computed, with the reason, never as a number. Writes `quality.json` and `gallery.png` (condition | target pose |
generated | real for a fixed sample of pairs).
"""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from augreid.config import QUALITY_PAIRS
from augreid.core.cli import ArgumentParser, command, seed_number
from augreid.core.errors import InputError
from augreid.evaluation.quality import evaluate, identity_summary, pckh_summary, quality_table
from augreid.sources.external import PRESETS
from augreid.sources.source import GeneratorSpec, checkpoint_spec, parse_generator


def cli_generator(args: argparse.Namespace) -> GeneratorSpec:
    """The generator that --checkpoint, --generator and the external options name."""
    if args.generator is None:
        if args.checkpoint is None:
            raise InputError("--checkpoint or --generator is required")
        return checkpoint_spec(args.checkpoint)
    spec = parse_generator(args.generator)
    if spec.kind == "external":
        return dataclasses.replace(spec, path=str(args.images) if args.images else spec.path, pattern=args.pattern,
                                   panel=args.panel, resize=args.resize)
    return dataclasses.replace(spec, path=str(args.checkpoint) if args.checkpoint else spec.path)


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m augreid.quality", description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", required=True, type=Path, help="Market-1501-layout folder with test keypoints")
    parser.add_argument("--checkpoint", type=Path, help="generator.pt from augreid.train_generator (or augreid.convert), "
                                                        "or a plugin's checkpoint")
    parser.add_argument("--generator", help="an installed plugin's name, or external:NAME with --images (default: "
                                            "the generator of --checkpoint)")
    parser.add_argument("--images", type=Path, help="external:NAME: the folder of images made elsewhere")
    parser.add_argument("--pattern", help=f"external:NAME: file names with {{from}} and {{to}}, or a preset: "
                                          f"{', '.join(PRESETS)}")
    parser.add_argument("--panel", type=int, default=-1, help="external:NAME: the panel of a strip (default -1)")
    parser.add_argument("--resize", action="store_true", help="external:NAME: resize single images of another size")
    parser.add_argument("--pairs", type=Path, help="test pairs CSV (from,to), e.g. market-pairs-test.csv")
    parser.add_argument("--count", type=int, default=QUALITY_PAIRS, help="pairs to draw without --pairs")
    parser.add_argument("--seed", type=seed_number, default=0)
    parser.add_argument("--reid-model", type=Path,
                        help="an augreid.reid run (folder or its model.pt) trained on the real training set: adds the "
                             "identity score")
    parser.add_argument("--out", required=True, type=Path, help="folder for quality.json and gallery.png")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    args = parser.parse_args(argv)
    if args.count < 1:
        raise InputError(f"--count {args.count}: must be at least 1")
    result = evaluate(args.data_root, cli_generator(args), args.out, args.pairs, args.count, args.seed, args.device,
                      args.reid_model)
    print(quality_table({result["generator"]: result}), end="")
    for line in pckh_summary({result["generator"]: result}) + identity_summary({result["generator"]: result}):
        print(line)
    print(f"{result['pairs']} pairs in {result['seconds']} s ({result['pairs_per_second']} pairs/s on "
          f"{result['device']}) -> {args.out / 'quality.json'}, {args.out / 'gallery.png'}")
    return 0


run = command(main)

if __name__ == "__main__":
    run()
