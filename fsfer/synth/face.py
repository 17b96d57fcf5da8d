"""Drawing one face: an :class:`~fsfer.synth.identity.Identity` moved by AU intensities.

Each action unit moves the parts FACS says it moves (Ekman & Friesen, *Facial
Action Coding System*, 1978; the list in Du, Tao & Martinez, PNAS 2014):

========  ==================================================================
AU1       inner ends of the brows up; central forehead wrinkles
AU2       outer ends of the brows up; lateral forehead wrinkles
AU4       brows down and together; vertical furrows between the brows
AU5       upper lid up: white shows above the iris
AU6       cheeks up, lower lid pushed up, bulge under the eye, crow's feet
AU7       lids tightened: lower lid up and straight, eye narrowed
AU9       wrinkles across the nose bridge, nostrils and wings lifted
AU10      upper lip up (square shape, upper teeth show), folds deepen on top
AU11      the nose-to-mouth (nasolabial) fold deepens
AU12      mouth corners up and out (smile), folds curve
AU14      dimpler: corner tucked in, dimple beside it (contempt, one-sided)
AU15      mouth corners down, creases below them
AU17      chin raised: lower lip pushed up, chin boss wrinkled
AU20      mouth corners pulled sideways, lips thinned, corner creases
AU23      lips tightened: narrower mouth, thin red margins
AU24      lips pressed together: closed, thin, bulging skin around
AU25      lips parted: a gap with the upper teeth showing
AU26      jaw dropped: mouth open wide, chin and lower face lower
========  ==================================================================

The face frame is that of :class:`~fsfer.synth.identity.Identity`; the image
frame and pose come from a :class:`~fsfer.synth.geometry.FaceToPixels`. Depths
(for the yaw shift) are 0 on the outline and rise towards the nose tip.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np
from PIL import ImageDraw

from fsfer.synth.geometry import FaceToPixels, Points, arc, bezier, ellipse, through3
from fsfer.synth.identity import RGB, Identity

RGBA = tuple[int, int, int, int]

# Depths for the yaw shift.
D_EAR, D_HAIR_BACK, D_OUTLINE, D_CHEEK, D_EYE, D_MOUTH, D_NOSE, D_TIP = -0.5, -0.2, 0.0, 0.35, 0.45, 0.55, 0.75, 0.95


def shade(c: RGB, f: float, alpha: float = 1.0) -> RGBA:
    """``c`` scaled by ``f`` (darker below 1) with opacity ``alpha``."""
    return (
        min(255, int(c[0] * f)),
        min(255, int(c[1] * f)),
        min(255, int(c[2] * f)),
        max(0, min(255, int(round(255 * alpha)))),
    )


def _mix(a: RGB, b: RGB, t: float, alpha: float = 1.0) -> RGBA:
    return (
        int(a[0] + (b[0] - a[0]) * t),
        int(a[1] + (b[1] - a[1]) * t),
        int(a[2] + (b[2] - a[2]) * t),
        max(0, min(255, int(round(255 * alpha)))),
    )


@dataclass(frozen=True)
class Expression:
    """AU intensities in ``[0, 1]`` and the side they act on (``both``, ``left`` or ``right``).

    ``left``/``right`` are the face's own sides: the subject's left is on the
    image's right (``sx = +1``) in a frontal view.
    """

    aus: Mapping[int, float]
    side: str = "both"

    def a(self, au: int, sx: int = 0) -> float:
        """Intensity of ``au`` on side ``sx`` (-1 image left, +1 image right, 0 the midline)."""
        value = float(self.aus.get(au, 0.0))
        if self.side == "both" or value == 0.0:
            return value
        if sx == 0:
            return 0.5 * value
        return value if (sx > 0) == (self.side == "left") else 0.0


def _line(draw: ImageDraw.ImageDraw, tf: FaceToPixels, pts: Points, depth: float, fill: RGBA, width: float) -> None:
    draw.line(tf(pts, depth), fill=fill, width=tf.width(width), joint="curve")


def _poly(draw: ImageDraw.ImageDraw, tf: FaceToPixels, pts: Points, depth: float, fill: RGBA) -> None:
    draw.polygon(tf(pts, depth), fill=fill)


def head_outline(ident: Identity, chin_y: float, n: int = 40) -> Points:
    """The head outline: an ellipse above the cheekbones, tapering to the chin below."""
    pts = np.empty((n, 2))
    w, top = ident.face_w, ident.face_top
    for k in range(n):
        t = 2 * math.pi * k / n
        s, c = math.sin(t), -math.cos(t)  # c: -1 at the top, +1 at the chin
        if c <= 0:
            pts[k] = (w * s, top * c)
        else:
            taper = 1.0 - ident.jaw * 0.55 * c * c * (0.6 + 0.4 * c)
            pts[k] = (w * s * taper, chin_y * c)
    return pts


def _upper_arc(ident: Identity, y_end: float, grow: float, n: int = 18) -> Points:
    """The head's upper outline grown by ``grow``, from the left side at ``y_end`` over the top to the right."""
    top = ident.face_top + grow
    w = ident.face_w + grow
    t_end = math.asin(max(-1.0, min(1.0, y_end / top)))
    return arc(0.0, 0.0, w, top, math.pi - t_end, 2 * math.pi + t_end, n)


