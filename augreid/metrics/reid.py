"""Re-ID ranking metrics under the Market-1501 protocol: CMC and mAP from a query x gallery distance matrix.

For each query, gallery images of the same identity seen by the same camera are discarded (they would be too
easy), and so are junk images (pid -1); distractors (pid 0) stay as negatives. Queries whose identity has no
remaining gallery image are left out, as torchreid does. Vectorised over queries, in chunks to bound memory;
ranking by `np.argsort` like torchreid, so ties are broken the same way.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from augreid.data.market import JUNK_PID

CHUNK = 512


AP_RULES = ("torchreid", "devkit")


@dataclass(frozen=True)
class QueryResults:
    """Per query: whether it counts (a match remains in the gallery), its average precision by both rules and the
    1-based rank of its first true match (all 0 for queries that do not count).

    torchreid's AP averages the precision at each hit. The Market-1501 devkit's (and the re-ID baseline the PoNA
    paper cites) integrates precision over recall with the trapezoid rule, `ap += d_recall * (old_precision +
    precision) / 2`, old_precision being the precision just before the hit: never higher than torchreid's."""

    valid: np.ndarray
    average_precision: np.ndarray
    first_match_rank: np.ndarray
    average_precision_devkit: np.ndarray

    def ap(self, rule: str) -> np.ndarray:
        return self.average_precision if rule == "torchreid" else self.average_precision_devkit


def rank_queries(distmat: np.ndarray, q_pids: np.ndarray, g_pids: np.ndarray, q_camids: np.ndarray,
                 g_camids: np.ndarray) -> QueryResults:
    """Rank every query. `q_camids` may be (queries, k): same-identity gallery images from any of a query's k
    cameras are then discarded (the identity score discards the condition's camera as well as the target's)."""
    q_pids, g_pids, g_camids = map(np.asarray, (q_pids, g_pids, g_camids))
    q_camids = np.asarray(q_camids).reshape(len(q_pids), -1)
    valid, aps, devkit_aps, first_ranks = [], [], [], []
    for start in range(0, distmat.shape[0], CHUNK):
        rows = slice(start, start + CHUNK)
        order = np.argsort(distmat[rows], axis=1)
        pids, cams = g_pids[order], g_camids[order]
        same = pids == q_pids[rows, None]
        same_camera = (cams[:, :, None] == q_camids[rows, None, :]).any(axis=2)
        keep = ~(same & same_camera) & (pids != JUNK_PID)
        hits = same & keep
        has_match = hits.any(axis=1)
        position = np.cumsum(keep, axis=1)  # 1-based rank among the kept gallery images
        found = np.cumsum(hits, axis=1)
        matches = np.maximum(hits.sum(axis=1), 1)
        precision = found / np.maximum(position, 1)
        aps.append(np.where(has_match, np.where(hits, precision, 0.0).sum(axis=1) / matches, 0.0))
        before = np.where(position > 1, (found - 1) / np.maximum(position - 1, 1), 1.0)  # precision just before a hit
        trapezoids = np.where(hits, (before + precision) / 2, 0.0)
        devkit_aps.append(np.where(has_match, trapezoids.sum(axis=1) / matches, 0.0))
        first = np.argmax(hits, axis=1)  # index of the first hit in the full ranking
        first_ranks.append(np.where(has_match, position[np.arange(len(first)), first], 0))
        valid.append(has_match)
    return QueryResults(np.concatenate(valid), np.concatenate(aps), np.concatenate(first_ranks),
                        np.concatenate(devkit_aps))


def summarise(results: QueryResults, max_rank: int, rule: str = "torchreid") -> tuple[np.ndarray, float, int]:
    """(CMC curve of length max_rank, mAP by `rule`, number of valid queries) over the valid queries."""
    if not results.valid.any():
        raise ValueError("no query has a matching gallery image in another camera")
    first_hits = results.first_match_rank[results.valid] - 1
    cmc = (first_hits[:, None] <= np.arange(max_rank)[None]).mean(axis=0)
    return cmc, float(results.ap(rule)[results.valid].mean()), int(results.valid.sum())


def evaluate(distmat: np.ndarray, q_pids: np.ndarray, g_pids: np.ndarray, q_camids: np.ndarray,
             g_camids: np.ndarray, max_rank: int = 50, rule: str = "torchreid") -> tuple[np.ndarray, float, int]:
    """(CMC curve of length min(max_rank, gallery size), mAP, number of valid queries)."""
    results = rank_queries(distmat, q_pids, g_pids, q_camids, g_camids)
    return summarise(results, min(max_rank, distmat.shape[1]), rule)
