"""Re-ID ranking metrics under the Market-1501 protocol: CMC and mAP from a query x gallery distance matrix.

For each query, gallery images of the same identity seen by the same camera are discarded (they would be too
easy), and so are junk images (pid -1); distractors (pid 0) stay as negatives. Queries whose identity has no
remaining gallery image are left out, as torchreid does. Vectorised over queries, in chunks to bound memory;
ranking by `np.argsort` like torchreid, so ties are broken the same way.
"""
from __future__ import annotations

import numpy as np

from augreid.market import JUNK_PID

CHUNK = 512


def evaluate(distmat: np.ndarray, q_pids: np.ndarray, g_pids: np.ndarray, q_camids: np.ndarray,
             g_camids: np.ndarray, max_rank: int = 50) -> tuple[np.ndarray, float, int]:
    """(CMC curve of length min(max_rank, gallery size), mAP, number of valid queries)."""
    q_pids, g_pids, q_camids, g_camids = map(np.asarray, (q_pids, g_pids, q_camids, g_camids))
    max_rank = min(max_rank, distmat.shape[1])
    first_hits, average_precisions = [], []
    for start in range(0, distmat.shape[0], CHUNK):
        rows = slice(start, start + CHUNK)
        order = np.argsort(distmat[rows], axis=1)
        pids, cams = g_pids[order], g_camids[order]
        same = pids == q_pids[rows, None]
        keep = ~(same & (cams == q_camids[rows, None])) & (pids != JUNK_PID)
        hits = same & keep
        valid = hits.any(axis=1)
        position = np.cumsum(keep, axis=1)  # 1-based rank among the kept gallery images
        found = np.cumsum(hits, axis=1)
        precision_at_hits = np.where(hits, found / np.maximum(position, 1), 0.0)
        average_precisions.append(precision_at_hits.sum(axis=1)[valid] / hits.sum(axis=1)[valid])
        first = np.argmax(hits, axis=1)  # index of the first hit in the full ranking
        first_hits.append(position[np.arange(len(first)), first][valid] - 1)
    first_hits, average_precisions = np.concatenate(first_hits), np.concatenate(average_precisions)
    if len(first_hits) == 0:
        raise ValueError("no query has a matching gallery image in another camera")
    cmc = (first_hits[:, None] <= np.arange(max_rank)[None]).mean(axis=0)
    return cmc, float(average_precisions.mean()), len(first_hits)
