"""The report's gallery: condition | target pose | generated | real, read back from an augmented set."""
import numpy as np
import pandas as pd
from PIL import Image

from augreid.data.annotations import read_annotations
from augreid.data.images import load_image
from augreid.data.pose import draw_skeleton
from augreid.evaluation.gallery import HEADER_HEIGHT, gallery, pick_generated, write_gallery
from augreid.protocol.augmented_set import augment

H, W = 128, 64


def _columns(image: np.ndarray, row: int) -> list[np.ndarray]:
    top = HEADER_HEIGHT + row * H
    return [image[top:top + H, c * W:(c + 1) * W] for c in range(4)]


def test_gallery_columns_hold_condition_pose_filled_and_real(small_synthetic, tmp_path):
    # `duplicate` fills with the condition image itself and `real` with the real target: each pins one column
    for control, same_as in (("duplicate", 0), ("real", 3)):
        out = tmp_path / control
        augment(0.4, small_synthetic, control, seed=0, out=out, progress=False)
        image = gallery(out, small_synthetic, count=3)
        assert image.shape == (HEADER_HEIGHT + 3 * H, 4 * W, 3) and image.dtype == np.uint8
        manifest = pd.read_csv(out / "manifest.csv", keep_default_na=False)
        picked = pick_generated(manifest, 3)
        annotations = read_annotations(small_synthetic / "market-annotation-train.csv")
        for row, entry in enumerate(picked.itertuples()):
            condition, pose, filled, real = _columns(image, row)
            np.testing.assert_array_equal(condition, load_image(small_synthetic / "bounding_box_train" / entry.condition))
            np.testing.assert_array_equal(pose, draw_skeleton(annotations.pose(entry.target)))
            np.testing.assert_array_equal(real, load_image(small_synthetic / "bounding_box_train" / entry.target))
            np.testing.assert_array_equal(filled, _columns(image, row)[same_as])


def test_gallery_spreads_over_identities_and_skips_the_none_control(small_synthetic, tmp_path):
    out = tmp_path / "duplicate"
    augment(0.2, small_synthetic, "duplicate", seed=0, out=out, progress=False)
    manifest = pd.read_csv(out / "manifest.csv", keep_default_na=False)
    picked = pick_generated(manifest, 4)
    assert len(picked) == 4 and picked["pid"].is_unique
    assert picked["pid"].iloc[0] == manifest["pid"].min() and picked["pid"].iloc[-1] == manifest["pid"].max()
    assert picked.equals(pick_generated(manifest, 4))

    none = tmp_path / "none"
    augment(0.2, small_synthetic, "none", seed=0, out=none, progress=False)
    assert not write_gallery(none, small_synthetic, tmp_path / "gallery_none.png")
    assert not (tmp_path / "gallery_none.png").exists()
    assert write_gallery(out, small_synthetic, tmp_path / "gallery_duplicate.png")
    with Image.open(tmp_path / "gallery_duplicate.png") as written:
        assert written.format == "PNG" and written.size == (4 * W, HEADER_HEIGHT + 6 * H)  # 6 rows by default
