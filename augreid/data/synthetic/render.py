"""Draw a synthetic person on a camera's background: limbs with thickness, torso, head and hair, bag.

Parts are drawn far to near (painter's order by depth towards the camera), on a 2x canvas that is then
reduced to 128x64, so edges are anti-aliased like a real low-resolution crop.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from augreid.data.pose import IMAGE_SIZE, JOINT
from augreid.data.synthetic.appearance import Appearance, Colour
from augreid.data.synthetic.body import ProjectedBody
from augreid.data.synthetic.scene import Camera, background

SUPERSAMPLE = 2
Part = tuple[float, Callable[[ImageDraw.ImageDraw], None]]


class _Painter:
    """Drawing primitives in crop pixel units on the supersampled canvas."""

    def __init__(self, canvas: Image.Image):
        self.canvas = canvas
        self.draw = ImageDraw.Draw(canvas)

    @staticmethod
    def _xy(point: np.ndarray) -> tuple[float, float]:
        return float(point[1]) * SUPERSAMPLE, float(point[0]) * SUPERSAMPLE

    def limb(self, a: np.ndarray, b: np.ndarray, width: float, colour: Colour) -> None:
        w = width * SUPERSAMPLE
        self.draw.line([self._xy(a), self._xy(b)], fill=colour, width=int(round(w)))
        for point in (a, b):
            self.disc(point, width / 2, colour)

    def disc(self, centre: np.ndarray, radius: float, colour: Colour, squash: float = 1.0) -> None:
        x, y = self._xy(centre)
        rx, ry = radius * SUPERSAMPLE * squash, radius * SUPERSAMPLE
        self.draw.ellipse([x - rx, y - ry, x + rx, y + ry], fill=colour)

    def polygon(self, points: list[np.ndarray], colour: Colour) -> None:
        self.draw.polygon([self._xy(p) for p in points], fill=colour)

    def striped_polygon(self, points: list[np.ndarray], colours: tuple[Colour, Colour], period: float) -> None:
        """A polygon filled with horizontal bands of two colours."""
        mask = Image.new("L", self.canvas.size)
        ImageDraw.Draw(mask).polygon([self._xy(p) for p in points], fill=255)
        bands = Image.new("RGB", self.canvas.size, colours[0])
        band_draw = ImageDraw.Draw(bands)
        step = period * SUPERSAMPLE
        for top in np.arange(0, self.canvas.size[1], 2 * step):
            band_draw.rectangle([0, top + step, self.canvas.size[0], top + 2 * step - 1], fill=colours[1])
        self.canvas.paste(bands, (0, 0), mask)


def _torso_outline(body: ProjectedBody) -> tuple[np.ndarray, np.ndarray, float, float]:
    points = body.points
    shoulders = (points[JOINT["r_shoulder"]] + points[JOINT["l_shoulder"]]) / 2
    hips = (points[JOINT["r_hip"]] + points[JOINT["l_hip"]]) / 2
    return shoulders, hips, body.torso_half_width[0], body.torso_half_width[1]


def _across(centre: np.ndarray, half: float) -> tuple[np.ndarray, np.ndarray]:
    return centre + (0, -half), centre + (0, half)


def _torso_parts(p: _Painter, body: ProjectedBody, look: Appearance) -> list[Part]:
    shoulders, hips, half_top, half_hip = _torso_outline(body)
    (sl, sr), (hl, hr) = _across(shoulders + (-1.5, 0), half_top), _across(hips + (3, 0), half_hip)
    outline = [sl, sr, hr, hl]
    facing = np.cos(body.yaw)

    def torso(_: ImageDraw.ImageDraw) -> None:
        p.limb(body.points[JOINT["neck"]], shoulders - (4, 0), 4.5, look.skin)
        if look.top_pattern == "stripes":
            p.striped_polygon(outline, (look.top, look.top_second), period=4.0)
        elif look.top_pattern == "halves":
            waist_l, waist_r = (sl + hl) / 2, (sr + hr) / 2
            p.polygon([sl, sr, waist_r, waist_l], look.top)
            p.polygon([waist_l, waist_r, hr, hl], look.top_second)
        else:
            p.polygon(outline, look.top)
            if look.top_pattern == "logo" and facing > 0.3:
                chest = shoulders + 0.35 * (hips - shoulders)
                p.polygon(list(_across(chest - (4, 0), 5 * facing)) [::-1] + list(_across(chest + (4, 0), 5 * facing)),
                          look.top_second)
        if look.bottom_style == "skirt":
            knees = (body.points[JOINT["r_knee"]] + body.points[JOINT["l_knee"]]) / 2
            bl, br = _across(hips, half_hip)
            kl, kr = _across(hips + 0.7 * (knees - hips), half_hip + 4)
            p.polygon([bl, br, kr, kl], look.bottom)
        if look.bag == "shoulder_bag":  # the strap runs across chest and back alike
            p.limb(sr, hl, 1.6, look.bag_colour)
        elif look.bag == "backpack" and facing > 0.3:  # backpack straps show from the front only
            for top, bottom in ((sl, hl), (sr, hr)):
                p.limb(top + 0.3 * (shoulders - top), bottom + 0.5 * (hips - bottom) - (10, 0), 1.6, look.bag_colour)

    return [(0.0, torso)]


def _limb_parts(p: _Painter, body: ProjectedBody, look: Appearance) -> list[Part]:
    points, depth, limb = body.points, body.depth, look.build.limb
    forward = np.array([0.0, np.sin(body.yaw)])
    parts: list[Part] = []
    for side in ("r", "l"):
        hip, knee, ankle = (points[JOINT[f"{side}_{j}"]] for j in ("hip", "knee", "ankle"))
        shoulder, elbow, wrist = (points[JOINT[f"{side}_{j}"]] for j in ("shoulder", "elbow", "wrist"))
        shin_colour = look.skin if look.bottom_style != "trousers" else look.bottom
        thigh_colour = look.bottom if look.bottom_style != "skirt" else look.skin

        def leg(_, hip=hip, knee=knee, ankle=ankle, shin_colour=shin_colour, thigh_colour=thigh_colour) -> None:
            p.limb(hip, knee, limb * 1.35, thigh_colour)
            p.limb(knee, ankle, limb * 1.1, shin_colour)
            p.disc(ankle + (1.5, 0) + 2.5 * forward, 3.0, look.shoes, squash=1.3)

        def arm(_, shoulder=shoulder, elbow=elbow, wrist=wrist) -> None:
            p.limb(shoulder, elbow, limb, look.top)
            p.limb(elbow, wrist, limb * 0.85, look.top if look.long_sleeves else look.skin)
            p.disc(wrist + (1.5, 0), limb * 0.5, look.skin)

        leg_depth = depth[[JOINT[f"{side}_{j}"] for j in ("hip", "knee", "ankle")]].mean()
        arm_depth = depth[[JOINT[f"{side}_{j}"] for j in ("elbow", "wrist")]].mean()
        parts += [(leg_depth - 0.5, leg), (arm_depth + 0.5, arm)]
    return parts


def _head_parts(p: _Painter, body: ProjectedBody, look: Appearance) -> list[Part]:
    head, radius, facing, side = body.head, body.head_radius, np.cos(body.yaw), np.sin(body.yaw)
    hair_colour = look.hair

    def head_part(_: ImageDraw.ImageDraw) -> None:
        p.disc(head, radius, hair_colour, squash=0.82)
        if facing > -0.3:
            face = head + (0.25 * radius, 0.45 * radius * side)
            p.disc(face, 0.78 * radius, look.skin, squash=0.6 + 0.25 * max(facing, 0.0))
            if facing > 0.3:
                for eye in ("r_eye", "l_eye"):
                    p.disc(body.points[JOINT[eye]], 0.7, (40, 30, 30))
        if look.hair_style == "cap":
            p.draw.chord([(head[1] - radius * 0.9) * SUPERSAMPLE, (head[0] - radius * 1.05) * SUPERSAMPLE,
                          (head[1] + radius * 0.9) * SUPERSAMPLE, (head[0] + radius * 0.5) * SUPERSAMPLE],
                         180, 360, fill=look.top_second)

    def long_hair(_: ImageDraw.ImageDraw) -> None:
        p.limb(head, head + (radius * 2.6, 0), radius * 1.7, hair_colour)

    parts: list[Part] = [(1.0, head_part)]
    if look.hair_style == "long":
        parts.append((-3.0 * facing, long_hair))
    return parts


def _bag_parts(p: _Painter, body: ProjectedBody, look: Appearance) -> list[Part]:
    shoulders, hips, half_top, _ = _torso_outline(body)
    facing, side = np.cos(body.yaw), np.sin(body.yaw)
    if look.bag == "backpack":
        behind = -(look.build.depth / 2 + 3)  # the pack sits on the back, z < 0 in the body frame
        centre = shoulders + 0.4 * (hips - shoulders) + (0, behind * side)
        half = 0.75 * half_top * max(abs(facing), 0.55)

        def pack(_: ImageDraw.ImageDraw) -> None:
            top_l, top_r = _across(centre - (12, 0), half)
            bottom_l, bottom_r = _across(centre + (13, 0), half)
            p.polygon([top_l, top_r, bottom_r, bottom_l], look.bag_colour)

        return [(behind * facing, pack)]
    if look.bag == "shoulder_bag":
        bag_x = -(look.build.hip_width / 2 + 5)  # on the person's right side
        centre = hips + (-2, bag_x * facing)

        def bag(_: ImageDraw.ImageDraw) -> None:
            top_l, top_r = _across(centre - (5, 0), 4.5 + 2 * abs(side))
            bottom_l, bottom_r = _across(centre + (6, 0), 4.5 + 2 * abs(side))
            p.polygon([top_l, top_r, bottom_r, bottom_l], look.bag_colour)

        return [(-bag_x * side + 1.0, bag)]
    return []


def render_person(body: ProjectedBody, look: Appearance, camera: Camera, rng: np.random.Generator) -> np.ndarray:
    """(128, 64, 3) uint8 image of `look` in the projected pose, seen by `camera`."""
    height, width = IMAGE_SIZE
    base = background(camera, rng, height * SUPERSAMPLE, width * SUPERSAMPLE)
    canvas = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    painter = _Painter(canvas)
    parts = (_limb_parts(painter, body, look) + _torso_parts(painter, body, look)
             + _head_parts(painter, body, look) + _bag_parts(painter, body, look))
    for _, draw_part in sorted(parts, key=lambda part: part[0]):
        draw_part(painter.draw)
    return finish(canvas, camera, rng)


def render_background(camera: Camera, rng: np.random.Generator) -> np.ndarray:
    """A crop with nobody in it: the `0000` distractors of bounding_box_test."""
    height, width = IMAGE_SIZE
    base = background(camera, rng, height * SUPERSAMPLE, width * SUPERSAMPLE)
    return finish(Image.fromarray(np.clip(base, 0, 255).astype(np.uint8)), camera, rng)


def finish(canvas: Image.Image, camera: Camera, rng: np.random.Generator) -> np.ndarray:
    """Reduce to 128x64, then the camera's optics and lighting: blur, colour cast, brightness, sensor noise."""
    height, width = IMAGE_SIZE
    image = canvas.resize((width, height), Image.Resampling.BOX)
    if camera.blur > 0.05:
        image = image.filter(ImageFilter.GaussianBlur(camera.blur))
    pixels = np.asarray(image, dtype=np.float32)
    gain = np.asarray(camera.gain, dtype=np.float32) * rng.uniform(0.85, 1.15)
    pixels = pixels * gain + rng.normal(0, 3.0, size=pixels.shape)
    return np.clip(pixels, 0, 255).astype(np.uint8)
