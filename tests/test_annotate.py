"""augreid.annotate: BlazePose keypoints, masks and part maps for images without annotations."""
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from augreid.data import pose_estimation as annotate_module
from augreid.data.annotations import read_annotations, write_annotations
from augreid.data.pose import present
from augreid.data.pose_estimation import annotate
from augreid.data.semantic import PARTS
from tests.tools.forked_cli import run_module

TRAIN = "bounding_box_train"


def _root(source: Path, tmp_path: Path, count: int, name: str = "root") -> Path:
    root = tmp_path / name
    (root / TRAIN).mkdir(parents=True)
    for image in sorted((source / TRAIN).glob("*.jpg"))[:count]:
        shutil.copy(image, root / TRAIN / image.name)
    return root


def test_the_real_people_are_found_where_the_published_files_put_their_joints(real_sample, real_annotations,
                                                                                tmp_path):
    root = _root(real_sample, tmp_path, 18)
    result = annotate(root, progress=False)
    report = result["splits"]["train"]
    estimated = read_annotations(root / "market-annotation-train.csv")
    published = read_annotations(real_annotations / "market-annotation-train.csv")
    assert report["images"] == report["estimated"] == len(estimated) == 18
    found = [name for name in estimated.names if name not in report["no_person"]]
    assert len(found) >= 14 and all(not present(estimated.pose(n)).any() for n in report["no_person"])
    distances = np.concatenate([np.linalg.norm(estimated.pose(n) - published.pose(n), axis=1)[
        present(estimated.pose(n)) & present(published.pose(n))] for n in found])
    assert len(distances) > 10 * len(found) and np.median(distances) <= 4.0
    print(f"{len(found)} of 18 found, median joint distance {np.median(distances):.2f} px over {len(distances)} "
          f"joints, {result['images_per_second']} images/s")


def test_rows_already_there_are_kept_and_only_the_others_estimated(small_synthetic, tmp_path):
    root = _root(small_synthetic, tmp_path, 10)
    given = read_annotations(small_synthetic / "market-annotation-train.csv")
    kept = sorted(p.name for p in (root / TRAIN).glob("*.jpg"))[:4]
    write_annotations(root / "market-annotation-train.csv", given.subset(kept))
    report = annotate(root, progress=False)["splits"]["train"]
    assert (report["kept"], report["estimated"]) == (4, 6)
    written = read_annotations(root / "market-annotation-train.csv")
    assert written.names[:4] == kept and (written.poses(kept) == given.poses(kept)).all()
    assert len(written) == 10
    again = annotate(root, progress=False)
    assert again["estimator"] is None and again["splits"]["train"]["estimated"] == 0
    redone = annotate(root, overwrite=True, progress=False)["splits"]["train"]
    assert (redone["kept"], redone["estimated"]) == (0, 10)
    assert (read_annotations(root / "market-annotation-train.csv").poses(kept) != given.poses(kept)).any()


def test_masks_and_part_maps_follow_the_person(small_synthetic, tmp_path):
    root = _root(small_synthetic, tmp_path, 6)
    report = annotate(root, masks=True, progress=False)["splits"]["train"]
    assert report["masks"] == 6 - len(report["no_person"]) >= 4
    annotations = read_annotations(root / "market-annotation-train.csv")
    for name in annotations.names:
        if name in report["no_person"]:
            continue
        stem = name.removesuffix(".jpg")
        with Image.open(root / "masks" / TRAIN / f"{stem}.png") as m, Image.open(root / "parts" / TRAIN / f"{stem}.png") as p:
            assert m.size == p.size == (64, 128) and p.mode == "P"
            mask, parts = np.asarray(m), np.asarray(p)
        assert set(np.unique(mask)) <= {0, 255} and 0.1 < (mask > 0).mean() < 0.7
        assert parts.max() < len(PARTS) and not (parts[mask == 0]).any() and (parts[mask > 0] > 0).mean() > 0.9
        rows = {label: np.nonzero(parts == label)[0].mean() for label in (1, 2, 6) if (parts == label).any()}
        assert rows[1] < rows[2] < rows.get(6, 128)  # head above torso above lower legs


