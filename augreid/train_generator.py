"""`python -m augreid.train_generator --generator pona|patn|aps|gfla|san --data-root DIR --config FILE --out DIR`

Trains a pose-transfer GAN on the PATN pair rule of a Market-1501-layout folder, with the recipe of the config's
`generator_training:` section (GFLA: `gfla_training:`, its two stages on one iteration counter; SAN:
`san_training:`) and the
architecture of its `generators:` section. Writes `checkpoint.pt`
(resumable, every `checkpoint_every` iterations), `generator.pt` (for inference), sample grids under
`samples/` (condition | target pose | generated | real target) and `summary.json` with held-out SSIM against the
copy-the-condition baseline.
"""
from __future__ import annotations

from pathlib import Path

from augreid.config import GENERATOR_NAMES, load_config
from augreid.core.cli import ArgumentParser, command, positive_number, seed_number
from augreid.training.trainer import train_generator


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m augreid.train_generator", description=__doc__.splitlines()[2])
    parser.add_argument("--generator", required=True, choices=GENERATOR_NAMES)
    parser.add_argument("--data-root", required=True, type=Path, help="Market-1501-layout folder with annotations")
    parser.add_argument("--config", required=True, type=Path, help="YAML config (generators:, generator_training:)")
    parser.add_argument("--out", required=True, type=Path, help="run folder: checkpoints, samples, summary")
    parser.add_argument("--seed", type=seed_number, default=0)
    parser.add_argument("--resume", action="store_true", help="continue the run in --out where it stopped")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--vgg-weights", type=Path, help="ImageNet VGG19 weights file for the perceptual loss")
    parser.add_argument("--stop-after", type=positive_number, help="stop after this many iterations (resume later)")
    args = parser.parse_args(argv)
    summary = train_generator(args.generator, args.data_root, load_config(args.config), args.out, seed=args.seed,
                              resume=args.resume, device=args.device, vgg_weights=args.vgg_weights,
                              stop_after=args.stop_after)
    state = ("already trained, reused" if summary["reused"] else "finished") if summary["finished"] \
        else "stopped (resume with --resume)"
    print(f"{args.generator}: {state} at iteration {summary['step']} on {summary['device']}, "
          f"{summary['iterations_per_second']} it/s, {summary['seconds']} s -> {args.out}")
    if summary.get("heldout"):
        h = summary["heldout"]
        print(f"held-out SSIM {h['ssim']:.4f} (copy the condition image: {h['copy_ssim']:.4f}), "
              f"PSNR {h['psnr']:.2f} dB (copy: {h['copy_psnr']:.2f}) on {h['pairs']} test pairs")
    return 0


run = command(main)

if __name__ == "__main__":
    run()