def draw_face(draw: ImageDraw.ImageDraw, tf: FaceToPixels, ident: Identity, expr: Expression) -> None:
    """Draw ``ident`` showing ``expr`` with ``tf`` onto ``draw`` (an RGBA-blending ImageDraw)."""
    a = expr.a
    skin = ident.skin

    # --- jaw and mouth opening (AU25 lips part, AU26 jaw drop; AU24/AU23 hold them closed)
    opening = (0.06 * a(25) + 0.24 * a(26)) * (1.0 - 0.9 * a(24)) * (1.0 - 0.4 * a(23))
    open_dn = 0.75 * opening
    open_up = 0.25 * opening
    jaw_drop = 0.8 * open_dn + 0.03 * a(26) - 0.015 * a(17)
    chin_y = ident.chin_y + jaw_drop

    _draw_hair_back(draw, tf, ident)
    _draw_neck(draw, tf, ident)
    for sx in (-1, 1):
        ex, ey = sx * ident.face_w * 0.97, ident.eye_y + 0.14
        _poly(draw, tf, ellipse(ex, ey, 0.09, 0.17, 16), D_EAR, shade(skin, 0.9))
        _poly(draw, tf, ellipse(ex + sx * 0.015, ey, 0.045, 0.1, 12), D_EAR, shade(skin, 0.75))
    outline = head_outline(ident, chin_y)
    _poly(draw, tf, outline, D_OUTLINE, shade(skin, 0.86))
    _poly(draw, tf, outline * (0.93, 0.95) + (0, -0.03), D_OUTLINE + 0.1, shade(skin, 1.0))

    _draw_cheeks(draw, tf, ident, expr)
    mouth = _mouth_shape(ident, expr, open_up, open_dn)
    _draw_nose_and_folds(draw, tf, ident, expr, mouth)
    _draw_forehead(draw, tf, ident, expr)
    for sx in (-1, 1):
        _draw_eye(draw, tf, ident, expr, sx)
        _draw_brow(draw, tf, ident, expr, sx)
    _draw_mouth(draw, tf, ident, expr, mouth, open_dn)
    _draw_hair_front(draw, tf, ident)
    if ident.glasses:
        _draw_glasses(draw, tf, ident)


# ----------------------------------------------------------------------------- hair, neck


def _draw_hair_back(draw: ImageDraw.ImageDraw, tf: FaceToPixels, ident: Identity) -> None:
    if ident.hair_style == "bald":
        return
    vol = ident.hair_volume
    if ident.hair_style == "long":
        top = _upper_arc(ident, ident.eye_y, vol + 0.04, 20)
        w = ident.face_w + vol + 0.08
        pts = np.vstack([[(-w, 1.5)], top, [(w, 1.5)]])
    else:
        pts = _upper_arc(ident, ident.eye_y - 0.05, vol, 20)
    _poly(draw, tf, pts, D_HAIR_BACK, shade(ident.hair, 0.85))


