"""Pretrained pipelines this environment has: installed spaCy packages and pipeline directories."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class InstalledPipeline:
    """A pipeline a project may pick: `ref` is what spaCy loads (a package name or a directory)."""

    ref: str
    name: str
    version: str
    lang: str
    labels: tuple[str, ...]
    kind: str  # "package" or "directory"

    @property
    def title(self) -> str:
        return f"{self.name} {self.version}"


def _meta_labels(meta: dict[str, Any]) -> tuple[str, ...]:
    labels = meta.get("labels") or {}
    found: set[str] = set()
    for component in ("ner", "entity_ruler", "spancat", "span_ruler"):
        found.update(labels.get(component) or ())
    return tuple(sorted(found))


def _from_meta(ref: str, meta: dict[str, Any], kind: str) -> InstalledPipeline:
    lang = str(meta.get("lang", "xx"))
    return InstalledPipeline(
        ref=ref,
        name=f"{lang}_{meta.get('name', 'pipeline')}",
        version=str(meta.get("version", "0.0.0")),
        lang=lang,
        labels=_meta_labels(meta),
        kind=kind,
    )


def read_pipeline(ref: str) -> InstalledPipeline | None:
    """What `ref` is, from its meta.json alone (nothing is loaded); None when it is no pipeline."""
    path = Path(ref)
    if path.is_dir():
        meta_file = path / "meta.json"
        if not (meta_file.is_file() and (path / "config.cfg").is_file()):
            return None
        try:
            return _from_meta(str(path), json.loads(meta_file.read_text(encoding="utf-8")), "directory")
        except (OSError, ValueError):
            return None
    if "/" in ref or "\\" in ref or not ref.isidentifier():
        return None
    from spacy import util

    try:
        meta = util.get_model_meta(util.get_package_path(ref)) if util.is_package(ref) else None
    except (OSError, ValueError, ImportError):
        meta = None
    if meta is None:
        return None
    return _from_meta(ref, meta, "package")


def installed_pipelines(directories: list[Path]) -> list[InstalledPipeline]:
    """The spaCy packages installed here, then the pipeline directories found in `directories` (each a
    pipeline, or a folder of them), by name."""
    from spacy.util import get_installed_models

    found = [p for p in (read_pipeline(name) for name in get_installed_models()) if p is not None]
    for directory in directories:
        if not directory.is_dir():
            continue
        candidates = [directory] if (directory / "meta.json").is_file() else sorted(directory.iterdir())
        found.extend(p for p in (read_pipeline(str(c)) for c in candidates if c.is_dir()) if p is not None)
    return sorted(found, key=lambda p: (p.kind != "package", p.name, p.version, p.ref))


def model_meta(model: str) -> dict[str, Any]:
    """The name, version and labels of an installed package or a pipeline directory (loads it)."""
    import spacy

    nlp = spacy.load(model, exclude=["lemmatizer"])
    labels: set[str] = set()
    for name in ("ner", "entity_ruler", "spancat"):
        if name in nlp.pipe_names:
            pipe: Any = nlp.get_pipe(name)
            labels.update(pipe.labels)
    meta = nlp.meta
    return {
        "name": f"{meta.get('lang', 'xx')}_{meta.get('name', 'pipeline')}",
        "version": str(meta.get("version", "0.0.0")),
        "spacy_version": str(meta.get("spacy_version", "")),
        "labels": sorted(labels),
    }


def stop_words(lang: str) -> frozenset[str]:
    import spacy

    return frozenset(spacy.blank(lang).Defaults.stop_words)


class DownloadFailed(Exception):
    """spaCy's own download could not install the pipeline; the message says why and what to do."""


def model_server() -> tuple[str, int]:
    """Host and port of spaCy's model server, from spaCy itself."""
    from urllib.parse import urlsplit

    from spacy import about

    parts = urlsplit(about.__compatibility__)
    return parts.hostname or "", parts.port or 443


def reachable(host: str, port: int, timeout: float = 5.0) -> str | None:
    """None when a connection opens, else why not."""
    import socket

    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as error:
        return str(error) or type(error).__name__


def download_pipeline(name: str) -> None:
    """Install an official spaCy pipeline package with spaCy's own download (pip, from spaCy's model
    server). Raises DownloadFailed, saying clearly when this machine cannot reach the server."""
    from spacy import cli

    host, port = model_server()
    problem = reachable(host, port)
    if problem is not None:
        raise DownloadFailed(
            f"spaCy's model server ({host}) cannot be reached from this machine ({problem}): it has no "
            f"internet. Install the pipeline another way: build or fetch a wheel elsewhere (`python -m "
            f"spacy download {name}` there, or `spacy package` of any trained pipeline) and `pip install` "
            f"the .whl here, or copy a pipeline directory into ANNOTATOR_PIPELINES_DIR. The app works "
            f"without it: the gazetteer, rules and the project's own model need no download."
        )
    try:
        cli.download(name)
    except SystemExit as stopped:  # spaCy's CLI helpers exit on failure after printing why
        raise DownloadFailed(
            f"spaCy's download of {name} failed (exit status {stopped.code}); see above."
        ) from None
