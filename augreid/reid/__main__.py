"""`python -m augreid.reid --data-root DIR --config FILE --out DIR [--seed N]`: a torchreid re-ID baseline.

Trains the config's `reid:` model (ResNet-50 by default) with torchreid's softmax engine on
`bounding_box_train/` for the config's budget (`reid.budget`: epochs, or the full set's optimizer steps), then
ranks `query/` against `bounding_box_test/` under the Market-1501 protocol. `--generated-labels` sets the
identity targets of the images an augmented set added (`reid.generated_labels`: hard, smooth E or lsro). Writes
`metrics.json`, `per_query.csv` and `model.pt`.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from augreid.config import load_config, parse_label_policy
from augreid.core.cli import ArgumentParser, command, seed_number
from augreid.reid.train import train_reid


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m augreid.reid", description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", required=True, type=Path, help="Market-1501-layout folder")
    parser.add_argument("--config", required=True, type=Path, help="YAML config with a `reid:` section")
    parser.add_argument("--out", required=True, type=Path, help="folder for metrics.json, per_query.csv, model.pt")
    parser.add_argument("--seed", type=seed_number, default=0)
    parser.add_argument("--weights", type=Path, help="ImageNet weights file when reid.pretrained is true")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--generated-labels", nargs="+", metavar="POLICY",
                        help="identity targets of the generated training images: hard, smooth E (0 < E < 1) or lsro "
                             "(default: the config's reid.generated_labels, hard)")
    args = parser.parse_args(argv)
    config = load_config(args.config).reid
    if args.generated_labels:
        policy = parse_label_policy(args.generated_labels)
        config = dataclasses.replace(config, generated_labels=str(policy))
    metrics = train_reid(args.data_root, config, args.out, args.seed, args.weights, args.device)
    print(f"{metrics['model']} on {metrics['train_images']} images of {metrics['train_identities']} identities, "
          f"{metrics['steps']} steps ({metrics['epochs']} epochs, budget {metrics['budget']}) on {metrics['device']} "
          f"({metrics['images_per_second']} images/s): mAP {metrics['mAP']:.2f}, rank-1 {metrics['rank1']:.2f}, "
          f"rank-5 {metrics['rank5']:.2f}, rank-10 {metrics['rank10']:.2f} -> {args.out / 'metrics.json'}")
    return 0


run = command(main)

if __name__ == "__main__":
    run()
