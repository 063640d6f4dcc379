"""How long a re-ID run trains: the papers' fixed number of epochs, or the full set's optimizer steps.

`epochs` (the papers' protocol) trains the same epochs whatever the set's size, so a reduced set (`none` at
p = 0.2) also takes five times fewer optimizer steps than the full one. `steps` gives every run the steps of the
p = 1.0 run of the same data set: an "epoch" of the schedule is then one pass over the full set's size, so the
learning-rate drops (every `stepsize` epochs) and the frozen-base start (`fixbase_epochs`) fall at the same steps
in every run, whatever was kept or generated.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from augreid.config import ReidConfig
from augreid.core.errors import InputError
from augreid.data.market import GENERATED_SUMMARY

BUDGETS = ("epochs", "steps")


@dataclass(frozen=True)
class TrainingLength:
    budget: str
    epochs: int
    steps_per_epoch: int  # optimizer steps between two scheduler steps
    reference_images: int  # the training images whose one pass makes an epoch of the schedule

    @property
    def steps(self) -> int:
        return self.epochs * self.steps_per_epoch


def full_set_images(data_root: str | Path, train_images: int) -> int:
    """Training images of the p = 1.0 set: an `augreid.generate` output records its source's count; any other
    folder is its own full set."""
    summary = Path(data_root) / GENERATED_SUMMARY
    if summary.is_file():
        try:
            return int(json.loads(summary.read_text())["counts"]["original"])
        except (ValueError, KeyError, TypeError) as err:
            raise InputError(f"{summary}: not an augreid.generate summary ({type(err).__name__}: {err})") from None
    return train_images


def training_length(config: ReidConfig, data_root: str | Path, train_images: int) -> TrainingLength:
    """The run's schedule; a set too small for one batch is refused (it would train zero steps)."""
    if train_images < config.batch_size:  # the training loader drops the last partial batch
        raise InputError(f"{data_root}: {train_images} training images, fewer than one batch of "
                         f"{config.batch_size} (reid.batch_size): no training step could be taken")
    reference = train_images if config.budget == "epochs" else full_set_images(data_root, train_images)
    return TrainingLength(config.budget, config.epochs, max(reference // config.batch_size, 1), reference)
