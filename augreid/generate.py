"""`python -m augreid.generate --portion P | --factor K`: an augmented training set, by either protocol of the field.

`--portion P` (the PoNA paper's Section IV-D, Table VI):
Keeps a portion p of each identity's training images and fills every missing slot: with a generator (`pona`,
`patn`, `aps`, `gfla`, a plugin's model, or `external:NAME` images made elsewhere: `generators/source.py`),
conditioned on a kept image of the same identity and the missing image's pose, or with a
control (`none`: the reduced set alone; `duplicate`: the condition image itself, the same count without pose transfer;
`real`: the original image, the upper bound). Writes a Market-1501-layout folder (`bounding_box_train/` = kept +
filled images, `bounding_box_test/` and `query/` linked from the source), its annotation files, `manifest.csv`
(one row per training image) and `summary.json`.
`--factor K` (SAN's Section 5, PN-GAN; `factor.py`): keeps every training image and adds K-1 images of its person,
each conditioned on it, in poses from the training set's pool, its N canonical poses, or drawn against its pose
density (`rare`, `--poses`); `duplicate` adds K-1 copies of the image itself and `none` is the original set. The
summary holds the entropy of the pose clusters' occupancy, before and after (`pose_entropy.py`).
`--filter RULE --filter-model RUN` (`protocol/identity_filter.py`): builds the generator's set (at `--unfiltered`),
then keeps only its generated images that pass the identity filter under the re-ID run RUN (`augreid.reid`'s
folder; it must not have trained on an image the set removed: the `none` set's run of the same p and seed) in
`--out`, the others left out or copied from their condition (`--filter-fill`).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from augreid.config import parse_poses
from augreid.core.cli import ArgumentParser, command, seed_number
from augreid.core.errors import InputError
from augreid.protocol.augmented_set import CONTROLS, DEMO_ROOT, augment
from augreid.protocol.filtered_set import filter_set
from augreid.protocol.identity_filter import FILLS, RULE_HELP, FilterRule, parse_rule
from augreid.protocol.plan import unposed_line
from augreid.protocol.pose_entropy import entropy_line
from augreid.sources.external import EXTERNAL_PREFIX, PRESETS
from augreid.sources.source import parse_generator


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m augreid.generate", description=__doc__.splitlines()[0])
    parser.add_argument("--portion", type=float, help="Table VI's protocol: the portion p of each identity's images kept, "
                                                      "in (0, 1]; the missing ones filled")
    parser.add_argument("--factor", type=int, help="the other protocol: every image kept and K-1 added per image, "
                                                   "K >= 2 (not with --portion)")
    parser.add_argument("--poses", nargs="+", default=["pool"], metavar="MODE",
                        help="--factor's target poses: pool (default: drawn from the training poses of other images) "
                             "or canonical N (N k-means canonical poses, in turn) or rare [N] (drawn inversely to "
                             "the size of their cluster among N k-means clusters x 3 views, default 8)")
    parser.add_argument("--data-root", type=Path, default=DEMO_ROOT / "data", help="Market-1501-layout source")
    parser.add_argument("--generator", default="pona",
                        help="pona, patn, aps, gfla, san, an installed plugin's name, external:NAME (with --images), "
                             f"or a control: {', '.join(CONTROLS)} (default pona)")
    parser.add_argument("--checkpoint", type=Path, help="generator.pt (default: the demo generator), or the plugin's")
    parser.add_argument("--images", type=Path, help="external:NAME: the folder of images made elsewhere")
    parser.add_argument("--pattern", help="external:NAME: file names, with {from} and {to} (the names without .jpg), or a "
                                          f"preset: {', '.join(PRESETS)} (default: the preset named NAME, else plain)")
    parser.add_argument("--panel", type=int, default=-1, help="external:NAME: the panel of a strip that holds the "
                                                              "generated image (default -1, the last)")
    parser.add_argument("--resize", action="store_true",
                        help="external:NAME: resize single images of another size to 128x64 (a strip must have its "
                             "preset's size)")
    parser.add_argument("--seed", type=seed_number, default=0, help="which images are kept, random conditions")
    parser.add_argument("--out", type=Path, help="output folder (default outputs/demo/augmented/GEN_pP_sS, or GEN_kK_POSES_sS)")
    parser.add_argument("--condition", default="nearest", help="--portion: nearest (pose distance, default) or random")
    parser.add_argument("--unposed", default="generate",
                        help="--portion: a missing image without shoulders and hips: generate (default), copy the "
                             "condition, skip; --factor: an image without them: generate its K-1, copy it, skip")
    parser.add_argument("--filter", metavar="RULE", help=f"keep only generated images that pass the identity filter: "
                                                        f"{RULE_HELP}")
    parser.add_argument("--filter-model", type=Path, metavar="RUN",
                        help="--filter: the augreid.reid run that scores them (the none set's run of the same p and "
                             "seed; by a factor, the full set's)")
    parser.add_argument("--filter-fill", choices=FILLS, default="empty",
                        help="--filter: a failing image's slot left empty (default) or filled with its condition image")
    parser.add_argument("--unfiltered", type=Path, help="--filter: where the generator's own set goes (default: "
                                                        "OUT_unfiltered, or the default --out without --out)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        raise InputError(f"--batch-size {args.batch_size}: must be at least 1")
    generator = args.generator
    if generator.startswith(EXTERNAL_PREFIX):
        spec = parse_generator(generator, CONTROLS)
        generator = dataclasses.replace(spec, path=str(args.images) if args.images else spec.path,
                                        pattern=args.pattern, panel=args.panel, resize=args.resize)
    elif args.images or args.pattern or args.resize:
        raise InputError("--images, --pattern and --resize go with --generator external:NAME")
    if args.factor is None and args.poses != ["pool"]:
        raise InputError("--poses goes with --factor K")
    rule = check_filter(args)
    unfiltered_out = args.out if rule is None else args.unfiltered or (
        args.out.with_name(f"{args.out.name}_unfiltered") if args.out else None)
    summary = augment(args.portion, args.data_root, generator, args.checkpoint, args.seed, unfiltered_out,
                      args.condition, args.batch_size, args.device, unposed=args.unposed, factor=args.factor,
                      poses=parse_poses(args.poses))
    counts, inputs = summary["counts"], summary["inputs"]
    speed = f", {summary['images_per_second']} images/s on {summary['device']}" if summary["images_per_second"] else ""
    poses = f", poses: {inputs['poses']}" if "poses" in inputs else ""
    added = (f"{counts['filled']} {inputs['generator']} (K = {inputs['factor']}{poses})" if "factor" in inputs
             else f"{counts['filled']} {inputs['generator']}")
    print(f"{summary['out']}: {counts['identities']} identities, {counts['kept']} kept + {added} = "
          f"{counts['training_images']} training images (original {counts['original']}); "
          f"generated {counts['generated_now']} now in {summary['generation_seconds']} s{speed}; verified")
    print(unposed_line(summary["unposed"]))
    if summary.get("pose_clusters"):
        print(entropy_line(summary["pose_clusters"]))
    if rule is not None:
        out = args.out or Path(f"{summary['out']}+{rule}_{args.filter_fill}")
        filtered = filter_set(summary["out"], args.filter_model, rule, args.filter_fill, out, args.device)
        counts = filtered["filter"]
        print(f"{filtered['out']}: identity filter {rule} under {args.filter_model}: filtered {counts['filtered']} of "
              f"{counts['scored']} generated images (mean score {counts['mean_score']}), slots {args.filter_fill}: "
              f"{filtered['counts']['training_images']} training images")
    return 0


def check_filter(args) -> FilterRule | None:
    """The identity filter's rule, its options checked before anything is generated."""
    if args.filter is None:
        if args.filter_model or args.unfiltered or args.filter_fill != "empty":
            raise InputError("--filter-model, --filter-fill and --unfiltered go with --filter RULE")
        return None
    rule = parse_rule(args.filter)
    if args.generator in CONTROLS:
        raise InputError(f"--filter: the identity filter scores generated images; --generator {args.generator} has none")
    if args.filter_model is None:
        raise InputError("--filter needs --filter-model RUN (the none set's augreid.reid run of the same p and seed)")
    run = args.filter_model.parent if args.filter_model.name == "model.pt" else args.filter_model
    if not (run / "model.pt").is_file():
        raise InputError(f"--filter-model {args.filter_model}: not an augreid.reid run (no model.pt)")
    return rule


run = command(main)

if __name__ == "__main__":
    run()
