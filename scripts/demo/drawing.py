"""Drawing the demo characters: Pillow primitives, supersampled 2x and downscaled (scripts/demo/make_demo.py).

:func:`render` turns one image spec of a character's YAML (``img:``: kind, background, size, position,
pose, mood, props) into a PIL image; the same spec and seed always give the same pixels.
"""

from __future__ import annotations

import math

from PIL import Image, ImageDraw

# ---------------------------------------------------------------------------------------------
# Drawing: three characters rendered with Pillow primitives, supersampled 2x and downscaled.
# ---------------------------------------------------------------------------------------------

SS = 2  # supersampling factor

PALETTE = {
    "robot_head": (242, 140, 40),
    "robot_head_dark": (176, 88, 20),
    "robot_body": (42, 157, 143),
    "robot_body_dark": (24, 94, 86),
    "robot_eye": (30, 111, 217),
    "robot_metal": (141, 153, 174),
    "robot_metal_dark": (84, 94, 112),
    "brass": (201, 162, 39),
    "lamp": (255, 214, 10),
    "rust": (140, 70, 30),
    "fox_fur": (217, 72, 15),
    "fox_fur_dark": (150, 45, 8),
    "fox_cream": (255, 236, 200),
    "fox_skin": (255, 218, 185),
    "fox_apron": (58, 125, 68),
    "fox_apron_dark": (34, 84, 42),
    "fox_blouse": (255, 243, 214),
    "fox_boot": (110, 66, 38),
    "cat_fur": (59, 51, 85),
    "cat_fur_dark": (35, 30, 52),
    "cat_eye": (244, 208, 63),
    "cat_hat": (35, 32, 107),
    "cat_hat_dark": (20, 18, 70),
    "cat_cloak": (91, 42, 134),
    "cat_cloak_dark": (60, 24, 92),
    "cat_star": (250, 215, 60),
    "gold": (212, 175, 55),
    "staff": (120, 78, 40),
    "gem": (46, 204, 113),
    "ink": (25, 22, 30),
    "white": (255, 255, 255),
}


def _c(name, a=255):
    r, g, b = PALETTE[name]
    return (r, g, b, a)


class Pen:
    """A thin wrapper over ImageDraw that works in output pixels and scales by SS."""

    def __init__(self, img):
        self.img = img
        self.d = ImageDraw.Draw(img)

    def _b(self, box):
        return [v * SS for v in box]

    def ellipse(self, box, fill=None, outline=None, width=0):
        self.d.ellipse(self._b(box), fill=fill, outline=outline, width=int(width * SS))

    def circle(self, cx, cy, r, fill=None, outline=None, width=0):
        self.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill, outline=outline, width=width)

    def rect(self, box, fill=None, outline=None, width=0, radius=0):
        if radius:
            self.d.rounded_rectangle(
                self._b(box), radius=radius * SS, fill=fill, outline=outline, width=int(width * SS)
            )
        else:
            self.d.rectangle(self._b(box), fill=fill, outline=outline, width=int(width * SS))

    def poly(self, pts, fill=None, outline=None, width=0):
        p = [(x * SS, y * SS) for x, y in pts]
        self.d.polygon(p, fill=fill, outline=outline, width=max(1, int(width * SS)) if outline else 1)

    def line(self, pts, fill, width):
        p = [(x * SS, y * SS) for x, y in pts]
        self.d.line(p, fill=fill, width=max(1, int(width * SS)), joint="curve")

    def arc(self, box, start, end, fill, width):
        self.d.arc(self._b(box), start, end, fill=fill, width=max(1, int(width * SS)))

    def chord(self, box, start, end, fill):
        self.d.chord(self._b(box), start, end, fill=fill)

    def pieslice(self, box, start, end, fill):
        self.d.pieslice(self._b(box), start, end, fill=fill)


def _star(pen, cx, cy, r, fill, rot=0.0):
    pts = []
    for i in range(10):
        ang = rot + math.pi / 2 + i * math.pi / 5
        rr = r if i % 2 == 0 else r * 0.45
        pts.append((cx + rr * math.cos(ang), cy - rr * math.sin(ang)))
    pen.poly(pts, fill=fill)


def _vgradient(pen, w, h, top, bottom, y0=0, y1=None):
    y1 = h if y1 is None else y1
    n = max(1, (y1 - y0) * SS)
    for i in range(n):
        t = i / max(1, n - 1)
        col = tuple(int(round(top[k] + (bottom[k] - top[k]) * t)) for k in range(3)) + (255,)
        pen.d.line([(0, y0 * SS + i), (w * SS, y0 * SS + i)], fill=col)


# --- backgrounds --------------------------------------------------------------------------------


def bg_sea(pen, w, h, rng, sunset=False, night=False):
    if night:
        _vgradient(pen, w, h, (12, 16, 48), (40, 52, 100), 0, int(h * 0.62))
        sea, foam = (20, 45, 90), (60, 90, 140)
    elif sunset:
        _vgradient(pen, w, h, (250, 150, 90), (255, 214, 170), 0, int(h * 0.62))
        pen.circle(w * 0.2, h * 0.5, h * 0.09, fill=(255, 236, 160, 255))
        sea, foam = (40, 60, 110), (90, 110, 160)
    else:
        _vgradient(pen, w, h, (120, 190, 240), (205, 232, 250), 0, int(h * 0.62))
        sea, foam = (32, 96, 170), (150, 200, 235)
    pen.rect((0, h * 0.62, w, h), fill=sea + (255,))
    for i in range(6):
        y = h * 0.66 + i * h * 0.055
        x = rng.uniform(-10, w * 0.3)
        while x < w:
            pen.arc((x, y, x + 16, y + 6), 200, 340, fill=foam + (255,), width=1)
            x += rng.uniform(20, 34)
    # distant lighthouse, red and white stripes, on a rock
    lx = w * 0.86
    base = h * 0.62
    pen.ellipse((lx - 16, base - 6, lx + 16, base + 6), fill=(90, 84, 80, 255))
    for k in range(5):
        y0 = base - (k + 1) * h * 0.06
        col = (200, 40, 40, 255) if k % 2 == 0 else (245, 245, 245, 255)
        half = 7 - k * 0.8
        pen.poly(
            [
                (lx - half - 0.8, y0 + h * 0.06),
                (lx + half + 0.8, y0 + h * 0.06),
                (lx + half, y0),
                (lx - half, y0),
            ],
            fill=col,
        )
    top = base - 5 * h * 0.06
    pen.rect((lx - 4, top - 6, lx + 4, top), fill=(255, 230, 120, 255))
    pen.poly([(lx - 5, top - 6), (lx + 5, top - 6), (lx, top - 11)], fill=(60, 60, 60, 255))


