"""The demo recipe's claim, on a shortened run: the generator beats copying the condition image."""
import dataclasses
from pathlib import Path

from augreid.config import load_config
from augreid.train_generator import train_generator

DEMO = Path(__file__).parents[1] / "configs" / "demo.yaml"


def test_short_demo_recipe_beats_the_copy_baseline_on_heldout_pairs(tmp_path, small_synthetic):
    demo = load_config(DEMO)
    shorter = dataclasses.replace(
        demo,
        generators=dataclasses.replace(demo.generators, pona=dataclasses.replace(demo.generators.pona, blocks=1)),
        generator_training=dataclasses.replace(demo.generator_training, iterations=100, decay_iterations=50,
                                               sample_every=100, checkpoint_every=100),
    )
    summary = train_generator("pona", small_synthetic, shorter, tmp_path / "run", seed=0, progress=False)
    heldout = summary["heldout"]
    assert heldout["pairs"] == 200
    assert heldout["ssim"] > heldout["copy_ssim"] + 0.01, heldout
    assert heldout["psnr"] > heldout["copy_psnr"], heldout
