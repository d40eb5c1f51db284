"""WCAG 2 contrast measured from computed styles.

The page reports an element's ``color`` and the background colours behind it, nearest
first, down to the first opaque one; the maths is here, in plain Python.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from playwright.sync_api import Locator

AA_TEXT = 4.5

Rgba = tuple[float, float, float, float]

# Walks up from the element: its own background, then each ancestor's, until one is opaque.
_COLOURS_JS = """
(element) => {
  const layers = [];
  for (let node = element; node; node = node.parentElement) {
    const style = getComputedStyle(node);
    if (style.backgroundImage !== "none" && node === element) layers.push("image");
    layers.push(style.backgroundColor);
    if (/^rgb\\(/.test(style.backgroundColor)) break;
  }
  return { color: getComputedStyle(element).color, backgrounds: layers };
}
"""


@dataclass(frozen=True)
class Measured:
    color: Rgba
    background: Rgba
    ratio: float


def parse_color(text: str) -> Rgba:
    """``rgb(15, 118, 110)`` or ``rgba(0, 0, 0, 0.5)``, as Chromium computes colours."""
    match = re.fullmatch(r"rgba?\(([^)]*)\)", text.strip())
    if match is None:
        raise ValueError(f"not an rgb() colour: {text!r}")
    parts = [float(part) for part in re.split(r"[\s,/]+", match.group(1).strip()) if part]
    red, green, blue = parts[:3]
    return (red, green, blue, parts[3] if len(parts) > 3 else 1.0)


def over(top: Rgba, bottom: Rgba) -> Rgba:
    """``top`` painted over an opaque ``bottom``."""
    alpha = top[3]
    return (
        top[0] * alpha + bottom[0] * (1 - alpha),
        top[1] * alpha + bottom[1] * (1 - alpha),
        top[2] * alpha + bottom[2] * (1 - alpha),
        1.0,
    )


def relative_luminance(color: Rgba) -> float:
    def channel(value: float) -> float:
        value /= 255
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(c) for c in color[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_ratio(foreground: Rgba, background: Rgba) -> float:
    """WCAG contrast, from 1 (same colour) to 21 (black on white)."""
    lighter, darker = sorted(
        (relative_luminance(foreground), relative_luminance(background)), reverse=True
    )
    return (lighter + 0.05) / (darker + 0.05)


def measure(element: Locator) -> Measured:
    reported = element.evaluate(_COLOURS_JS)
    if "image" in reported["backgrounds"]:
        raise AssertionError("a gradient or image behind button text can't be measured")
    background: Rgba = (255.0, 255.0, 255.0, 1.0)  # the canvas, if nothing is opaque
    for layer in reversed(reported["backgrounds"]):
        background = over(parse_color(layer), background)
    color = over(parse_color(reported["color"]), background)
    return Measured(color, background, contrast_ratio(color, background))
