"""Draw FR Studio's icon: an old print of a portrait, faded sepia on the left, restored on the right of a swipe
line (the app's before/after view), with a sparkle for the restoration.

    python installers/make_icon.py [--out resources/icons]

Writes frstudio-<size>.png for the hicolor icon theme's sizes (16-512), frstudio.ico (Windows) and
frstudio.icns (macOS). Everything is drawn at 1024 px and scaled down, so the small sizes stay smooth; the
output is deterministic, so running it again changes no file.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

REPO = Path(__file__).resolve().parents[1]
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
S = 1024  # drawing size

CARD = (78, 78, 946, 946)  # the print, with its white border
PICTURE = (142, 142, 882, 882)  # the photo inside the border
SWIPE_X = 520
FADED = {"sky": (214, 189, 150), "sky_top": (226, 205, 170), "person": (122, 94, 66)}
RESTORED = {"sky": (96, 160, 214), "sky_top": (150, 200, 236), "person": (38, 52, 78)}
GOLD, WHITE = (255, 206, 64), (255, 255, 255)


def _rounded_mask(box, radius: int) -> Image.Image:
    mask = Image.new("L", (S, S), 0)
    ImageDraw.Draw(mask).rounded_rectangle(box, radius, fill=255)
    return mask


def _portrait(colours: dict) -> Image.Image:
    """Head and shoulders against a sky, filling the picture area."""
    img = Image.new("RGB", (S, S))
    draw = ImageDraw.Draw(img)
    top, bottom = PICTURE[1], PICTURE[3]
    for y in range(top, bottom + 1):  # the sky lightens towards the top
        t = (y - top) / (bottom - top)
        draw.line([(0, y), (S, y)], fill=tuple(round(a + (b - a) * t) for a, b in zip(colours["sky_top"], colours["sky"])))
    person = colours["person"]
    draw.ellipse((512 - 330, 700, 512 + 330, 1180), fill=person)  # shoulders
    draw.rectangle((512 - 70, 560, 512 + 70, 720), fill=person)  # neck
    draw.ellipse((512 - 135, 300, 512 + 135, 620), fill=person)  # head
    return img


def _sparkle(draw: ImageDraw.ImageDraw, cx: float, cy: float, radius: float, fill) -> None:
    """A four-pointed star: long points on the axes, pinched waist between them."""
    points = []
    for k in range(8):
        r = radius if k % 2 == 0 else radius * 0.22
        angle = math.pi / 4 * k - math.pi / 2
        points.append((cx + r * math.cos(angle), cy + r * math.sin(angle)))
    draw.polygon(points, fill=fill)


def draw_icon() -> Image.Image:
    icon = Image.new("RGBA", (S, S), (0, 0, 0, 0))

    # soft shadow under the print
    shadow = Image.new("RGBA", (S, S), (0, 0, 0, 0))
    ImageDraw.Draw(shadow).rounded_rectangle((CARD[0] + 10, CARD[1] + 26, CARD[2] + 10, CARD[3] + 26), 96, fill=(0, 0, 0, 110))
    icon.alpha_composite(shadow.filter(ImageFilter.GaussianBlur(22)))

    # the print's cream border
    icon.paste((247, 241, 228, 255), mask=_rounded_mask(CARD, 96))

    # the picture: faded left of the swipe line, restored right of it
    picture = _portrait(FADED)
    right = Image.new("L", (S, S), 0)
    ImageDraw.Draw(right).rectangle((SWIPE_X, 0, S, S), fill=255)
    picture.paste(_portrait(RESTORED), mask=right)
    icon.paste(picture, mask=_rounded_mask(PICTURE, 40))

    # the swipe line with its handle
    draw = ImageDraw.Draw(icon)
    draw.rectangle((SWIPE_X - 9, PICTURE[1], SWIPE_X + 9, PICTURE[3]), fill=WHITE)
    draw.ellipse((SWIPE_X - 52, 512 - 52, SWIPE_X + 52, 512 + 52), fill=WHITE)
    draw.polygon([(SWIPE_X - 38, 512), (SWIPE_X - 12, 492), (SWIPE_X - 12, 532)], fill=(90, 90, 90))
    draw.polygon([(SWIPE_X + 38, 512), (SWIPE_X + 12, 492), (SWIPE_X + 12, 532)], fill=(90, 90, 90))

    # the sparkle over the restored side, with a dark rim so it reads on the sky and on the border
    glow = Image.new("RGBA", (S, S), (0, 0, 0, 0))
    _sparkle(ImageDraw.Draw(glow), 790, 250, 190, (0, 0, 0, 90))
    icon.alpha_composite(glow.filter(ImageFilter.GaussianBlur(10)))
    _sparkle(draw, 790, 250, 180, GOLD)
    _sparkle(draw, 790, 250, 92, WHITE)
    _sparkle(draw, 660, 170, 62, GOLD)
    return icon


def scaled(icon: Image.Image, size: int) -> Image.Image:
    small = icon.resize((size, size), Image.Resampling.LANCZOS)
    if size <= 32:  # a touch of sharpening keeps the tiny sizes from looking blurred
        small = small.filter(ImageFilter.UnsharpMask(radius=1, percent=60, threshold=2))
    return small


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "resources" / "icons")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    icon = draw_icon()
    for size in SIZES:
        scaled(icon, size).save(args.out / f"frstudio-{size}.png", optimize=True)
    icon.save(args.out / "frstudio.ico", sizes=[(s, s) for s in (16, 24, 32, 48, 64, 128, 256)])
    icon.save(args.out / "frstudio.icns")
    for path in sorted(args.out.iterdir()):
        print(f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path} ({path.stat().st_size // 1024 + 1} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
