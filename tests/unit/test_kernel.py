"""Small pure helpers: alias keys, colour contrast, the .env bootstrap."""

import json
import stat
from pathlib import Path

import pytest

from annotator.envfile import ensure_env_file
from annotator.kb.normalize import normalize_alias
from annotator.projects.colours import DARK_TEXT, LIGHT_TEXT, contrast_ratio, text_colour_for

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo" / "project.json"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Sergey  Naryshkin", "sergey naryshkin"),
        ("BELARUS’S", "belarus's"),
        ("Naryshkin–Tertel", "naryshkin-tertel"),
        ("\u00a0Minsk\n", "minsk"),
        ("Лукашенко", "лукашенко"),
        ("Straße", "strasse"),
    ],
)
def test_alias_keys_fold_case_spacing_and_typography_only(text, key):
    assert normalize_alias(text) == key


def test_alias_keys_compose_accents_but_keep_them():
    # A decomposed "Café" (e + combining acute) finds the KB's precomposed one; "Cafe" stays another name.
    assert normalize_alias("Cafe\u0301") == normalize_alias("Caf\u00e9") == "caf\u00e9"
    assert normalize_alias("Cafe") != normalize_alias("Caf\u00e9")


def test_contrast_ratio_matches_wcag_reference_values():
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


@pytest.mark.parametrize("colour", ["#000000", "#1d3557", "#ffd6a5", "#ffffff", "#ff0000", "#0000ff"])
def test_text_on_any_entity_colour_passes_wcag_aa(colour):
    text = text_colour_for(colour)
    assert text in (DARK_TEXT, LIGHT_TEXT)
    assert contrast_ratio(colour, text) >= 4.5


def test_every_demo_entity_colour_passes_wcag_aa_with_its_text():
    for entity_type in json.loads(DEMO.read_text())["entity_types"]:
        colour = entity_type["colour"]
        assert contrast_ratio(colour, text_colour_for(colour)) >= 4.5, entity_type["name"]


def test_env_file_is_written_once_with_a_private_secret(tmp_path):
    path = tmp_path / ".env"
    assert ensure_env_file(path) is True
    content = path.read_text()
    key = next(
        line.split("=", 1)[1] for line in content.splitlines() if line.startswith("DJANGO_SECRET_KEY=")
    )
    assert len(key) >= 50
    assert "$" not in key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ensure_env_file(path) is False
    assert path.read_text() == content
