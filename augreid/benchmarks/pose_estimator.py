"""The pose estimator's speed: images/s of BlazePose on a data root's images, as `augreid.annotate` runs it."""
from __future__ import annotations

import platform
import time
from pathlib import Path

from augreid.core.errors import InputError


def bench_annotate(data_root: Path, count: int, min_seconds: float) -> dict:
    from augreid.data.blazepose import BlazePose, describe
    from augreid.data.images import check_images
    from augreid.data.market import scan_split
    from augreid.data.pose_estimation import read_pixels
    from augreid.data.semantic import body_parts

    paths = scan_split(data_root, "train")["path"].tolist()[:count]
    if not paths:
        raise InputError(f"{data_root}: no training images to time")
    check_images(paths)  # a broken file is refused before any timing
    images = [read_pixels(path) for path in paths]
    rates = {}
    with BlazePose() as estimator:
        estimator.estimate(images[0])  # builds the graph
        for label, with_parts in (("keypoints + mask", False), ("+ part maps", True)):
            done, started = 0, time.perf_counter()
            while time.perf_counter() - started < min_seconds or done < len(images):
                estimate = estimator.estimate(images[done % len(images)])
                if with_parts and estimate is not None:
                    body_parts(estimate.mask, estimate.keypoints)
                done += 1
            rates[label] = round(done / (time.perf_counter() - started), 1)
    return {"estimator": describe(), "images": len(images), "data_root": str(data_root), "cpu": platform.processor()
            or platform.machine(), "images_per_second": rates}
