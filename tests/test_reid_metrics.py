import numpy as np
import pytest

from augreid.core.compat import torchreid_evaluate
from augreid.metrics.reid import evaluate, rank_queries

# gallery:     g0 g1 g2 g3 g4 g5 g6 g7
G_PIDS = np.array([1, 1, 2, 0, -1, 1, 3, 2])
G_CAMS = np.array([1, 2, 1, 3, 2, 3, 1, 2])


def random_ranking(seed: int, queries: int, identities: int, gallery: int, junk: int):
    """Random distances, pids and cameras: every query's identity also in the gallery, `junk` gallery images -1."""
    rng = np.random.default_rng(seed)
    q_pids = rng.integers(1, identities, queries)
    g_pids = np.concatenate([rng.integers(0, identities, gallery), q_pids])
    g_pids[:junk] = -1
    q_cams, g_cams = rng.integers(1, 7, queries), rng.integers(1, 7, len(g_pids))
    return rng.random((queries, len(g_pids))), q_pids, g_pids, q_cams, g_cams


def test_hand_computed_cmc_and_map():
    q_pids, q_cams = np.array([1, 2, 9]), np.array([1, 2, 1])
    distances = np.array([
        [0.1, 0.5, 0.2, 0.3, 0.15, 0.9, 0.4, 0.6],
        [0.7, 0.3, 0.2, 0.1, 0.8, 0.4, 0.5, 0.05],
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8],  # identity 9 is not in the gallery: left out
    ])
    cmc, mean_ap, valid = evaluate(distances, q_pids, G_PIDS, q_cams, G_CAMS, max_rank=6)
    # query 1 (cam 1): g0 is the same camera and g4 junk, so the ranking is g2 g3 g6 [g1] g7 [g5]
    #   AP = (1/4 + 2/6) / 2; query 2 (cam 2): g7 same camera, g4 junk: g3 [g2] g1 g5 g6 g0, AP = 1/2
    assert valid == 2
    assert mean_ap == pytest.approx(((1 / 4 + 2 / 6) / 2 + 1 / 2) / 2)
    np.testing.assert_allclose(cmc, [0.0, 0.5, 0.5, 1.0, 1.0, 1.0])


def test_small_gallery_caps_the_curve_and_no_valid_query_is_an_error():
    cmc, _, _ = evaluate(np.zeros((1, 3)), np.array([1]), np.array([1, 2, 3]), np.array([1]), np.array([2, 2, 2]))
    assert len(cmc) == 3
    with pytest.raises(ValueError, match="no query"):
        evaluate(np.zeros((1, 2)), np.array([1]), np.array([1, 2]), np.array([1]), np.array([1, 1]))


def test_equals_torchreid_on_the_same_features():
    distances, q_pids, g_pids, q_cams, g_cams = random_ranking(0, queries=80, identities=30, gallery=400, junk=15)
    distances = distances.astype(np.float32)
    cmc, mean_ap, _ = evaluate(distances, q_pids, g_pids, q_cams, g_cams)
    real = g_pids != -1  # torchreid drops junk when it loads Market-1501; its ranking never sees it
    ref_cmc, ref_map = torchreid_evaluate(distances[:, real], q_pids, g_pids[real], q_cams, g_cams[real])
    assert mean_ap == pytest.approx(ref_map, abs=1e-9)
    np.testing.assert_allclose(cmc, ref_cmc, atol=1e-6)


def test_devkit_map_is_the_trapezoid_rule_by_hand():
    q_pids, q_cams = np.array([1, 2]), np.array([1, 2])
    distances = np.array([
        [0.1, 0.5, 0.2, 0.3, 0.15, 0.9, 0.4, 0.6],
        [0.7, 0.3, 0.2, 0.1, 0.8, 0.4, 0.5, 0.05],
    ])
    _, devkit, _ = evaluate(distances, q_pids, G_PIDS, q_cams, G_CAMS, rule="devkit")
    # query 1: hits at ranks 4 and 6: (precision before + at the hit) / 2 = (0/3 + 1/4) / 2, then (1/5 + 2/6) / 2
    # query 2: one hit at rank 2: (0/1 + 1/2) / 2
    first = ((0 / 3 + 1 / 4) / 2 + (1 / 5 + 2 / 6) / 2) / 2
    assert devkit == pytest.approx((first + (0 / 1 + 1 / 2) / 2) / 2)


def devkit_average_precision(good_ranks: list[int]) -> float:
    """The Market-1501 devkit's loop, as its evaluation writes it (0-based ranks of the true matches)."""
    ap = 0.0
    for i, row in enumerate(good_ranks):
        d_recall = 1.0 / len(good_ranks)
        precision = (i + 1) / (row + 1)
        old_precision = i / row if row != 0 else 1.0
        ap += d_recall * (old_precision + precision) / 2
    return ap


def test_devkit_map_equals_the_devkits_loop_and_never_exceeds_torchreids():
    distances, q_pids, g_pids, q_cams, g_cams = random_ranking(1, queries=60, identities=20, gallery=300, junk=10)
    results = rank_queries(distances, q_pids, g_pids, q_cams, g_cams)
    for q in np.flatnonzero(results.valid):
        order = np.argsort(distances[q])
        keep = ~((g_pids[order] == q_pids[q]) & (g_cams[order] == q_cams[q])) & (g_pids[order] != -1)
        ranked = g_pids[order][keep]
        assert results.average_precision_devkit[q] == pytest.approx(
            devkit_average_precision(list(np.flatnonzero(ranked == q_pids[q]))), abs=1e-12)
    assert (results.average_precision_devkit <= results.average_precision + 1e-12).all()
    assert results.average_precision_devkit[results.valid].mean() < results.average_precision[results.valid].mean()