def _draw_neck(draw: ImageDraw.ImageDraw, tf: FaceToPixels, ident: Identity) -> None:
    nw = 0.36 + 0.1 * ident.jaw
    neck = np.array([(-nw, 0.5), (nw, 0.5), (nw + 0.04, 1.5), (-nw - 0.04, 1.5)])
    _poly(draw, tf, neck, D_HAIR_BACK, shade(ident.skin, 0.78))
    y0 = ident.chin_y + 0.3
    shirt = np.array([(-1.9, 2.2), (-1.7, y0 + 0.25), (-0.9, y0 + 0.02), (-0.35, y0), (0.0, y0 + 0.16),
                      (0.35, y0), (0.9, y0 + 0.02), (1.7, y0 + 0.25), (1.9, 2.2)])
    _poly(draw, tf, shirt, D_HAIR_BACK, shade(ident.shirt, 1.0))


def _draw_hair_front(draw: ImageDraw.ImageDraw, tf: FaceToPixels, ident: Identity) -> None:
    style = ident.hair_style
    if style == "bald":
        return
    brow_y = ident.eye_y - ident.brow_gap
    if style == "bangs":
        y_side = brow_y - 0.06
        y_mid = brow_y - 0.09
    else:
        y_side = brow_y - 0.02
        y_mid = -ident.face_top * ident.hairline
    side = _upper_arc(ident, y_side, 0.012, 20)
    xl, xr = side[0, 0], side[-1, 0]
    if style == "bangs":
        line = through3((xr, y_side), (0.05, y_mid), (xl, y_side), 13)
        line[1:-1:2, 1] += 0.035  # a ragged fringe
    else:
        part = 0.25 * (ident.hairline - 0.53)  # a slightly off-centre part
        line = np.vstack([
            bezier((xr, y_side), (xr * 0.85, y_mid + 0.02), (part, y_mid), 7),
            bezier((part, y_mid), (xl * 0.85, y_mid + 0.05), (xl, y_side), 7)[1:],
        ])
    _poly(draw, tf, np.vstack([side, line]), D_OUTLINE + 0.1, shade(ident.hair, 1.0))
    # Strands and a sheen, so the hair reads as hair rather than a cap.
    top = -ident.face_top
    for k in range(7):
        x_end = (k - 3) * 0.2
        y_end = (y_mid if abs(x_end) < 0.5 else y_side - 0.1) - 0.03
        pts = bezier((x_end * 0.3, top + 0.06), (x_end * 0.95, 0.5 * (top + y_end)), (x_end, y_end), 6)
        _line(draw, tf, pts, D_OUTLINE + 0.1, shade(ident.hair, 0.65, 0.55), 0.014)
    sheen = arc(0.0, 0.0, ident.face_w * 0.75, ident.face_top * 0.85, math.pi * 1.3, math.pi * 1.55, 6)
    _line(draw, tf, sheen, D_OUTLINE + 0.1, _mix(ident.hair, (255, 255, 255), 0.3, 0.5), 0.04)


# ----------------------------------------------------------------------------- upper face


def _draw_forehead(draw: ImageDraw.ImageDraw, tf: FaceToPixels, ident: Identity, expr: Expression) -> None:
    a = expr.a
    brow_y = ident.eye_y - ident.brow_gap
    line_c = ident.skin
    # AU1: central forehead wrinkles; AU2: lateral ones.
    for k, dy in enumerate((0.11, 0.18, 0.25)):
        y = brow_y - dy - 0.06 * a(1) - 0.03 * a(2)
        if a(1) > 0.05:
            pts = through3((-0.24, y + 0.015), (0.0, y - 0.012), (0.24, y + 0.015), 7)
            _line(draw, tf, pts, D_EYE, shade(line_c, 0.72, 0.85 * a(1) * (1 - 0.2 * k)), 0.014)
        for sx in (-1, 1):
            a2 = a(2, sx)
            if a2 > 0.05:
                x0, x1 = sx * 0.2, sx * 0.5
                pts = through3((x0, y), ((x0 + x1) / 2, y - 0.015), (x1, y + 0.02), 6) if sx > 0 else \
                    through3((x1, y + 0.02), ((x0 + x1) / 2, y - 0.015), (x0, y), 6)
                _line(draw, tf, pts, D_EYE, shade(line_c, 0.72, 0.85 * a2 * (1 - 0.2 * k)), 0.014)
    # AU4: vertical furrows between the brows (AU9 adds a little).
    a4 = max(a(4), 0.5 * a(9))
    if a4 > 0.05:
        for sx in (-1, 1):
            x = sx * (0.035 + 0.01 * (1 - a4))
            pts = bezier((x, brow_y + 0.07), (x + sx * 0.012, brow_y - 0.0), (x + sx * 0.005, brow_y - 0.07), 6)
            _line(draw, tf, pts, D_EYE, shade(line_c, 0.65, 0.9 * a4), 0.016)


