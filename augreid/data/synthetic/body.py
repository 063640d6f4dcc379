"""A 3-D stick figure that walks, turned to a view and projected onto the 128x64 crop.

Body frame: x to the person's left (their right side is -x, so a person facing the camera shows the right
shoulder on the image's left, as in Market-1501), y down from the top of the head, z forward. Units are pixels
of a 128x64 crop at scale 1 (head top to ankle about 113 px).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from augreid.data.pose import IMAGE_SIZE, JOINT, MISSING, N_JOINTS


@dataclass(frozen=True)
class Build:
    """An identity's body proportions."""

    height: float  # multiplies every vertical length
    shoulder_width: float
    hip_width: float
    depth: float  # front-to-back thickness of the torso
    limb: float  # limb thickness in pixels

    @staticmethod
    def sample(rng: np.random.Generator) -> "Build":
        return Build(
            height=rng.uniform(0.92, 1.04),
            shoulder_width=rng.uniform(20.0, 28.0),
            hip_width=rng.uniform(13.0, 19.0),
            depth=rng.uniform(10.0, 15.0),
            limb=rng.uniform(6.0, 8.5),
        )


@dataclass(frozen=True)
class Stance:
    """One image's pose parameters: where the person faces, the walking phase, and the framing."""

    yaw: float  # radians; 0 faces the camera, pi shows the back, +pi/2 walks to the image's right
    phase: float  # walking phase in radians
    stride: float  # leg swing amplitude in radians (small = standing)
    arm_spread: float  # sideways angle of the arms in radians
    scale: float
    centre_x: float
    top_y: float  # image row of the top of the head


@dataclass(frozen=True)
class ProjectedBody:
    """Image positions (y, x) and depths (towards the camera) of the 18 joints, plus the head centre."""

    points: np.ndarray  # (18, 2) float
    depth: np.ndarray  # (18,) float
    head: np.ndarray  # (2,) float
    head_radius: float
    torso_half_width: tuple[float, float]  # at the shoulders and at the hips, in image pixels
    yaw: float


def _segment(angle: float, length: float, spread: float = 0.0) -> np.ndarray:
    """A limb of `length` swung forward by `angle` in the sagittal plane and sideways by `spread`."""
    return length * np.array([np.sin(spread), np.cos(angle) * np.cos(spread), np.sin(angle) * np.cos(spread)])


def body_joints(build: Build, stance: Stance) -> np.ndarray:
    """(18, 3) joint positions (x, y, z) in the body frame for a walking phase."""
    h = build.height
    joints = np.zeros((N_JOINTS, 3))
    joints[JOINT["nose"]] = (0.0, 11.0 * h, 5.0)
    joints[JOINT["r_eye"]] = (-2.6, 8.5 * h, 4.0)
    joints[JOINT["l_eye"]] = (2.6, 8.5 * h, 4.0)
    joints[JOINT["r_ear"]] = (-5.0, 9.5 * h, -0.5)
    joints[JOINT["l_ear"]] = (5.0, 9.5 * h, -0.5)
    joints[JOINT["neck"]] = (0.0, 21.0 * h, 0.0)
    swing = stance.stride * np.sin(stance.phase)
    for side, sign in (("r", -1.0), ("l", 1.0)):
        leg_swing = swing if side == "r" else -swing
        # the knee bends while the leg travels forward, most at mid-swing
        knee_bend = 1.6 * stance.stride * max(0.0, np.cos(stance.phase if side == "r" else stance.phase + np.pi))
        shoulder = np.array([sign * build.shoulder_width / 2, 23.0 * h, 0.0])
        elbow = shoulder + _segment(-0.8 * leg_swing, 19.0 * h, sign * stance.arm_spread)
        wrist = elbow + _segment(-0.8 * leg_swing + 0.25 + stance.stride, 17.0 * h, sign * stance.arm_spread)
        hip = np.array([sign * build.hip_width / 2, 60.0 * h, 0.0])
        knee = hip + _segment(leg_swing, 27.0 * h)
        ankle = knee + _segment(leg_swing - knee_bend, 26.0 * h)
        for joint, value in (("shoulder", shoulder), ("elbow", elbow), ("wrist", wrist),
                             ("hip", hip), ("knee", knee), ("ankle", ankle)):
            joints[JOINT[f"{side}_{joint}"]] = value
    return joints


