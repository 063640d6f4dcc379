"""The uncertainty of a difference between two re-ID runs: a paired bootstrap over queries, and a paired t-test
over seeds.

Two runs of a Table VI comparison rank the same queries against the same gallery, so their per-query scores
are paired: resampling queries (the same resampled queries for both runs) gives the spread that the choice of
queries puts on the difference. Training noise is what differs between seeds: with two or more seeds, the
per-seed differences are tested with a paired t-test (a t interval around their mean), which with few seeds is
the usual choice (a signed-rank test cannot reach p < 0.05 below 6 seeds).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

RESAMPLES = 10_000
CONFIDENCE = 0.95
_RESAMPLE_BLOCK = 1 << 22  # indices drawn at once, bounding memory for large query sets


@dataclass(frozen=True)
class Interval:
    """An estimated difference (a - b) and its confidence interval."""

    estimate: float
    low: float
    high: float

    @property
    def verdict(self) -> str:
        if self.low > 0:
            return "better"
        if self.high < 0:
            return "worse"
        return "no difference shown"


def paired_bootstrap(a: np.ndarray, b: np.ndarray, resamples: int = RESAMPLES, seed: int = 0,
                     confidence: float = CONFIDENCE) -> Interval:
    """Mean of a - b over paired items (queries), with the percentile interval of that mean over `resamples`
    resamples of the items with replacement; seeded, so the same inputs give the same interval."""
    differences = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if differences.ndim != 1 or len(differences) < 2:
        raise ValueError("a paired bootstrap needs two equal-length vectors of at least 2 items")
    rng = np.random.default_rng(seed)
    n, means = len(differences), np.empty(resamples)
    block = max(1, _RESAMPLE_BLOCK // len(differences))
    for start in range(0, resamples, block):
        indices = rng.integers(0, n, size=(min(block, resamples - start), n))
        means[start:start + len(indices)] = differences[indices].mean(axis=1)
    low, high = np.quantile(means, [(1 - confidence) / 2, (1 + confidence) / 2])
    return Interval(float(differences.mean()), float(low), float(high))


@dataclass(frozen=True)
class SeedTest:
    """Per-seed differences summarised: their mean, sample spread, t interval of the mean and two-sided p."""

    seeds: int
    mean: float
    std: float
    interval: Interval
    p_value: float


def paired_t_over_seeds(differences: np.ndarray, confidence: float = CONFIDENCE) -> SeedTest:
    """The paired t-test of per-seed differences (run a - run b of the same seed) against zero."""
    differences = np.asarray(differences, dtype=float)
    if len(differences) < 2:
        raise ValueError("a test over seeds needs at least 2 seeds")
    mean, std = float(differences.mean()), float(differences.std(ddof=1))
    half = float(stats.t.ppf((1 + confidence) / 2, len(differences) - 1)) * std / np.sqrt(len(differences))
    if std == 0:  # identical differences in every seed: the t statistic is undefined
        p_value = 1.0 if mean == 0 else 0.0
    else:
        p_value = float(stats.ttest_1samp(differences, 0.0).pvalue)
    return SeedTest(len(differences), mean, std, Interval(mean, mean - half, mean + half), p_value)