def test_an_interrupted_run_resumes_to_the_same_result(small_synthetic, tmp_path, monkeypatch):
    whole = _root(small_synthetic, tmp_path, 9, "whole")
    annotate(whole, masks=True, progress=False)
    interrupted = _root(small_synthetic, tmp_path, 9, "interrupted")
    monkeypatch.setattr(annotate_module, "SAVE_EVERY", 4)
    real_estimate = annotate_module.BlazePose.estimate
    calls = []

    def stop_at_seven(self, image):
        calls.append(1)
        if len(calls) == 7:
            raise KeyboardInterrupt
        return real_estimate(self, image)

    monkeypatch.setattr(annotate_module.BlazePose, "estimate", stop_at_seven)
    with pytest.raises(KeyboardInterrupt):
        annotate(interrupted, masks=True, progress=False)
    assert len(read_annotations(interrupted / "market-annotation-train.csv")) == 4  # saved every 4
    monkeypatch.setattr(annotate_module.BlazePose, "estimate", real_estimate)
    resumed = annotate(interrupted, masks=True, progress=False)["splits"]["train"]
    assert (resumed["kept"], resumed["estimated"]) == (4, 5)
    assert (interrupted / "market-annotation-train.csv").read_bytes() == (whole / "market-annotation-train.csv").read_bytes()
    for kind in ("masks", "parts"):
        for path in (whole / kind / TRAIN).glob("*.png"):
            assert (interrupted / kind / TRAIN / path.name).read_bytes() == path.read_bytes()


def test_an_image_without_a_person_gets_no_made_up_pose(small_synthetic, tmp_path):
    root = _root(small_synthetic, tmp_path, 2)
    Image.new("RGB", (64, 128), (120, 120, 120)).save(root / TRAIN / "0099_c1_f0000001.jpg")
    report = annotate(root, masks=True, progress=False)["splits"]["train"]
    assert "0099_c1_f0000001.jpg" in report["no_person"]
    assert not present(read_annotations(root / "market-annotation-train.csv").pose("0099_c1_f0000001.jpg")).any()
    assert not (root / "masks" / TRAIN / "0099_c1_f0000001.png").exists()
    lines = annotate_module.report_lines({"estimator": "x", "masks": True, "splits": {"train": report},
                                          "images_per_second": 1.0})
    assert lines[0].startswith(f"train: 3 images, 0 rows kept, 3 estimated, {len(report['no_person'])} without a "
                               "person found (") and "0099_c1_f0000001.jpg" in lines[0]
    record = (root / "annotate.json").read_text()
    again = annotate(root, masks=True, progress=False)  # nothing left: the empty image is known to have no person
    assert again["estimator"] is None and again["splits"]["train"]["estimated"] == 0
    assert (root / "annotate.json").read_text() == record  # no new run logged


@pytest.mark.parametrize("damage, message", [("truncated", "0099_c1_f0000001.jpg: cannot read image"),
                                             ("badly named", "person.jpg: not a re-ID image name")])
def test_cli_refuses_bad_input_with_exit_2_and_writes_nothing(small_synthetic, tmp_path, damage, message):
    root = _root(small_synthetic, tmp_path, 2)
    if damage == "truncated":
        (root / TRAIN / "0099_c1_f0000001.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    else:
        shutil.copy(next((root / TRAIN).glob("*.jpg")), root / TRAIN / "person.jpg")
    run = run_module("augreid.annotate", "--data-root", str(root))
    assert run.returncode == 2 and run.stderr.startswith("error: ") and message in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and not (root / "market-annotation-train.csv").exists()
    assert run_module("augreid.annotate", "--data-root", str(tmp_path / "absent")).returncode == 2