def project(build: Build, stance: Stance) -> ProjectedBody:
    """Turn the body by its yaw and project orthographically onto the crop."""
    joints = body_joints(build, stance)
    cos, sin = np.cos(stance.yaw), np.sin(stance.yaw)
    image_x = joints[:, 0] * cos + joints[:, 2] * sin
    depth = -joints[:, 0] * sin + joints[:, 2] * cos
    points = np.stack([stance.top_y + stance.scale * joints[:, 1], stance.centre_x + stance.scale * image_x], axis=1)
    head = np.array([stance.top_y + stance.scale * 9.5 * build.height, stance.centre_x])
    # the torso is a box: its outline is as wide as the shoulders seen from the front, as deep seen from the side
    half = tuple(
        stance.scale * 0.5 * (abs(cos) * width + abs(sin) * build.depth) + 1.0
        for width in (build.shoulder_width, build.hip_width + 4.0)
    )
    return ProjectedBody(points, stance.scale * depth, head, stance.scale * 6.2, half, stance.yaw)


# Surface normals of the face joints in the body frame: a joint faces away from the camera when hidden.
_FACE_NORMALS = {
    "nose": (0.0, 1.0), "r_eye": (-0.35, 0.94), "l_eye": (0.35, 0.94), "r_ear": (-1.0, -0.15), "l_ear": (1.0, -0.15),
}
_FACE_THRESHOLD = {"nose": -0.15, "r_eye": 0.05, "l_eye": 0.05, "r_ear": -0.2, "l_ear": -0.2}
# Chance that an annotator / pose estimator still misses a visible joint (rates close to the real train file).
DROP_RATE = np.array([0.08, 0.02, 0.01, 0.12, 0.25, 0.01, 0.12, 0.25, 0.01, 0.05, 0.15, 0.01, 0.05, 0.15,
                      0.08, 0.08, 0.1, 0.1])
# Chance that a joint behind the torso is hidden: limbs usually, shoulders and hips rarely (estimators infer them).
OCCLUDED_RATE = np.array([0, 0, 0.05, 0.6, 0.7, 0.05, 0.6, 0.7, 0.05, 0.3, 0.4, 0.05, 0.3, 0.4, 0, 0, 0, 0])


def annotate(body: ProjectedBody, rng: np.random.Generator) -> np.ndarray:
    """(18, 2) integer keypoints as an annotation file holds them: hidden, dropped or off-crop joints are -1."""
    keypoints = np.rint(body.points).astype(np.int64)
    cos, sin = np.cos(body.yaw), np.sin(body.yaw)
    hidden = np.zeros(N_JOINTS, dtype=bool)
    for name, (nx, nz) in _FACE_NORMALS.items():
        hidden[JOINT[name]] = -nx * sin + nz * cos < _FACE_THRESHOLD[name]
    torso_x = body.points[JOINT["neck"], 1]
    behind = (body.depth < -2.0) & (np.abs(body.points[:, 1] - torso_x) < body.torso_half_width[0])
    hidden |= behind & (rng.random(N_JOINTS) < OCCLUDED_RATE)
    hidden |= rng.random(N_JOINTS) < DROP_RATE
    height, width = IMAGE_SIZE
    outside = (keypoints[:, 0] < 0) | (keypoints[:, 0] >= height) | (keypoints[:, 1] < 0) | (keypoints[:, 1] >= width)
    keypoints[hidden | outside] = MISSING
    return keypoints