def bg_night(pen, w, h, rng, ground=(30, 40, 60)):
    _vgradient(pen, w, h, (12, 16, 48), (40, 52, 100), 0, h)
    for _ in range(40):
        x, y = rng.uniform(0, w), rng.uniform(0, h * 0.6)
        r = rng.choice([0.6, 0.8, 1.1])
        pen.circle(x, y, r, fill=(255, 255, 230, 255))
    pen.circle(w * 0.78, h * 0.18, h * 0.08, fill=(245, 240, 210, 255))
    pen.circle(w * 0.78 + h * 0.03, h * 0.16, h * 0.07, fill=(22, 28, 66, 255))
    pen.rect((0, h * 0.8, w, h), fill=ground + (255,))


def bg_sea_night(pen, w, h, rng):
    bg_sea(pen, w, h, rng, night=True)
    for _ in range(30):
        pen.circle(
            rng.uniform(0, w * 0.7),
            rng.uniform(0, h * 0.5),
            rng.choice([0.6, 0.9]),
            fill=(255, 255, 230, 255),
        )
    pen.circle(w * 0.12, h * 0.14, h * 0.06, fill=(245, 240, 210, 255))
    pen.circle(w * 0.12 + h * 0.025, h * 0.125, h * 0.052, fill=(20, 26, 62, 255))


def bg_dock_snow(pen, w, h, rng):
    bg_dock(pen, w, h, rng)
    _vgradient(pen, w, h, (190, 200, 215), (225, 230, 238), 0, int(h * 0.55))
    for i in range(7):
        y = h * 0.7 + i * h * 0.045
        pen.rect(
            (w * 0.05 + (i % 3) * 9, y, w * 0.95 - (i % 2) * 14, y + h * 0.015), fill=(250, 250, 255, 255)
        )
    for _ in range(60):
        pen.circle(
            rng.uniform(0, w), rng.uniform(0, h), rng.choice([0.8, 1.2, 1.6]), fill=(255, 255, 255, 255)
        )


def bg_workshop(pen, w, h, rng):
    pen.rect((0, 0, w, h), fill=(150, 110, 80, 255))
    for x in range(0, int(w), 22):
        pen.line([(x, 0), (x, h * 0.72)], fill=(130, 92, 66, 255), width=1)
    # pegboard with tools
    pen.rect((w * 0.08, h * 0.1, w * 0.5, h * 0.42), fill=(196, 160, 110, 255))
    for i in range(4):
        x = w * 0.12 + i * w * 0.09
        pen.line([(x, h * 0.15), (x, h * 0.33)], fill=(70, 70, 80, 255), width=2)
        pen.circle(x, h * 0.15, 2.5, fill=(200, 60, 50, 255) if i % 2 else (60, 90, 180, 255))
    pen.rect((0, h * 0.72, w, h), fill=(96, 64, 42, 255))
    pen.rect((0, h * 0.72, w, h * 0.76), fill=(120, 82, 54, 255))


def bg_dock(pen, w, h, rng):
    _vgradient(pen, w, h, (150, 200, 235), (220, 238, 250), 0, int(h * 0.55))
    pen.rect((0, h * 0.55, w, h * 0.7), fill=(40, 110, 170, 255))
    for i in range(7):
        y = h * 0.7 + i * h * 0.045
        pen.rect((0, y, w, y + h * 0.04), fill=(150, 108, 70, 255) if i % 2 else (135, 95, 60, 255))
    for x in (w * 0.06, w * 0.94):
        pen.rect((x - 4, h * 0.5, x + 4, h), fill=(100, 70, 45, 255))


def bg_snow(pen, w, h, rng):
    _vgradient(pen, w, h, (190, 200, 215), (230, 234, 240), 0, h)
    pen.ellipse((-w * 0.2, h * 0.74, w * 1.2, h * 1.3), fill=(250, 250, 255, 255))
    for _ in range(60):
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        pen.circle(x, y, rng.choice([0.8, 1.2, 1.6]), fill=(255, 255, 255, 255))


def bg_bakery(pen, w, h, rng):
    pen.rect((0, 0, w, h), fill=(250, 222, 150, 255))
    for i in range(2):
        y = h * (0.2 + 0.2 * i)
        pen.rect((w * 0.05, y, w * 0.95, y + 4), fill=(150, 100, 60, 255))
        x = w * 0.08
        while x < w * 0.9:
            lw = rng.uniform(16, 24)
            pen.ellipse((x, y - 9, x + lw, y + 1), fill=(200, 130, 60, 255))
            pen.line([(x + lw * 0.3, y - 7), (x + lw * 0.45, y - 3)], fill=(240, 190, 120, 255), width=1)
            x += lw + rng.uniform(3, 8)
    pen.rect((0, h * 0.78, w, h), fill=(170, 110, 70, 255))
    pen.rect((0, h * 0.78, w, h * 0.81), fill=(200, 140, 90, 255))


