"""A/A calibration: a configuration compared with itself under other seeds, to measure what a study's verdicts
are worth.

From a pool of runs of one configuration (one seed each), draw comparisons of `seeds_per_arm` runs against as
many others, and judge each with the study's own interval (`comparisons.compare_arms`). Every true difference is
zero, so each "better" or "worse" is a false positive: their share is the design's false-positive rate, to be at
most 5% for a 95% interval. The spread of the runs' mAP is the recipe's seed noise, and from it and the queries'
standard error follows the smallest difference the design finds with 80% power, at any number of seeds.

The first runs // (2 x seeds_per_arm) comparisons use disjoint runs (independent of one another); the rest draw
runs afresh, so they share runs and their rate's interval is only indicative.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from augreid.study.comparisons import compare_arms
from augreid.study.statistics import detectable_difference

POWER = 0.8


@dataclass(frozen=True)
class Calibration:
    runs: int
    queries: int
    run_mAP: list[float]
    run_sd: float  # sd of one run's mAP over seeds: the recipe's training noise
    seeds_per_arm: int
    comparisons: int
    false_positives: int
    disjoint_comparisons: int
    disjoint_false_positives: int
    query_se: float  # the queries' standard error of a seed-averaged difference (root mean square over the draws)
    detectable: dict[int, float]  # seeds per arm -> the difference found with 80% power (mAP points)

    @property
    def false_positive_rate(self) -> float:
        return self.false_positives / self.comparisons

    @property
    def rate_interval(self) -> tuple[float, float]:
        """Clopper-Pearson 95% interval of the false-positive rate."""
        interval = stats.binomtest(self.false_positives, self.comparisons).proportion_ci(0.95, method="exact")
        return float(interval.low), float(interval.high)

    def as_dict(self) -> dict:
        return {**asdict(self), "false_positive_rate": self.false_positive_rate, "rate_interval": self.rate_interval}


def arm_draws(runs: int, seeds_per_arm: int, comparisons: int, seed: int = 0) -> list[tuple[list[int], list[int]]]:
    """Pairs of disjoint arms of run indices: first as many fully disjoint pairs as the pool holds, then fresh
    draws."""
    if runs < 2 * seeds_per_arm:
        raise ValueError(f"{runs} runs cannot make two arms of {seeds_per_arm} seeds")
    rng, draws = np.random.default_rng(seed), []
    order = rng.permutation(runs)
    for start in range(0, min(runs // (2 * seeds_per_arm), comparisons) * 2 * seeds_per_arm, 2 * seeds_per_arm):
        chosen = order[start:start + 2 * seeds_per_arm].tolist()
        draws.append((chosen[:seeds_per_arm], chosen[seeds_per_arm:]))
    while len(draws) < comparisons:
        chosen = rng.choice(runs, 2 * seeds_per_arm, replace=False).tolist()
        draws.append((chosen[:seeds_per_arm], chosen[seeds_per_arm:]))
    return draws


def calibrate(tables: list[pd.DataFrame], seeds_per_arm: int, comparisons: int,
              seed_counts: tuple[int, ...] = (2, 3, 5, 10, 20)) -> Calibration:
    """A/A comparisons over runs of one configuration (their per_query.csv tables, one per seed)."""
    draws = arm_draws(len(tables), seeds_per_arm, comparisons)
    disjoint = len(tables) // (2 * seeds_per_arm)
    positives, query_var, queries = [], [], 0
    for arm, other in draws:
        mean_ap, _, queries = compare_arms([tables[i] for i in arm], [tables[i] for i in other])
        positives.append(mean_ap.interval.verdict in ("better", "worse"))
        query_var.append(mean_ap.query_se ** 2)
    run_map = [float(100 * table["ap"].mean()) for table in tables]
    run_sd = float(np.std(run_map, ddof=1))
    query_se = float(np.sqrt(np.mean(query_var)))
    # two arms' per-seed difference: two independent runs, so sqrt(2) run sds (a study pairs its arms by seed,
    # which can only narrow it)
    detectable = {s: round(detectable_difference(np.sqrt(2) * run_sd, s, query_se, queries, POWER), 2)
                  for s in sorted({*seed_counts, seeds_per_arm})}
    return Calibration(len(tables), queries, [round(m, 2) for m in run_map], run_sd, seeds_per_arm, len(draws),
                       int(sum(positives)), min(disjoint, len(draws)), int(sum(positives[:disjoint])), query_se,
                       detectable)


def seeds_needed(difference: float, run_sd: float, query_se: float, queries: int, most: int = 200) -> int | None:
    """The fewest seeds per arm at which `difference` is found with 80% power (None: more than `most`, or below
    what the queries alone can resolve, which no number of seeds changes)."""
    def found(seeds: int) -> bool:
        return detectable_difference(np.sqrt(2) * run_sd, seeds, query_se, queries, POWER) <= difference

    if not found(most):
        return None
    low, high = 1, most  # found(high) holds, found(low) is taken not to: the detectable size falls with seeds
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if found(middle) else (middle, high)
    return high
