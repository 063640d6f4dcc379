"""The interval over seeds and queries: coverage on simulated per-query scores with a known seed-noise component,
where the query-only interval fails; textbook values of its parts."""
import warnings

import numpy as np
import pytest
from scipy import stats

from augreid.study.statistics import NO_VERDICT, detectable_difference, half_width, seeds_and_queries

QUERIES, SEEDS = 200, 3


def simulated_arms(rng: np.random.Generator, difference: float, seed_sd: float, seeds: int = SEEDS):
    """Two arms' (seeds x queries) scores: queries of varied difficulty whose own effects scatter around the true
    `difference`, a training effect per run (`seed_sd`, the same shift over all its queries) and per-run, per-query
    noise."""
    difficulty = rng.normal(0.5, 0.2, QUERIES)
    query_effect = difference + rng.normal(0, 0.1, QUERIES)
    run = lambda effect: (difficulty + effect + rng.normal(0, seed_sd, (seeds, 1))  # noqa: E731
                          + rng.normal(0, 0.1, (seeds, QUERIES)))
    return run(query_effect), run(0.0)


def query_only_interval(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """The interval this tool used to give: the seed-averaged per-query differences, resampled over queries alone
    (normal approximation of the paired bootstrap)."""
    per_query = (a - b).mean(axis=0)
    half = 1.96 * per_query.std(ddof=1) / np.sqrt(len(per_query))
    return per_query.mean() - half, per_query.mean() + half


def coverage(method, difference: float = 0.02, seed_sd: float = 0.03, trials: int = 400) -> float:
    rng, covered = np.random.default_rng(7), 0
    for _ in range(trials):
        low, high = method(*simulated_arms(rng, difference, seed_sd))
        covered += low < difference < high
    return covered / trials


def seeds_and_queries_bounds(a, b):
    interval = seeds_and_queries(a, b).interval
    return interval.low, interval.high


def test_the_interval_covers_the_true_difference_at_its_nominal_rate_when_training_is_noisy():
    assert 0.92 <= coverage(seeds_and_queries_bounds) <= 0.99


def test_the_query_only_interval_misses_the_true_difference_when_training_is_noisy():
    assert coverage(query_only_interval) < 0.75  # the seed noise is three times the query noise here


def test_without_seed_noise_both_cover_and_ours_is_not_much_wider():
    assert 0.92 <= coverage(seeds_and_queries_bounds, seed_sd=0.0) <= 1.0
    assert 0.90 <= coverage(query_only_interval, seed_sd=0.0) <= 0.99


@pytest.mark.parametrize("seed_sd", [0.0, 0.01, 0.03, 0.1])
def test_identical_configurations_are_called_different_at_most_at_the_nominal_rate(seed_sd):
    rng, different = np.random.default_rng(11), 0
    for _ in range(1000):
        different += seeds_and_queries(*simulated_arms(rng, 0.0, seed_sd)).interval.verdict != "no difference shown"
    assert different / 1000 <= 0.06


def test_parts_match_textbook_formulas():
    rng = np.random.default_rng(3)
    a, b = rng.normal(0.6, 0.2, (4, 50)), rng.normal(0.5, 0.2, (4, 50))
    result = seeds_and_queries(a, b)
    d = a - b
    per_seed, per_query = d.mean(axis=1), d.mean(axis=0)
    seed_var, query_var = per_seed.var(ddof=1) / 4, per_query.var(ddof=1) / 50
    half = np.sqrt(stats.t.ppf(0.975, 3) ** 2 * seed_var + stats.t.ppf(0.975, 49) ** 2 * query_var)
    assert result.per_seed == pytest.approx(tuple(per_seed))
    assert result.interval.estimate == pytest.approx(d.mean())
    assert (result.interval.low, result.interval.high) == pytest.approx((d.mean() - half, d.mean() + half))
    assert result.seed_se == pytest.approx(np.sqrt(seed_var)) and result.query_se == pytest.approx(np.sqrt(query_var))


@pytest.mark.parametrize("seeds, queries, confidence", [(2, 10, 0.95), (3, 236, 0.95), (5, 40, 0.9), (20, 3, 0.99)])
def test_the_interval_is_the_two_t_intervals_in_quadrature_to_rounding(seeds, queries, confidence):
    """The formula written out (each part's sd / sqrt(n) times the t quantile with n - 1 degrees of freedom), as
    this module computed it before scipy's one-sample t interval did, agrees to 1e-12; so does `power`'s
    half-width from standard errors."""
    rng = np.random.default_rng(seeds * queries)
    a, b = rng.normal(60, 10, (seeds, queries)), rng.normal(58, 10, (seeds, queries))
    d = a - b

    def half(sample):
        n = len(sample)
        se = np.sqrt(np.sum((sample - np.sum(sample) / n) ** 2) / (n - 1) / n)
        return stats.t.ppf((1 + confidence) / 2, n - 1) * se, se

    (seed_half, seed_se), (query_half, query_se) = half(d.mean(axis=1)), half(d.mean(axis=0))
    expected = np.sqrt(seed_half ** 2 + query_half ** 2)
    interval = seeds_and_queries(a, b, confidence).interval
    assert abs(interval.estimate - d.mean()) < 1e-12
    assert abs(interval.low - (d.mean() - expected)) < 1e-12 and abs(interval.high - (d.mean() + expected)) < 1e-12
    assert abs(half_width(seed_se, seeds, query_se, queries, confidence) - expected) < 1e-12


def test_identical_differences_at_every_seed_give_a_zero_seed_part_silently():
    a = np.array([[0.5, 0.75, 1.0], [0.25, 0.5, 0.75]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = seeds_and_queries(a, a - 0.5)  # exactly +0.5 at every seed and query
    assert result.seed_sd == 0.0 and (result.interval.low, result.interval.high) == (0.5, 0.5)

def test_one_seed_gives_no_verdict_and_identical_runs_a_point():
    one = seeds_and_queries(np.full((1, 10), 0.7), np.full((1, 10), 0.2) + np.arange(10) / 100)
    assert one.interval.verdict == NO_VERDICT and np.isnan(one.seed_sd)
    same = seeds_and_queries(np.ones((3, 5)), np.ones((3, 5)))
    assert (same.interval.low, same.interval.high, same.interval.verdict) == (0.0, 0.0, "no difference shown")
    with pytest.raises(ValueError, match="equal shape"):
        seeds_and_queries(np.ones((3, 5)), np.ones((2, 5)))


def test_a_difference_of_the_detectable_size_is_found_about_80_percent_of_the_time():
    # query noise alone: the textbook (1.960 + 0.842) x SE of a z test
    assert detectable_difference(0.0, 3, 1.0, 10 ** 6) == pytest.approx(2.8016, abs=0.02)
    rng = np.random.default_rng(5)
    arms = [simulated_arms(rng, 0.0, 0.03) for _ in range(50)]
    parts = [seeds_and_queries(a, b) for a, b in arms]
    size = detectable_difference(np.sqrt(np.mean([p.seed_sd ** 2 for p in parts])), SEEDS,
                                 np.sqrt(np.mean([p.query_se ** 2 for p in parts])), QUERIES)
    found = sum(seeds_and_queries(*simulated_arms(rng, size, 0.03)).interval.verdict == "better" for _ in range(400))
    assert 0.72 <= found / 400 <= 0.88
