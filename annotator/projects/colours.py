"""Entity-type colours: readable text on any background the schema picks (WCAG 2 contrast)."""

from __future__ import annotations

import colorsys
import re
from dataclasses import dataclass

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


PAGE_BACKGROUND = "#ffffff"  # the annotate page's text background, under which spans are underlined
CHIP_TEXT_MIN = 4.5  # WCAG AA for normal text: the type's name on its chip
UNDERLINE_MIN = 3.0  # WCAG non-text contrast: the span's underline against the page


@dataclass(frozen=True)
class Legibility:
    """How readable a type colour is where the pages use it, and a legible colour of the same hue."""

    colour: str
    chip_text: float
    underline: float
    proposed: str

    @property
    def legible(self) -> bool:
        return self.chip_text >= CHIP_TEXT_MIN and self.underline >= UNDERLINE_MIN


def _passes(colour: str) -> bool:
    return (
        contrast_ratio(colour, text_colour_for(colour)) >= CHIP_TEXT_MIN
        and contrast_ratio(colour, PAGE_BACKGROUND) >= UNDERLINE_MIN
    )


def _hex(red: float, green: float, blue: float) -> str:
    return "#" + "".join(f"{round(channel * 255):02x}" for channel in (red, green, blue))


def propose_legible(colour: str) -> str:
    """The colour itself when legible, else the same hue and saturation at the nearest legible lightness."""
    if _passes(colour):
        return colour.lower()
    hue, lightness, saturation = colorsys.rgb_to_hls(*(int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)))
    # Lightness in steps of 1%, nearest first: a white page needs a darker colour, so usually downwards.
    for step in range(1, 101):
        for candidate in (lightness - step / 100, lightness + step / 100):
            if 0 <= candidate <= 1:
                proposal = _hex(*colorsys.hls_to_rgb(hue, candidate, saturation))
                if _passes(proposal):
                    return proposal
    return "#595959"  # unreachable for any #rrggbb: grey at this lightness passes both checks


def legibility(colour: str) -> Legibility:
    return Legibility(
        colour=colour,
        chip_text=round(contrast_ratio(colour, text_colour_for(colour)), 2),
        underline=round(contrast_ratio(colour, PAGE_BACKGROUND), 2),
        proposed=propose_legible(colour),
    )


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
