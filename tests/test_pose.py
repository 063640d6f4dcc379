import numpy as np

from augreid.pose import JOINT, LIMBS, MISSING, body_mask, draw_skeleton, has_torso


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
