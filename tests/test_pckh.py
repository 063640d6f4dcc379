"""PCKh as the authors' tool/calPCKH_market.py counts it, on hand-made keypoints."""
import numpy as np
import pytest

from augreid.data.pose import JOINT, N_JOINTS
from augreid.metrics.pckh import correct_joints, head_box, pckh


def _pose(**joints) -> np.ndarray:
    keypoints = np.full((N_JOINTS, 2), -1)
    for name, yx in joints.items():
        keypoints[JOINT[name]] = yx
    return keypoints


TARGET = _pose(nose=(10, 30), neck=(22, 30), r_eye=(8, 27), l_eye=(8, 33), r_ear=(9, 24), l_ear=(9, 36),
               r_hip=(60, 26), l_knee=(90, 36))  # head box: 12 wide (x 24..36), 14 high (y 8..22)


def test_head_box_is_the_extent_of_nose_neck_eyes_and_ears():
    assert head_box(TARGET) == (12.0, 14.0)
    assert head_box(_pose(nose=(10, 30), r_hip=(60, 26))) is None  # fewer than two head joints: pair left out


def test_a_joint_is_right_within_half_the_head_box_in_x_and_in_y():
    estimated = TARGET.copy()
    estimated[JOINT["r_hip"]] = (60 + 6.9, 26 + 5.9)  # |dy| < 7 and |dx| < 6: right
    estimated[JOINT["l_knee"]] = (90, 36 + 6)  # |dx| = 6 is not below 0.5 * 12: wrong
    estimated[JOINT["nose"]] = (-1, -1)  # missed by the estimator: wrong
    assert correct_joints(estimated.round().astype(int), TARGET) == (6, 8)
    assert correct_joints(TARGET, _pose(nose=(10, 30))) == (0, 0)


def test_pckh_pools_joints_over_pairs():
    nothing = np.full((N_JOINTS, 2), -1)
    result = pckh(np.stack([TARGET, nothing, TARGET]), np.stack([TARGET, TARGET, _pose(r_hip=(60, 26))]))
    assert result == {"pckh": pytest.approx(8 / 16), "correct": 8, "joints": 16, "pairs": 2, "found": 2}
    assert pckh(np.stack([TARGET]), np.stack([_pose(r_hip=(1, 1))]))["pckh"] is None