def _brow_points(ident: Identity, expr: Expression, sx: int) -> tuple[tuple[float, float], ...]:
    a = lambda au: expr.a(au, sx)  # noqa: E731
    y0 = ident.eye_y - ident.brow_gap
    xi = ident.eye_sep - 0.95 * ident.eye_w
    xo = ident.eye_sep + ident.brow_len * ident.eye_w
    xm = xi + 0.55 * (xo - xi)
    inner = (xi - 0.07 * a(4) - 0.01 * a(9), y0 - 0.2 * a(1) + 0.13 * a(4) + 0.04 * a(9) + 0.02 * a(7))
    mid = (xm, y0 - ident.brow_arch - 0.09 * a(1) - 0.12 * a(2) + 0.08 * a(4) + 0.01 * a(9) + 0.015 * a(7))
    outer = (xo, y0 + 0.02 - 0.01 * a(1) - 0.19 * a(2) + 0.04 * a(4) + 0.01 * a(7))
    return tuple((sx * x, y) for x, y in (inner, mid, outer))


def _draw_brow(draw: ImageDraw.ImageDraw, tf: FaceToPixels, ident: Identity, expr: Expression, sx: int) -> None:
    inner, mid, outer = _brow_points(ident, expr, sx)
    ordered = (inner, mid, outer) if sx > 0 else (outer, mid, inner)
    centre = through3(*ordered, n=9)
    n = len(centre)
    t = np.linspace(0.0, 1.0, n) if sx > 0 else np.linspace(1.0, 0.0, n)  # 0 at the inner end
    half = 0.5 * ident.brow_thick * (1.0 - 0.55 * t * t) * (0.85 + 0.6 * t * (1 - t))
    top = centre - np.stack([np.zeros(n), half], axis=1)
    bottom = centre + np.stack([np.zeros(n), half], axis=1)
    _poly(draw, tf, np.vstack([top, bottom[::-1]]), D_EYE, shade(ident.brow, 1.0))


