"""Synthetic infographics for the mention tests: a chart, its altered copies, and look-alike decoys."""
from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw


def chart(seed: int, size: tuple[int, int] = (600, 900)) -> Image.Image:
    """A tall 'infographic': a title band, bars of random heights, and blocks of colour."""
    rng = random.Random(seed)
    img = Image.new("RGB", size, (250, 250, 245))
    draw = ImageDraw.Draw(img)
    w, h = size
    draw.rectangle([0, 0, w, h // 8], fill=(30, 60, 120))
    for i in range(8):
        top = h // 4 + rng.randint(0, h // 3)
        x = 40 + i * (w - 80) // 8
        draw.rectangle([x, top, x + (w - 80) // 10, h * 3 // 4], fill=(rng.randint(0, 255), 120, 80))
    for _ in range(4):
        x0, y0 = rng.randint(0, w - 120), rng.randint(h * 3 // 4, h - 60)
        draw.ellipse([x0, y0, x0 + 100, y0 + 50], fill=(200, rng.randint(0, 255), 60))
    return img


def encode(img: Image.Image, fmt: str = "PNG", **kwargs: object) -> bytes:
    out = io.BytesIO()
    img.save(out, format=fmt, **kwargs)
    return out.getvalue()


def copies(original: Image.Image) -> dict[str, bytes]:
    """Altered copies that must still match."""
    w, h = original.size
    crop = int(w * 0.02)
    return {
        "half.png": encode(original.resize((w // 2, h // 2))),
        "small.jpg": encode(original.resize((w * 3 // 10, h * 3 // 10)), "JPEG", quality=60),
        "big.png": encode(original.resize((w * 3 // 2, h * 3 // 2))),
        "q35.jpg": encode(original, "JPEG", quality=35),
        "cropped.webp": encode(original.crop((crop, crop, w - crop, h - crop)), "WEBP", quality=70),
    }


def logo() -> Image.Image:
    """A small logo (the kind of image named logo@2x.png)."""
    img = Image.new("RGB", (64, 64), (255, 255, 255))
    ImageDraw.Draw(img).ellipse([8, 8, 56, 56], fill=(30, 60, 120))
    return img
