"""Where uploaded files wait for their import jobs, and how long they are kept after.

An article import keeps its upload after a dry run (to import it for real later) and after a refusal
(to look at, or retry); a KB import deletes its own when it ends, unless its worker died first. Nothing
else deletes them: `reap_old_uploads` (run by the reaper: `manage.py reap_jobs`, and every hour by
`manage.py serve`) removes those whose job ended more than ANNOTATOR_UPLOAD_RETENTION_DAYS ago.
"""

from __future__ import annotations

import logging
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from annotator.jobs.models import Job, JobKind, JobStatus

logger = logging.getLogger(__name__)

UNFINISHED = [JobStatus.QUEUED, JobStatus.RUNNING]


def article_uploads_dir() -> Path:
    """One file per upload, named by us (interchange.services.store_upload)."""
    return Path(settings.DATA_DIR) / "imports"


def kb_uploads_dir() -> Path:
    """One directory per upload, holding the file under its own name (kb.imports.upload_path)."""
    return Path(settings.MEDIA_ROOT) / "kb-imports"


def reap_old_uploads(*, older_than: timedelta | None = None) -> int:
    """Delete uploads kept longer than the retention after their job ended; returns how many went.

    An upload is kept while a job that reads it is queued or running, or ended within the retention; a
    file no job names (its job was deleted, or the upload never became one) counts from its own date.
    """
    older_than = (
        older_than if older_than is not None else timedelta(days=settings.ANNOTATOR_UPLOAD_RETENTION_DAYS)
    )
    cutoff = timezone.now() - older_than
    kept = {
        Path(path).resolve()
        for path in Job.objects.filter(kind__in=[JobKind.IMPORT_ARTICLES, JobKind.IMPORT_KB])
        .filter(Q(status__in=UNFINISHED) | Q(finished_at__gte=cutoff) | Q(finished_at__isnull=True))
        .values_list("params__path", flat=True)
        if isinstance(path, str)
    }
    removed = 0
    for entry in _entries(article_uploads_dir(), files=True) + _entries(kb_uploads_dir(), files=False):
        names = (
            {entry.resolve(), *(child.resolve() for child in entry.iterdir())} if entry.is_dir() else set()
        )
        if _modified(entry) >= cutoff or (names | {entry.resolve()}) & kept:
            continue
        try:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        except FileNotFoundError:
            continue  # another reaper got there first
        removed += 1
    if removed:
        logger.info(
            "Deleted %s upload(s) kept %g days after their import.", removed, older_than / timedelta(days=1)
        )
    return removed


def _entries(directory: Path, *, files: bool) -> list[Path]:
    if not directory.is_dir():
        return []
    return [entry for entry in directory.iterdir() if (entry.is_file() if files else entry.is_dir())]


def _modified(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
