"""Entity-type colours: readable text on any background the schema picks (WCAG 2 contrast)."""

from __future__ import annotations

import re

HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
DARK_TEXT = "#111111"
LIGHT_TEXT = "#ffffff"


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4


def relative_luminance(colour: str) -> float:
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(red) + 0.7152 * _channel(green) + 0.0722 * _channel(blue)


def contrast_ratio(first: str, second: str) -> float:
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def text_colour_for(background: str) -> str:
    """The text colour (near-black or white) with the higher contrast on this background."""
    return max((DARK_TEXT, LIGHT_TEXT), key=lambda text: contrast_ratio(background, text))


PAGE_BACKGROUND = "#ffffff"
EDGE_CONTRAST = 3.0  # WCAG 1.4.11: parts of graphics needed to understand the content


def edge_colour_for(colour: str, background: str = PAGE_BACKGROUND) -> str:
    """The colour darkened (same hue) until it stands out at least 3:1 from the page: what underlines and
    borders in the type's colour are drawn with, so that a pale type's extent is still visible."""
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    for step in range(101):
        keep = 1 - step / 100
        edge = f"#{round(red * keep):02x}{round(green * keep):02x}{round(blue * keep):02x}"
        if contrast_ratio(edge, background) >= EDGE_CONTRAST:
            return edge
    return "#000000"
