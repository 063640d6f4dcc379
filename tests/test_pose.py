import numpy as np
import pandas as pd

from augreid.data.annotations import read_annotations
from augreid.data.pose import JOINT, LIMBS, MASK_LIMBS, MISSING, body_mask, draw_skeleton, has_torso, present


def two_joint_pose():
    """Neck at (30, 32) and right hip at (70, 32): one vertical bone of the mask."""
    keypoints = np.full((18, 2), MISSING)
    keypoints[JOINT["neck"]] = (30, 32)
    keypoints[JOINT["r_hip"]] = (70, 32)
    return keypoints


def test_body_mask_hand_checked_pixels():
    mask = body_mask(two_joint_pose())
    assert mask.shape == (128, 64) and mask.dtype == bool
    # the bone is 8 px wide around column 32: columns 28..36 inclusive (pixel centres on the edges count)
    assert mask[50, 28:37].all() and not mask[50, 27] and not mask[50, 37]
    # joint discs of radius 4 end 3 rows beyond the joint (distance < 4)
    assert mask[27, 32] and not mask[26, 32]
    assert mask[73, 32] and not mask[74, 32]
    assert not mask[:26].any() and not mask[75:].any()


def test_body_mask_closing_fills_a_gap_between_bones():
    keypoints = np.full((18, 2), MISSING)
    keypoints[JOINT["r_hip"]] = (60, 20)
    keypoints[JOINT["r_knee"]] = (100, 20)
    keypoints[JOINT["l_hip"]] = (60, 30)
    keypoints[JOINT["l_knee"]] = (100, 30)
    mask = body_mask(keypoints)
    # the legs' strips span columns 16..24 and 26..34; the 1-pixel gap at column 25 is closed by the 5x5 closing
    assert mask[80, 16:35].all()


def test_empty_pose_gives_empty_mask_and_black_skeleton():
    empty = np.full((18, 2), MISSING)
    assert not body_mask(empty).any()
    assert not draw_skeleton(empty).any()


def test_skeleton_draws_bones_between_visible_joints():
    keypoints = np.full((18, 2), MISSING)
    keypoints[JOINT["neck"]] = (30, 32)
    keypoints[JOINT["r_knee"]] = (100, 32)
    image = draw_skeleton(keypoints)
    assert image.shape == (128, 64, 3) and image.dtype == np.uint8
    assert not image[65, 32].any()  # neck-knee is no OpenPose bone: nothing drawn between them
    keypoints[JOINT["r_hip"]] = (70, 32)
    assert (JOINT["neck"], JOINT["r_hip"]) in LIMBS and (JOINT["r_hip"], JOINT["r_knee"]) in LIMBS
    image = draw_skeleton(keypoints)
    assert image[50, 32].any() and image[85, 32].any() and not image[85, 50].any()
    assert image[0, 0].tolist() == [0, 0, 0]


def test_has_torso_needs_both_shoulders_and_hips():
    keypoints = np.full((2, 18, 2), 20)
    keypoints[1, JOINT["l_hip"]] = MISSING
    assert has_torso(keypoints).tolist() == [True, False]


# tool/getMetrics_market.py's produce_ma_mask, its limbs as it writes them (1-based joint numbers)
PUBLISHED_MASK_LIMBS = [[2, 3], [2, 6], [3, 4], [4, 5], [6, 7], [7, 8], [2, 9], [9, 10], [10, 11], [2, 12], [12, 13],
                        [13, 14], [2, 1], [1, 15], [15, 17], [1, 16], [16, 18], [2, 17], [2, 18], [9, 12], [12, 6],
                        [9, 3], [17, 18]]


def test_mask_limbs_are_the_published_ones():
    assert {frozenset(limb) for limb in MASK_LIMBS} == {frozenset((a - 1, b - 1)) for a, b in PUBLISHED_MASK_LIMBS}
    assert len(MASK_LIMBS) == len(PUBLISHED_MASK_LIMBS)


def test_the_mask_of_a_published_test_pair_joins_the_neck_to_the_ears(real_annotations):
    """On the target of a published test pair with neck and both ears, the band from the neck to each ear is
    masked."""
    annotations = read_annotations(real_annotations / "market-annotation-test.csv")
    pairs = pd.read_csv(real_annotations / "market-pairs-test.csv")
    neck, ears = JOINT["neck"], (JOINT["r_ear"], JOINT["l_ear"])
    target = next(name for name in pairs["to"] if present(annotations.pose(name))[[neck, *ears]].all()
                  and present(annotations.pose(name))[[JOINT["r_shoulder"], JOINT["l_shoulder"]]].all())
    pose = annotations.pose(target)
    mask = body_mask(pose)
    for ear in ears:
        for t in np.linspace(0, 1, 9):
            y, x = np.round(pose[neck] + t * (pose[ear] - pose[neck])).astype(int)
            assert mask[y, x], (target, ear, t)