def _eye_lids(ident: Identity, expr: Expression, sx: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    """``x``, upper-lid ``y`` and lower-lid ``y`` along the eye (inner to outer corner), and the centre."""
    a = lambda au: expr.a(au, sx)  # noqa: E731
    cx, cy = sx * ident.eye_sep, ident.eye_y
    up = ident.eye_open * (1.0 + 1.1 * a(5) - 0.35 * a(7) - 0.2 * a(6) - 0.2 * a(4) - 0.12 * a(9) - 0.08 * a(12))
    lo = ident.eye_low * (1.0 - 0.75 * a(7) - 0.65 * a(6) - 0.2 * a(9) - 0.2 * a(12) + 0.1 * a(5))
    up, lo = max(up, 0.012), max(lo, 0.006)
    u = np.linspace(-1.0, 1.0, 13)  # -1 inner corner, +1 outer corner
    x = cx + sx * u * ident.eye_w
    tilt = -ident.eye_tilt * (u + 1.0) * 0.5
    shape = 1.0 - u * u
    y_up = cy + tilt - up * shape * (1.0 - 0.12 * u) * (1.0 + 0.25 * (1.0 - u * u))
    # AU7 straightens the lower lid: a flatter (boxier) curve.
    flat = a(7)
    lo_shape = (1.0 - flat) * shape + flat * (1.0 - u * u * u * u)
    y_lo = cy + tilt + lo * lo_shape * (1.0 + 0.1 * u)
    return x, y_up, y_lo, cx, cy


def _clamped_disc(x: np.ndarray, y_up: np.ndarray, y_lo: np.ndarray, cx: float, cy: float, r: float, sx: int) -> Points:
    """A disc of radius ``r`` cut to the eye opening between the lids."""
    disc = ellipse(cx, cy, r, r, 20)
    xs = x if sx > 0 else x[::-1]
    ups = y_up if sx > 0 else y_up[::-1]
    los = y_lo if sx > 0 else y_lo[::-1]
    top = np.interp(disc[:, 0], xs, ups)
    bot = np.interp(disc[:, 0], xs, los)
    inside = (disc[:, 0] >= xs[0]) & (disc[:, 0] <= xs[-1])
    ymin = np.where(inside, top, cy)
    ymax = np.where(inside, bot, cy)
    disc[:, 1] = np.minimum(np.maximum(disc[:, 1], ymin), ymax)
    disc[:, 0] = np.minimum(np.maximum(disc[:, 0], xs[0]), xs[-1])
    return disc


def _draw_eye(draw: ImageDraw.ImageDraw, tf: FaceToPixels, ident: Identity, expr: Expression, sx: int) -> None:
    a = lambda au: expr.a(au, sx)  # noqa: E731
    skin = ident.skin
    x, y_up, y_lo, cx, cy = _eye_lids(ident, expr, sx)
    upper = np.stack([x, y_up], axis=1)
    lower = np.stack([x, y_lo], axis=1)
    # Socket shadow and lid crease (the crease rises and fades with AU5).
    u = np.linspace(-1.0, 1.0, len(x))
    lift = (0.035 - 0.02 * a(5) + 0.01 * a(4)) * (1.0 - u * u)
    crease = upper - np.stack([np.zeros_like(x), lift], axis=1)
    _poly(draw, tf, np.vstack([crease, lower[::-1]]), D_EYE, shade(skin, 0.9, 0.6))
    _line(draw, tf, crease[2:-2], D_EYE, shade(skin, 0.7, 0.5 * (1 - 0.7 * a(5))), 0.012)
    _poly(draw, tf, np.vstack([upper, lower[::-1]]), D_EYE, (236, 232, 226, 255))
    ix, iy = cx + sx * 0.01 * ident.eye_w, cy + 0.004
    _poly(draw, tf, _clamped_disc(x, y_up, y_lo, ix, iy, ident.iris_r, sx), D_EYE, shade(ident.iris, 1.0))
    _poly(draw, tf, _clamped_disc(x, y_up, y_lo, ix, iy, ident.iris_r * 0.45, sx), D_EYE, (15, 12, 12, 255))
    _poly(draw, tf, ellipse(ix + 0.3 * ident.iris_r, iy - 0.35 * ident.iris_r, 0.012, 0.012, 8), D_EYE,
          (255, 255, 255, 200) if y_lo[6] - y_up[6] > 0.05 else (0, 0, 0, 0))
    _line(draw, tf, upper, D_EYE, shade(ident.brow, 0.6), 0.024)
    _line(draw, tf, lower, D_EYE, shade(skin, 0.62, 0.8 + 0.2 * a(7)), 0.01 + 0.008 * a(7))
    # AU6 / AU7: a bulge under the lower lid; AU6: crow's feet at the outer corner.
    bulge = max(a(6), 0.7 * a(7))
    if bulge > 0.05:
        under = lower[2:-1] + (0, 0.03 + 0.01 * a(6))
        _line(draw, tf, under, D_EYE, shade(skin, 0.7, 0.8 * bulge), 0.012)
    if a(6) > 0.05:
        ox, oy = x[-1] + sx * 0.03, cy
        for dy in (-0.045, 0.0, 0.045):
            pts = np.array([(ox, oy + 0.5 * dy), (ox + sx * 0.08, oy + 1.4 * dy)])
            _line(draw, tf, pts, D_EYE, shade(skin, 0.66, 0.85 * a(6)), 0.012)


def _draw_cheeks(draw: ImageDraw.ImageDraw, tf: FaceToPixels, ident: Identity, expr: Expression) -> None:
    skin = ident.skin
    for sx in (-1, 1):
        a6, a12 = expr.a(6, sx), expr.a(12, sx)
        lift = 0.07 * a6 + 0.03 * a12
        cx, cy = sx * (ident.eye_sep + 0.03), ident.eye_y + 0.3 - lift
        blush = _mix(skin, (255, 170, 150), 0.3, 0.08 + 0.5 * a6 + 0.15 * a12)
        _poly(draw, tf, ellipse(cx, cy, 0.15, 0.095 + 0.02 * a6, 16), D_CHEEK, blush)
        if a6 > 0.05:
            under = arc(cx, cy, 0.16, 0.12, math.pi * 0.15, math.pi * 0.85, 8)
            _line(draw, tf, under, D_CHEEK, shade(skin, 0.72, 0.6 * a6), 0.014)


# ----------------------------------------------------------------------------- nose, folds


@dataclass(frozen=True)
class _Mouth:
    """The mouth as curves over ``u`` in [-1, 1] (image left corner to right corner)."""

    x: np.ndarray
    up_top: np.ndarray
    up_bot: np.ndarray
    lo_top: np.ndarray
    lo_bot: np.ndarray
    mid: np.ndarray
    corners: tuple[tuple[float, float], tuple[float, float]]


def _mouth_shape(ident: Identity, expr: Expression, open_up: float, open_dn: float) -> _Mouth:
    corners = []
    for sx in (-1, 1):
        a = lambda au: expr.a(au, sx)  # noqa: E731
        x = ident.mouth_w + 0.1 * a(12) + 0.15 * a(20) - 0.08 * a(23) - 0.03 * a(24) - 0.035 * a(14) \
            + 0.015 * a(15) - 0.015 * a(17) - 0.02 * a(26)
        y = ident.mouth_y - 0.15 * a(12) + 0.13 * a(15) + 0.03 * a(20) - 0.02 * a(14) + 0.35 * open_dn \
            - 0.015 * a(10)
        corners.append((sx * x, y))
    a = expr.a
    (xl, yl), (xr, yr) = corners
    u = np.linspace(-1.0, 1.0, 17)
    t = (u + 1.0) * 0.5
    x = xl + (xr - xl) * t
    line = yl + (yr - yl) * t
    bulge = 1.0 - u * u
    flat = 1.0 - u * u * u * u
    round_ = np.sqrt(np.maximum(bulge, 0.0))
    centre_y = ident.mouth_y - 0.055 * a(17) - 0.015 * a(10)
    mid = line + (centre_y - 0.5 * (yl + yr)) * bulge
    raise10 = 0.07 * a(10) * (1.0 - 0.9 * a(24))
    thin = 1.0 - 0.5 * a(23) - 0.55 * a(24) - 0.3 * a(20) - 0.2 * a(12)
    up_th = ident.lip_up * max(thin, 0.2)
    lo_th = ident.lip_lo * max(thin + 0.25 * a(17), 0.25)
    up_bot = mid - (open_up + raise10) * flat
    lo_top = mid + open_dn * flat
    bow = 1.0 - 0.3 * np.maximum(1.0 - (u / 0.22) * (u / 0.22), 0.0)
    up_top = up_bot - up_th * round_ * bow - 0.04 * a(10) * flat
    lo_bot = lo_top + lo_th * round_
    return _Mouth(x, up_top, up_bot, lo_top, lo_bot, mid, (corners[0], corners[1]))


def _draw_nose_and_folds(
    draw: ImageDraw.ImageDraw, tf: FaceToPixels, ident: Identity, expr: Expression, mouth: _Mouth
) -> None:
    a = expr.a
    skin = ident.skin
    ny, nw = ident.nose_y, ident.nose_w
    # Nasolabial folds (AU11 deepens; AU10, AU12, AU9, AU6 also show them).
    for sx, corner in ((-1, mouth.corners[0]), (1, mouth.corners[1])):
        b = lambda au: expr.a(au, sx)  # noqa: E731
        lift = 0.045 * b(9) + 0.02 * b(10)
        start = (sx * (nw + 0.03 + 0.02 * b(9)), ny - 0.05 - lift)
        end = (corner[0] + sx * 0.05, corner[1] + 0.05 - 0.02 * b(12))
        ctrl = (sx * (nw + 0.13 + 0.06 * b(12) + 0.03 * b(11)), 0.5 * (start[1] + end[1]) - 0.02)
        depth = ident.fold + 0.6 * b(11) + 0.4 * b(12) + 0.35 * b(10) + 0.2 * b(9) + 0.15 * b(6) + 0.15 * b(20)
        depth = min(depth, 1.0)
        pts = bezier(start, ctrl, end, 9)
        _line(draw, tf, pts + (sx * 0.012, 0), D_CHEEK, _mix(skin, (255, 255, 255), 0.25, 0.5 * depth), 0.02)
        _line(draw, tf, pts, D_CHEEK, shade(skin, 0.62, depth), 0.012 + 0.014 * b(11))
    # Bridge and AU9 wrinkles across it.
    for sx in (-1, 1):
        side = bezier((sx * 0.07, ident.eye_y - 0.02), (sx * 0.06, ny - 0.2), (sx * nw * 0.7, ny - 0.07), 7)
        _line(draw, tf, side, D_NOSE, shade(skin, 0.8, 0.45), 0.012)
    if a(9) > 0.05:
        for k, dy in enumerate((0.02, 0.07, 0.12)):
            y = ident.eye_y + dy
            pts = through3((-0.075, y + 0.01), (0.0, y - 0.012), (0.075, y + 0.01), 5)
            _line(draw, tf, pts, D_NOSE, shade(skin, 0.62, a(9) * (1.0 - 0.15 * k)), 0.014)
    # Tip, wings and nostrils; AU9 (and a little AU10) lift and flare them.
    lift = 0.06 * a(9) + 0.02 * a(10)
    flare = 0.025 * a(9) + 0.012 * a(10) + 0.01 * a(26)
    highlight = _mix(skin, (255, 255, 255), 0.12, 0.7)
    _poly(draw, tf, ellipse(0.0, ny - 0.05 - 0.5 * lift, nw * 0.55, 0.06, 14), D_TIP, highlight)
    tip = through3((-nw * 0.55, ny - 0.01 - lift), (0.0, ny + 0.02 - 0.6 * lift), (nw * 0.55, ny - 0.01 - lift), 7)
    _line(draw, tf, tip, D_TIP, shade(skin, 0.72, 0.9), 0.014)
    for sx in (-1, 1):
        w = nw + flare
        top, bend, base = (w * 0.55, -0.085), (w + 0.03, -0.04), (w * 0.6, 0.005)
        wing = bezier(*((sx * px, ny + py - lift) for px, py in (top, bend, base)), n=7)
        _line(draw, tf, wing, D_NOSE, shade(skin, 0.7, 0.9), 0.014)
        _poly(draw, tf, ellipse(sx * w * 0.42, ny - 0.012 - lift, 0.038 + 0.3 * flare, 0.02 + 0.2 * flare, 12), D_TIP,
              shade(skin, 0.35, 0.95))


# ----------------------------------------------------------------------------- mouth, chin


def _draw_mouth(
    draw: ImageDraw.ImageDraw, tf: FaceToPixels, ident: Identity, expr: Expression, m: _Mouth, open_dn: float
) -> None:
    a = expr.a
    skin, lips = ident.skin, ident.lips

    def curve(y: np.ndarray) -> Points:
        return np.stack([m.x, y], axis=1)

    # Chin: the fold under the lower lip; AU17 pushes it up and wrinkles the chin boss.
    cy = float(m.lo_bot[8]) + 0.075 - 0.025 * a(17) + 0.2 * open_dn
    sulcus = through3((-0.11, cy + 0.015), (0.0, cy - 0.01 * (1 - a(17))), (0.11, cy + 0.015), 7)
    _line(draw, tf, sulcus, D_MOUTH, shade(skin, 0.72, 0.35 + 0.6 * a(17)), 0.014 + 0.008 * a(17))
    if a(17) > 0.05:
        for dx, dy in ((-0.06, 0.07), (0.05, 0.08), (0.0, 0.11), (-0.03, 0.13), (0.06, 0.125)):
            _poly(draw, tf, ellipse(dx, cy + dy, 0.014, 0.011, 8), D_MOUTH, shade(skin, 0.75, 0.8 * a(17)))
    # Creases beside the corners: AU15 down, AU20 sideways, AU14 dimple.
    for sx, (kx, ky) in ((-1, m.corners[0]), (1, m.corners[1])):
        b = lambda au: expr.a(au, sx)  # noqa: E731
        if b(15) > 0.05:
            _line(draw, tf, bezier((kx, ky + 0.02), (kx + sx * 0.02, ky + 0.08), (kx + sx * 0.0, ky + 0.14), 5),
                  D_MOUTH, shade(skin, 0.68, 0.8 * b(15)), 0.014)
        if b(20) > 0.05:
            _line(draw, tf, bezier((kx + sx * 0.02, ky - 0.03), (kx + sx * 0.05, ky), (kx + sx * 0.02, ky + 0.04), 5),
                  D_MOUTH, shade(skin, 0.68, 0.8 * b(20)), 0.013)
        if b(14) > 0.05:
            _line(draw, tf, bezier((kx + sx * 0.04, ky - 0.04), (kx + sx * 0.065, ky), (kx + sx * 0.04, ky + 0.04), 5),
                  D_MOUTH, shade(skin, 0.6, b(14)), 0.018)
    if a(24) > 0.05:
        _line(draw, tf, curve(m.up_top - 0.025)[3:-3], D_MOUTH, shade(skin, 0.75, 0.7 * a(24)), 0.012)
        _line(draw, tf, curve(m.lo_bot + 0.025)[3:-3], D_MOUTH, shade(skin, 0.75, 0.7 * a(24)), 0.012)

    gap = m.lo_top - m.up_bot
    if float(gap.max()) > 0.004:
        _poly(draw, tf, np.vstack([curve(m.up_bot), curve(m.lo_top)[::-1]]), D_MOUTH, (70, 22, 28, 255))
        uu = np.linspace(-1.0, 1.0, len(m.x))
        flat = 1.0 - uu * uu * uu * uu
        teeth_lo = np.minimum(m.up_bot + 0.055 * flat, m.lo_top)
        _poly(draw, tf, np.vstack([curve(m.up_bot), curve(teeth_lo)[::-1]]), D_MOUTH, (238, 234, 220, 255))
        if float(gap.max()) > 0.09:
            teeth_hi = np.maximum(m.lo_top - 0.035 * flat, teeth_lo + 0.03)
            teeth_hi = np.minimum(teeth_hi, m.lo_top)
            _poly(draw, tf, np.vstack([curve(teeth_hi), curve(m.lo_top)[::-1]]), D_MOUTH, (220, 215, 200, 255))
    _poly(draw, tf, np.vstack([curve(m.up_top), curve(m.up_bot)[::-1]]), D_MOUTH, shade(lips, 0.92))
    _poly(draw, tf, np.vstack([curve(m.lo_top), curve(m.lo_bot)[::-1]]), D_MOUTH, shade(lips, 1.05))
    if float(gap.max()) <= 0.004:
        _line(draw, tf, curve(m.mid), D_MOUTH, shade(lips, 0.5), 0.012)
    else:
        _line(draw, tf, curve(m.up_bot), D_MOUTH, shade(lips, 0.6), 0.008)


# ----------------------------------------------------------------------------- glasses


def _draw_glasses(draw: ImageDraw.ImageDraw, tf: FaceToPixels, ident: Identity) -> None:
    c = ident.glasses_colour
    col = (c[0], c[1], c[2], 255)
    rx, ry = ident.eye_w * 1.45, 0.14 if ident.glasses_round else 0.11
    for sx in (-1, 1):
        cx, cy = sx * ident.eye_sep, ident.eye_y + 0.01
        rim = ellipse(cx, cy, rx, ry if ident.glasses_round else ry * 1.1, 24)
        if not ident.glasses_round:
            rim = np.clip(rim, (cx - rx * 0.92, cy - ry), (cx + rx * 0.92, cy + ry))
        _poly(draw, tf, rim, D_EYE + 0.1, (200, 220, 235, 40))
        _line(draw, tf, np.vstack([rim, rim[:1]]), D_EYE + 0.1, col, 0.022)
        arm = np.array([(cx + sx * rx * 0.9, cy - 0.04), (sx * ident.face_w * 0.98, cy - 0.02)])
        _line(draw, tf, arm, D_CHEEK, col, 0.02)
    bridge = through3((-ident.eye_sep + rx * 0.9, ident.eye_y - 0.02), (0.0, ident.eye_y - 0.05),
                      (ident.eye_sep - rx * 0.9, ident.eye_y - 0.02), 5)
    _line(draw, tf, bridge, D_NOSE, col, 0.02)