def bg_kitchen(pen, w, h, rng):
    t = 16
    for j in range(int(h // t) + 1):
        for i in range(int(w // t) + 1):
            col = (235, 245, 240, 255) if (i + j) % 2 == 0 else (180, 215, 205, 255)
            pen.rect((i * t, j * t, i * t + t, j * t + t), fill=col)
    pen.rect((0, h * 0.8, w, h), fill=(200, 200, 205, 255))
    pen.rect((w * 0.7, h * 0.5, w * 0.95, h * 0.8), fill=(80, 80, 90, 255))
    pen.rect((w * 0.73, h * 0.55, w * 0.92, h * 0.72), fill=(255, 150, 60, 255))


def bg_market(pen, w, h, rng):
    _vgradient(pen, w, h, (150, 205, 245), (225, 240, 250), 0, h)
    n = 8
    for i in range(n):
        col = (200, 40, 50, 255) if i % 2 == 0 else (255, 250, 245, 255)
        pen.rect((i * w / n, 0, (i + 1) * w / n, h * 0.16), fill=col)
        pen.pieslice((i * w / n, h * 0.1, (i + 1) * w / n, h * 0.22), 0, 180, fill=col)
    pen.rect((0, h * 0.76, w, h), fill=(160, 110, 70, 255))
    for i in range(5):
        x = w * 0.08 + i * w * 0.19
        pen.ellipse((x, h * 0.72, x + 18, h * 0.8), fill=(230, 170, 60, 255))


def bg_autumn(pen, w, h, rng):
    _vgradient(pen, w, h, (170, 210, 240), (240, 230, 210), 0, h)
    for i in range(3):
        x = w * (0.1 + 0.4 * i)
        pen.rect((x - 3, h * 0.35, x + 3, h * 0.8), fill=(100, 60, 35, 255))
        pen.circle(x, h * 0.3, w * 0.14, fill=(230, 120, 30, 255) if i != 1 else (200, 80, 30, 255))
    pen.rect((0, h * 0.8, w, h), fill=(160, 130, 70, 255))
    for _ in range(25):
        x, y = rng.uniform(0, w), rng.uniform(h * 0.2, h)
        pen.ellipse((x, y, x + 4, y + 2.5), fill=(220, 100, 30, 255))


def bg_library(pen, w, h, rng):
    pen.rect((0, 0, w, h), fill=(92, 58, 36, 255))
    colors = [(150, 40, 40), (40, 80, 140), (60, 120, 60), (170, 140, 50), (110, 60, 120)]
    for r in range(3):
        y = h * 0.08 + r * h * 0.24
        x = 4.0
        while x < w - 6:
            bw = rng.uniform(5, 10)
            bh = rng.uniform(h * 0.14, h * 0.19)
            pen.rect((x, y + h * 0.2 - bh, x + bw, y + h * 0.2), fill=rng.choice(colors) + (255,))
            x += bw + 1
        pen.rect((0, y + h * 0.2, w, y + h * 0.22), fill=(60, 36, 22, 255))
    pen.rect((0, h * 0.82, w, h), fill=(70, 44, 28, 255))


def bg_tower(pen, w, h, rng):
    pen.rect((0, 0, w, h), fill=(110, 108, 120, 255))
    for j in range(int(h // 14) + 1):
        off = 0 if j % 2 == 0 else 14
        for i in range(-1, int(w // 28) + 2):
            pen.rect((i * 28 + off, j * 14, i * 28 + off + 27, j * 14 + 13), fill=(128, 126, 140, 255))
    # arched window with night sky and moon
    x0, x1, y0, y1 = w * 0.3, w * 0.7, h * 0.08, h * 0.6
    pen.rect((x0, y0 + (x1 - x0) / 2, x1, y1), fill=(16, 22, 60, 255))
    pen.pieslice((x0, y0, x1, y0 + (x1 - x0)), 180, 360, fill=(16, 22, 60, 255))
    pen.circle((x0 + x1) / 2 + 8, y0 + (x1 - x0) * 0.45, (x1 - x0) * 0.14, fill=(245, 240, 200, 255))
    for _ in range(8):
        pen.circle(rng.uniform(x0 + 4, x1 - 4), rng.uniform(y0 + 20, y1 - 6), 0.8, fill=(255, 255, 230, 255))
    pen.rect((x0 - 4, y1, x1 + 4, y1 + 6), fill=(90, 88, 100, 255))
    pen.rect((0, h * 0.84, w, h), fill=(80, 60, 50, 255))


def bg_lab(pen, w, h, rng):
    pen.rect((0, 0, w, h), fill=(36, 56, 48, 255))
    pen.rect((0, h * 0.3, w, h * 0.33), fill=(70, 50, 36, 255))
    for i in range(5):
        x = w * 0.08 + i * w * 0.18
        col = [(200, 60, 160), (60, 200, 120), (90, 140, 240), (240, 180, 60), (200, 60, 60)][i]
        pen.rect((x, h * 0.2, x + 9, h * 0.3), fill=col + (255,))
        pen.rect((x + 3, h * 0.16, x + 6, h * 0.2), fill=(200, 200, 200, 255))
    pen.rect((0, h * 0.84, w, h), fill=(50, 40, 34, 255))


def bg_rain(pen, w, h, rng):
    _vgradient(pen, w, h, (110, 118, 130), (160, 166, 175), 0, h)
    pen.rect((0, h * 0.82, w, h), fill=(80, 86, 92, 255))
    for _ in range(70):
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        pen.line([(x, y), (x - 3, y + 9)], fill=(210, 220, 235, 255), width=1)


BACKGROUNDS = {
    "sea": bg_sea,
    "sunset": lambda p, w, h, r: bg_sea(p, w, h, r, sunset=True),
    "night": bg_night,
    "sea_night": bg_sea_night,
    "dock_snow": bg_dock_snow,
    "workshop": bg_workshop,
    "dock": bg_dock,
    "snow": bg_snow,
    "bakery": bg_bakery,
    "kitchen": bg_kitchen,
    "market": bg_market,
    "autumn": bg_autumn,
    "library": bg_library,
    "tower": bg_tower,
    "lab": bg_lab,
    "rain": bg_rain,
}


# --- character 1: Keeper Nine, retired lighthouse-keeper robot ----------------------------------


def draw_robot(pen, cx, cy, s, pose="stand", mood="neutral", lamp=True, props=()):
    """cx, cy: centre of the torso; s: head radius (px)."""
    metal, metal_d = _c("robot_metal"), _c("robot_metal_dark")
    body, body_d = _c("robot_body"), _c("robot_body_dark")
    bw, bh = 1.55 * s, 1.7 * s
    if "beam" in props:
        bx, by = cx + 0.08 * s, cy - bh / 2 - 2.55 * s
        pen.poly(
            [(bx, by), (bx + 3.4 * s, by - 0.9 * s), (bx + 3.4 * s, by + 0.6 * s)], fill=(255, 245, 170, 160)
        )
    # legs
    if pose == "sit":
        for dx in (-0.4, 0.4):
            pen.rect(
                (
                    cx + dx * s - 0.17 * s,
                    cy + 0.75 * bh * 0.5,
                    cx + dx * s + 0.17 * s,
                    cy + bh * 0.5 + 0.3 * s,
                ),
                fill=metal,
            )
            pen.rect(
                (
                    cx + dx * s - 0.3 * s,
                    cy + bh * 0.5 + 0.22 * s,
                    cx + dx * s + 0.45 * s,
                    cy + bh * 0.5 + 0.45 * s,
                ),
                fill=metal_d,
                radius=0.1 * s,
            )
    else:
        for dx in (-0.4, 0.4):
            pen.rect(
                (cx + dx * s - 0.17 * s, cy + bh * 0.4, cx + dx * s + 0.17 * s, cy + bh * 0.5 + 0.65 * s),
                fill=metal,
            )
            pen.rect(
                (
                    cx + dx * s - 0.32 * s,
                    cy + bh * 0.5 + 0.55 * s,
                    cx + dx * s + 0.32 * s,
                    cy + bh * 0.5 + 0.8 * s,
                ),
                fill=metal_d,
                radius=0.1 * s,
            )
    # arms (behind torso edges)
    sh_y = cy - bh * 0.3
    lx, rx = cx - bw / 2, cx + bw / 2
    left_hand = (lx - 0.45 * s, cy + 0.35 * s)
    right_hand = (rx + 0.45 * s, cy + 0.35 * s)
    if pose == "wave":
        right_hand = (rx + 0.55 * s, sh_y - 1.0 * s)
    if pose in ("hold", "read"):
        left_hand = (cx - 0.35 * s, cy + 0.25 * s)
        right_hand = (cx + 0.35 * s, cy + 0.25 * s)
    if pose == "flash":
        right_hand = (rx + 0.8 * s, sh_y - 0.25 * s)
    for sx, hand in ((lx, left_hand), (rx, right_hand)):
        pen.line(
            [
                (sx, sh_y),
                ((sx + hand[0]) / 2 + (0.1 * s if sx < cx else -0.1 * s), (sh_y + hand[1]) / 2),
                hand,
            ],
            fill=metal,
            width=0.26 * s,
        )
    # torso
    pen.rect(
        (cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2),
        fill=body,
        outline=body_d,
        width=0.07 * s,
        radius=0.35 * s,
    )
    pen.circle(cx, cy + 0.05 * s, 0.36 * s, fill=_c("brass"), outline=_c("robot_head_dark"), width=0.05 * s)
    pen.circle(cx, cy + 0.05 * s, 0.22 * s, fill=(40, 60, 70, 255))
    pen.line([(cx, cy + 0.05 * s), (cx + 0.15 * s, cy - 0.08 * s)], fill=_c("brass"), width=0.05 * s)
    for fx, fy in ((-0.55, -0.6), (-0.42, -0.5), (0.5, -0.62), (0.6, -0.45), (-0.5, 0.55)):
        pen.circle(cx + fx * s, cy + fy * s, 0.05 * s, fill=_c("rust"))
    # hands (claws)
    for hx, hy in (left_hand, right_hand):
        pen.circle(hx, hy, 0.17 * s, fill=metal_d)
    # neck + head
    hy = cy - bh / 2 - 0.95 * s
    pen.rect((cx - 0.2 * s, cy - bh / 2 - 0.2 * s, cx + 0.2 * s, cy - bh / 2 + 0.05 * s), fill=metal_d)
    # antenna
    pen.line([(cx, hy - s), (cx + 0.08 * s, hy - 1.55 * s)], fill=metal_d, width=0.08 * s)
    if lamp:
        pen.circle(cx + 0.08 * s, hy - 1.6 * s, 0.42 * s, fill=(255, 240, 150, 140))
    if "sock" in props:
        pen.rect(
            (cx - 0.2 * s, hy - 1.45 * s, cx + 0.32 * s, hy - 0.95 * s),
            fill=(140, 70, 170, 255),
            radius=0.1 * s,
        )
        pen.rect((cx - 0.2 * s, hy - 1.45 * s, cx + 0.32 * s, hy - 1.33 * s), fill=(190, 130, 220, 255))
    pen.circle(
        cx + 0.08 * s,
        hy - 1.6 * s,
        0.2 * s,
        fill=_c("lamp") if lamp else (150, 130, 60, 255),
        outline=metal_d,
        width=0.04 * s,
    )
    pen.circle(cx, hy, s, fill=_c("robot_head"), outline=_c("robot_head_dark"), width=0.07 * s)
    # ear bolts
    for dx in (-1, 1):
        pen.circle(cx + dx * 0.98 * s, hy, 0.16 * s, fill=metal_d)
    # the single blue eye
    pen.circle(cx, hy - 0.08 * s, 0.5 * s, fill=_c("white"), outline=_c("robot_head_dark"), width=0.05 * s)
    pen.circle(cx, hy - 0.08 * s, 0.36 * s, fill=_c("robot_eye"))
    pen.circle(cx, hy - 0.08 * s, 0.15 * s, fill=(10, 30, 80, 255))
    pen.circle(cx + 0.13 * s, hy - 0.22 * s, 0.07 * s, fill=_c("white"))
    if mood == "tired":
        pen.chord(
            (cx - 0.52 * s, hy - 0.6 * s, cx + 0.52 * s, hy + 0.44 * s), 180, 360, fill=_c("robot_head_dark")
        )
    if mood == "happy":
        pen.arc(
            (cx - 0.3 * s, hy + 0.35 * s, cx + 0.3 * s, hy + 0.75 * s),
            20,
            160,
            fill=(60, 30, 10, 255),
            width=0.08 * s,
        )
    else:
        for i in range(3):
            x = cx - 0.22 * s + i * 0.17 * s
            pen.rect((x, hy + 0.55 * s, x + 0.1 * s, hy + 0.7 * s), fill=(60, 30, 10, 255))
    # props
    if "radio" in props:
        x0, y0 = cx - 0.65 * s, cy - 0.05 * s
        pen.rect(
            (x0, y0, x0 + 1.3 * s, y0 + 0.75 * s),
            fill=(120, 80, 50, 255),
            outline=(70, 40, 20, 255),
            width=0.05 * s,
            radius=0.1 * s,
        )
        pen.circle(x0 + 0.35 * s, y0 + 0.38 * s, 0.22 * s, fill=(220, 200, 160, 255))
        pen.rect((x0 + 0.7 * s, y0 + 0.2 * s, x0 + 1.15 * s, y0 + 0.35 * s), fill=(240, 220, 150, 255))
        pen.line([(x0 + 1.1 * s, y0), (x0 + 1.4 * s, y0 - 0.5 * s)], fill=metal_d, width=0.04 * s)
    if "book" in props:
        x0, y0 = cx - 0.6 * s, cy - 0.1 * s
        pen.poly(
            [(x0, y0), (cx, y0 + 0.12 * s), (cx, y0 + 0.8 * s), (x0, y0 + 0.68 * s)],
            fill=(240, 235, 220, 255),
        )
        pen.poly(
            [(cx, y0 + 0.12 * s), (cx + 0.6 * s, y0), (cx + 0.6 * s, y0 + 0.68 * s), (cx, y0 + 0.8 * s)],
            fill=(228, 222, 205, 255),
        )
        pen.line([(cx, y0 + 0.12 * s), (cx, y0 + 0.8 * s)], fill=(150, 40, 40, 255), width=0.06 * s)
    if "gull" in props:
        gx, gy = right_hand[0] + 0.1 * s, right_hand[1] - 0.35 * s
        pen.ellipse(
            (gx - 0.35 * s, gy - 0.2 * s, gx + 0.35 * s, gy + 0.2 * s),
            fill=(250, 250, 250, 255),
            outline=(120, 120, 120, 255),
            width=0.03 * s,
        )
        pen.circle(gx + 0.32 * s, gy - 0.22 * s, 0.15 * s, fill=(250, 250, 250, 255))
        pen.poly(
            [(gx + 0.45 * s, gy - 0.24 * s), (gx + 0.66 * s, gy - 0.2 * s), (gx + 0.45 * s, gy - 0.16 * s)],
            fill=(250, 180, 40, 255),
        )
        pen.poly(
            [(gx - 0.3 * s, gy - 0.05 * s), (gx + 0.1 * s, gy - 0.02 * s), (gx - 0.05 * s, gy - 0.18 * s)],
            fill=(150, 150, 160, 255),
        )
        pen.line([(gx, gy + 0.2 * s), (gx, gy + 0.38 * s)], fill=(250, 180, 40, 255), width=0.05 * s)


# --- character 2: Maple Crumb, fox-girl baker ---------------------------------------------------


def draw_fox(pen, cx, cy, s, pose="stand", mood="happy", props=()):
    fur = _c("fox_fur")
    cream = _c("fox_cream")
    # tail (behind)
    tx, ty = cx + 1.0 * s, cy + 0.5 * s
    pen.poly(
        [
            (cx + 0.3 * s, cy + 0.9 * s),
            (tx + 0.6 * s, ty - 0.9 * s),
            (tx + 1.3 * s, ty - 1.2 * s),
            (tx + 1.2 * s, ty - 0.3 * s),
            (tx + 0.5 * s, ty + 0.6 * s),
        ],
        fill=fur,
    )
    pen.circle(tx + 1.15 * s, ty - 0.95 * s, 0.38 * s, fill=_c("white"))
    # legs/boots
    for dx in (-0.3, 0.3):
        pen.rect(
            (cx + dx * s - 0.13 * s, cy + 0.85 * s, cx + dx * s + 0.13 * s, cy + 1.45 * s),
            fill=_c("fox_skin"),
        )
        pen.rect(
            (cx + dx * s - 0.2 * s, cy + 1.3 * s, cx + dx * s + 0.2 * s, cy + 1.6 * s),
            fill=_c("fox_boot"),
            radius=0.08 * s,
        )
    # dress/blouse body
    pen.poly(
        [
            (cx - 0.55 * s, cy - 0.8 * s),
            (cx + 0.55 * s, cy - 0.8 * s),
            (cx + 0.85 * s, cy + 1.0 * s),
            (cx - 0.85 * s, cy + 1.0 * s),
        ],
        fill=_c("fox_blouse"),
    )
    # green apron
    pen.poly(
        [
            (cx - 0.42 * s, cy - 0.55 * s),
            (cx + 0.42 * s, cy - 0.55 * s),
            (cx + 0.7 * s, cy + 0.98 * s),
            (cx - 0.7 * s, cy + 0.98 * s),
        ],
        fill=_c("fox_apron"),
    )
    pen.line(
        [(cx - 0.42 * s, cy - 0.55 * s), (cx - 0.3 * s, cy - 0.85 * s)],
        fill=_c("fox_apron_dark"),
        width=0.08 * s,
    )
    pen.line(
        [(cx + 0.42 * s, cy - 0.55 * s), (cx + 0.3 * s, cy - 0.85 * s)],
        fill=_c("fox_apron_dark"),
        width=0.08 * s,
    )
    pen.rect((cx - 0.25 * s, cy + 0.25 * s, cx + 0.25 * s, cy + 0.6 * s), fill=_c("white"), radius=0.06 * s)
    pen.line(
        [(cx - 0.7 * s, cy - 0.05 * s), (cx + 0.7 * s, cy - 0.05 * s)],
        fill=_c("fox_apron_dark"),
        width=0.07 * s,
    )
    # arms
    sh = cy - 0.65 * s
    lh, rh = (cx - 0.95 * s, cy + 0.35 * s), (cx + 0.95 * s, cy + 0.35 * s)
    if pose == "wave":
        rh = (cx + 1.1 * s, cy - 1.3 * s)
    if pose in ("hold", "tray"):
        lh, rh = (cx - 0.5 * s, cy + 0.05 * s), (cx + 0.5 * s, cy + 0.05 * s)
    for sx, hand in ((cx - 0.55 * s, lh), (cx + 0.55 * s, rh)):
        pen.line([(sx, sh), hand], fill=_c("fox_blouse"), width=0.28 * s)
        pen.circle(hand[0], hand[1], 0.14 * s, fill=_c("fox_skin"))
    # head
    hy = cy - 1.55 * s
    for dx in (-1, 1):  # ears
        pen.poly(
            [
                (cx + dx * 0.35 * s, hy - 0.7 * s),
                (cx + dx * 0.95 * s, hy - 1.75 * s),
                (cx + dx * 1.0 * s, hy - 0.25 * s),
            ],
            fill=fur,
        )
        pen.poly(
            [
                (cx + dx * 0.52 * s, hy - 0.68 * s),
                (cx + dx * 0.9 * s, hy - 1.42 * s),
                (cx + dx * 0.9 * s, hy - 0.45 * s),
            ],
            fill=cream,
        )
    pen.circle(cx, hy, s, fill=_c("fox_skin"))
    pen.pieslice((cx - 1.05 * s, hy - 1.05 * s, cx + 1.05 * s, hy + 0.7 * s), 180, 360, fill=fur)
    for k in range(4):  # bangs
        bx = cx - 0.75 * s + k * 0.5 * s
        pen.poly(
            [(bx - 0.25 * s, hy - 0.2 * s), (bx + 0.28 * s, hy - 0.2 * s), (bx + 0.05 * s, hy + 0.12 * s)],
            fill=fur,
        )
    pen.pieslice((cx - 1.05 * s, hy - 0.8 * s, cx - 0.55 * s, hy + 0.9 * s), 90, 270, fill=fur)
    pen.pieslice((cx + 0.55 * s, hy - 0.8 * s, cx + 1.05 * s, hy + 0.9 * s), 270, 450, fill=fur)
    # face
    ink = _c("ink")
    if mood == "joy":
        for dx in (-0.35, 0.35):
            pen.arc(
                (cx + dx * s - 0.17 * s, hy + 0.1 * s, cx + dx * s + 0.17 * s, hy + 0.4 * s),
                190,
                350,
                fill=ink,
                width=0.07 * s,
            )
    else:
        for dx in (-0.35, 0.35):
            pen.ellipse(
                (cx + dx * s - 0.12 * s, hy + 0.08 * s, cx + dx * s + 0.12 * s, hy + 0.42 * s),
                fill=(70, 40, 20, 255),
            )
            pen.circle(cx + dx * s + 0.04 * s, hy + 0.17 * s, 0.045 * s, fill=_c("white"))
    for dx in (-0.6, 0.6):
        pen.ellipse(
            (cx + dx * s - 0.15 * s, hy + 0.42 * s, cx + dx * s + 0.15 * s, hy + 0.56 * s),
            fill=(255, 150, 150, 255),
        )
    pen.circle(cx, hy + 0.5 * s, 0.05 * s, fill=(120, 60, 40, 255))
    if mood == "surprised":
        pen.ellipse((cx - 0.1 * s, hy + 0.6 * s, cx + 0.1 * s, hy + 0.82 * s), fill=(150, 50, 50, 255))
    else:
        pen.arc(
            (cx - 0.22 * s, hy + 0.45 * s, cx + 0.22 * s, hy + 0.78 * s),
            20,
            160,
            fill=(150, 50, 50, 255),
            width=0.06 * s,
        )
    if "flour" in props:
        for fx, fy, fr in (
            (-0.5, -0.3, 0.16),
            (0.2, 0.3, 0.12),
            (0.6, -0.5, 0.14),
            (-0.2, 0.7, 0.1),
            (0.4, 1.0, 0.12),
        ):
            pen.circle(cx + fx * s, hy + fy * s, fr * s, fill=(255, 255, 255, 255))
    # props
    if "tray" in props:
        y = cy - 0.05 * s
        pen.rect((cx - 1.0 * s, y, cx + 1.0 * s, y + 0.12 * s), fill=(160, 160, 170, 255))
        for k in range(3):
            x = cx - 0.85 * s + k * 0.6 * s
            pen.ellipse((x, y - 0.35 * s, x + 0.5 * s, y + 0.02 * s), fill=(190, 115, 50, 255))
            pen.line(
                [(x + 0.15 * s, y - 0.28 * s), (x + 0.25 * s, y - 0.12 * s)],
                fill=(240, 190, 120, 255),
                width=0.04 * s,
            )
    if "pin" in props:
        y = cy + 0.05 * s
        pen.rect(
            (cx - 0.8 * s, y - 0.1 * s, cx + 0.8 * s, y + 0.1 * s), fill=(205, 160, 105, 255), radius=0.08 * s
        )
        pen.rect((cx - 1.1 * s, y - 0.05 * s, cx - 0.8 * s, y + 0.05 * s), fill=(150, 100, 60, 255))
        pen.rect((cx + 0.8 * s, y - 0.05 * s, cx + 1.1 * s, y + 0.05 * s), fill=(150, 100, 60, 255))
    if "croissant" in props:
        hx, hy2 = rh
        pen.pieslice(
            (hx - 0.4 * s, hy2 - 0.55 * s, hx + 0.4 * s, hy2 + 0.1 * s), 180, 360, fill=(225, 150, 50, 255)
        )
        pen.pieslice(
            (hx - 0.22 * s, hy2 - 0.32 * s, hx + 0.22 * s, hy2 + 0.05 * s),
            180,
            360,
            fill=(250, 205, 120, 255),
        )
    if "basket" in props:
        y = cy + 0.0 * s
        pen.pieslice((cx - 0.8 * s, y - 0.5 * s, cx + 0.8 * s, y + 0.6 * s), 0, 180, fill=(170, 120, 60, 255))
        for k in range(3):
            x = cx - 0.55 * s + k * 0.38 * s
            pen.pieslice((x, y - 0.3 * s, x + 0.4 * s, y + 0.12 * s), 180, 360, fill=(225, 150, 50, 255))
    if "cake" in props:
        y = cy + 0.05 * s
        pen.rect(
            (cx - 0.6 * s, y - 0.45 * s, cx + 0.6 * s, y + 0.1 * s),
            fill=(250, 220, 230, 255),
            radius=0.08 * s,
        )
        pen.rect((cx - 0.6 * s, y - 0.45 * s, cx + 0.6 * s, y - 0.33 * s), fill=(240, 120, 150, 255))
        pen.rect((cx - 0.7 * s, y + 0.08 * s, cx + 0.7 * s, y + 0.16 * s), fill=(220, 220, 230, 255))
        pen.rect((cx - 0.04 * s, y - 0.75 * s, cx + 0.04 * s, y - 0.45 * s), fill=(120, 170, 240, 255))
        pen.ellipse((cx - 0.06 * s, y - 0.92 * s, cx + 0.06 * s, y - 0.75 * s), fill=(255, 200, 40, 255))


# --- character 3: Thistlebrood, grumpy wizard cat ------------------------------------------------


def draw_cat(pen, cx, cy, s, pose="stand", mood="grumpy", props=(), stars=3):
    fur, fur_d = _c("cat_fur"), _c("cat_fur_dark")
    # tail (behind)
    pen.arc((cx + 0.3 * s, cy - 0.2 * s, cx + 1.8 * s, cy + 1.4 * s), 200, 80, fill=fur_d, width=0.25 * s)
    # cloak body
    pen.poly(
        [
            (cx - 0.45 * s, cy - 0.85 * s),
            (cx + 0.45 * s, cy - 0.85 * s),
            (cx + 1.0 * s, cy + 1.3 * s),
            (cx - 1.0 * s, cy + 1.3 * s),
        ],
        fill=_c("cat_cloak"),
    )
    pen.poly(
        [
            (cx - 0.2 * s, cy - 0.7 * s),
            (cx + 0.2 * s, cy - 0.7 * s),
            (cx + 0.35 * s, cy + 1.3 * s),
            (cx - 0.35 * s, cy + 1.3 * s),
        ],
        fill=_c("cat_cloak_dark"),
    )
    pen.circle(cx, cy - 0.72 * s, 0.13 * s, fill=_c("gold"))
    # paws/feet
    for dx in (-0.35, 0.35):
        pen.ellipse((cx + dx * s - 0.22 * s, cy + 1.2 * s, cx + dx * s + 0.22 * s, cy + 1.45 * s), fill=fur)
    # staff in left paw
    if "staff" in props or pose == "staff":
        sx = cx - 1.4 * s
        pen.line([(sx, cy + 1.45 * s), (sx + 0.1 * s, cy - 1.7 * s)], fill=_c("staff"), width=0.14 * s)
        glow = "glow" in props
        if glow:
            pen.circle(sx + 0.1 * s, cy - 1.85 * s, 0.45 * s, fill=(120, 255, 170, 100))
        pen.poly(
            [
                (sx + 0.1 * s, cy - 2.1 * s),
                (sx + 0.28 * s, cy - 1.85 * s),
                (sx + 0.1 * s, cy - 1.6 * s),
                (sx - 0.08 * s, cy - 1.85 * s),
            ],
            fill=_c("gem"),
        )
        lh = (sx + 0.05 * s, cy - 0.1 * s)
    else:
        lh = (cx - 0.8 * s, cy + 0.4 * s)
    rh = (cx + 0.8 * s, cy + 0.4 * s)
    if pose in ("hold", "read"):
        lh, rh = (cx - 0.45 * s, cy + 0.2 * s), (cx + 0.45 * s, cy + 0.2 * s)
    for sx0, hand in ((cx - 0.45 * s, lh), (cx + 0.45 * s, rh)):
        pen.line([(sx0, cy - 0.65 * s), hand], fill=_c("cat_cloak"), width=0.3 * s)
        pen.circle(hand[0], hand[1], 0.16 * s, fill=fur)
    # head
    hy = cy - 1.5 * s
    for dx in (-1, 1):
        pen.poly(
            [
                (cx + dx * 0.25 * s, hy - 0.8 * s),
                (cx + dx * 0.85 * s, hy - 1.25 * s),
                (cx + dx * 0.95 * s, hy - 0.2 * s),
            ],
            fill=fur,
        )
        pen.poly(
            [
                (cx + dx * 0.45 * s, hy - 0.72 * s),
                (cx + dx * 0.8 * s, hy - 1.0 * s),
                (cx + dx * 0.82 * s, hy - 0.4 * s),
            ],
            fill=(150, 120, 150, 255),
        )
    pen.ellipse((cx - 1.05 * s, hy - 0.95 * s, cx + 1.05 * s, hy + 0.85 * s), fill=fur)
    # eyes
    for dx in (-0.4, 0.4):
        ex = cx + dx * s
        pen.ellipse((ex - 0.26 * s, hy - 0.2 * s, ex + 0.26 * s, hy + 0.22 * s), fill=_c("cat_eye"))
        pen.ellipse((ex - 0.06 * s, hy - 0.17 * s, ex + 0.06 * s, hy + 0.19 * s), fill=_c("ink"))
        if mood == "sleepy":
            pen.chord((ex - 0.28 * s, hy - 0.25 * s, ex + 0.28 * s, hy + 0.25 * s), 180, 360, fill=fur)
        # grumpy brows: inner ends lower
        inner = -1 if dx > 0 else 1
        pen.line(
            [(ex + inner * 0.25 * s, hy - 0.25 * s), (ex - inner * 0.25 * s, hy - 0.42 * s)],
            fill=fur_d if mood != "grumpy" else _c("ink"),
            width=0.08 * s,
        )
    pen.poly(
        [(cx - 0.1 * s, hy + 0.3 * s), (cx + 0.1 * s, hy + 0.3 * s), (cx, hy + 0.42 * s)],
        fill=(210, 140, 160, 255),
    )
    if mood == "pleased":
        pen.arc(
            (cx - 0.2 * s, hy + 0.35 * s, cx + 0.2 * s, hy + 0.6 * s), 20, 160, fill=_c("ink"), width=0.05 * s
        )
    else:
        pen.arc(
            (cx - 0.2 * s, hy + 0.45 * s, cx + 0.2 * s, hy + 0.75 * s),
            200,
            340,
            fill=_c("ink"),
            width=0.05 * s,
        )
    for side in (-1, 1):
        for k in range(3):
            y = hy + 0.35 * s + k * 0.1 * s
            pen.line(
                [(cx + side * 0.35 * s, y), (cx + side * 1.3 * s, y - 0.12 * s + k * 0.12 * s)],
                fill=(245, 245, 245, 255),
                width=0.03 * s,
            )
    # hat: brim + crooked cone + stars
    top_y = hy - 0.55 * s
    pen.ellipse((cx - 1.15 * s, top_y - 0.22 * s, cx + 1.15 * s, top_y + 0.22 * s), fill=_c("cat_hat_dark"))
    cone = [
        (cx - 0.65 * s, top_y),
        (cx + 0.65 * s, top_y),
        (cx + 0.25 * s, top_y - 1.5 * s),
        (cx + 0.9 * s, top_y - 2.05 * s),
        (cx - 0.05 * s, top_y - 1.55 * s),
    ]
    pen.poly(cone, fill=_c("cat_hat"))
    pen.rect((cx - 0.62 * s, top_y - 0.28 * s, cx + 0.62 * s, top_y - 0.05 * s), fill=_c("cat_cloak"))
    star_pos = [(-0.25, -0.65), (0.2, -1.05), (0.35, -0.5), (0.05, -1.35), (-0.3, -0.95)]
    for sx1, sy1 in star_pos[:stars]:
        _star(pen, cx + sx1 * s, top_y + sy1 * s, 0.14 * s, _c("cat_star"))
    # props
    if "book" in props:
        y = cy + 0.05 * s
        pen.rect(
            (cx - 0.6 * s, y - 0.2 * s, cx + 0.6 * s, y + 0.45 * s), fill=(120, 30, 40, 255), radius=0.05 * s
        )
        pen.rect((cx - 0.52 * s, y - 0.14 * s, cx + 0.52 * s, y + 0.38 * s), fill=(240, 232, 210, 255))
        pen.line([(cx, y - 0.14 * s), (cx, y + 0.38 * s)], fill=(120, 30, 40, 255), width=0.04 * s)
    if "cup" in props:
        hx, hy2 = rh
        pen.rect(
            (hx - 0.2 * s, hy2 - 0.35 * s, hx + 0.2 * s, hy2 + 0.05 * s),
            fill=(240, 240, 245, 255),
            radius=0.05 * s,
        )
        pen.arc(
            (hx + 0.1 * s, hy2 - 0.28 * s, hx + 0.35 * s, hy2 - 0.05 * s),
            270,
            90,
            fill=(240, 240, 245, 255),
            width=0.05 * s,
        )
        pen.line(
            [(hx - 0.05 * s, hy2 - 0.45 * s), (hx, hy2 - 0.65 * s)], fill=(230, 230, 230, 200), width=0.03 * s
        )
    if "cauldron" in props:
        kx, ky = cx + 1.6 * s, cy + 0.85 * s
        pen.circle(kx, ky - 0.45 * s, 0.5 * s, fill=(140, 255, 160, 120))
        pen.ellipse((kx - 0.7 * s, ky - 0.5 * s, kx + 0.7 * s, ky + 0.6 * s), fill=(40, 40, 44, 255))
        pen.ellipse((kx - 0.6 * s, ky - 0.58 * s, kx + 0.6 * s, ky - 0.32 * s), fill=(70, 210, 100, 255))
        for bx, by, br in ((-0.2, -0.75, 0.09), (0.15, -0.9, 0.07), (0.3, -0.68, 0.06)):
            pen.circle(kx + bx * s, ky + by * s, br * s, fill=(120, 240, 140, 255))
    if "umbrella" in props:
        ux, uy = cx + 0.2 * s, hy - 3.4 * s
        pen.pieslice((ux - 1.6 * s, uy, ux + 1.6 * s, uy + 1.4 * s), 180, 360, fill=(70, 70, 80, 255))
        pen.line([(ux, uy + 0.7 * s), (ux, cy)], fill=(50, 50, 50, 255), width=0.06 * s)


def render(spec, rng):
    """Render one image spec -> PIL image in its final mode (RGB or RGBA)."""
    w, h = spec["size"]
    transparent = spec.get("bg") == "transparent"
    img = Image.new("RGBA", (w * SS, h * SS), (0, 0, 0, 0) if transparent else (255, 255, 255, 255))
    pen = Pen(img)
    if not transparent:
        BACKGROUNDS[spec["bg"]](pen, w, h, rng)
    # overlay layer so translucent glows blend over the background
    layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
    lp = Pen(layer)
    cx, cy, s = spec["cx"] * w, spec["cy"] * h, spec["s"] * h
    kind = spec["kind"]
    kw = dict(
        pose=spec.get("pose", "stand"), mood=spec.get("mood", "neutral"), props=tuple(spec.get("props", ()))
    )
    if kind == "robot":
        draw_robot(lp, cx, cy, s, lamp=spec.get("lamp", True), **kw)
    elif kind == "fox":
        draw_fox(lp, cx, cy, s, **kw)
    else:
        draw_cat(lp, cx, cy, s, stars=spec.get("stars", 3), **kw)
    img = Image.alpha_composite(img, layer)
    img = img.resize((w, h), Image.Resampling.LANCZOS)
    if spec.get("mode", "RGBA") == "RGB":
        img = img.convert("RGB")
    return img
