"""A whole project as one file, and that file restored into a new project.

The file is gzipped JSON lines: a header, then every row of the project's schema, settings, guidelines,
members, knowledge bases, articles, annotation sets with their spans, attributes, links and relations,
suggestions with the suggester versions that made them and the decisions taken on them, and comments
(with when they were written). No history (a set's current state only), no other timestamps the database
sets itself, and no database ids: each row has
a number of its own in the file (its order among its model's rows) and references use those numbers,
users go by username. So restoring a backup and backing the copy up gives the same bytes:
backup(restore(backup(p))) == backup(p).
"""

from __future__ import annotations

import gzip
import json
import tempfile
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import IO, TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.http import FileResponse

from annotator.annotations.models import AnnotationSet, EntityLink, Relation, Span, SpanAttribute
from annotator.articles.indexing import start_search_indexing
from annotator.articles.models import Article
from annotator.articles.search import queue_project
from annotator.core.errors import DomainError
from annotator.kb.models import Alias, KBEntity, KnowledgeBase
from annotator.projects.models import (
    EntityType,
    EntityTypeAttribute,
    GuidelineVersion,
    Membership,
    Project,
    RelationType,
    Role,
)
from annotator.review.models import Comment
from annotator.suggestions.models import Decision, SuggesterSettings, SuggesterVersion, Suggestion

if TYPE_CHECKING:
    from django.contrib.auth.models import User

FORMAT = "annotator-project-backup"
VERSION = 2  # 2 added comments; a version 1 file (no comments) still restores
READABLE_VERSIONS = (1, 2)
BATCH = 1000

# Every model of a project, parents before children, with how to find the project's rows.
MODELS: list[tuple[type[models.Model], Callable[[Project], models.QuerySet[Any]]]] = [
    (Project, lambda p: Project.objects.filter(pk=p.pk)),
    (Membership, lambda p: Membership.objects.filter(project=p)),
    (GuidelineVersion, lambda p: GuidelineVersion.objects.filter(project=p)),
    (EntityType, lambda p: EntityType.objects.filter(project=p)),
    (EntityTypeAttribute, lambda p: EntityTypeAttribute.objects.filter(entity_type__project=p)),
    (RelationType, lambda p: RelationType.objects.filter(project=p)),
    (SuggesterSettings, lambda p: SuggesterSettings.objects.filter(project=p)),
    (SuggesterVersion, lambda p: SuggesterVersion.objects.filter(project=p)),
    (KnowledgeBase, lambda p: KnowledgeBase.objects.filter(project=p)),
    (KBEntity, lambda p: KBEntity.objects.filter(knowledge_base__project=p)),
    (Alias, lambda p: Alias.objects.filter(knowledge_base__project=p)),
    (Article, lambda p: Article.objects.filter(project=p)),
    (AnnotationSet, lambda p: AnnotationSet.objects.filter(article__project=p)),
    (Span, lambda p: Span.objects.filter(annotation_set__article__project=p)),
    (SpanAttribute, lambda p: SpanAttribute.objects.filter(span__annotation_set__article__project=p)),
    (EntityLink, lambda p: EntityLink.objects.filter(span__annotation_set__article__project=p)),
    (Relation, lambda p: Relation.objects.filter(annotation_set__article__project=p)),
    (Suggestion, lambda p: Suggestion.objects.filter(article__project=p)),
    (Decision, lambda p: Decision.objects.filter(annotation_set__article__project=p)),
    (Comment, lambda p: Comment.objects.filter(article__project=p)),
]
# Fields that say which copy a row is, not what the project holds: the new project gets its own.
NOT_CONTENT = {(Project, "slug"), (Project, "created_by")}
# Timestamps that are content: when a comment was written is part of what it says.
KEPT_TIMES = {(Comment, "created_at")}


class BackupError(DomainError):
    code = "invalid_backup"


def _label(model: type[models.Model]) -> str:
    return model._meta.label


def _fields(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    """The columns a backup keeps: not the id, not the timestamps the database sets (but KEPT_TIMES), not
    NOT_CONTENT."""
    return [
        field
        for field in model._meta.concrete_fields
        if not field.primary_key
        and (
            (model, field.name) in KEPT_TIMES
            or not (getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False))
        )
        and (model, field.name) not in NOT_CONTENT
        and not (field.is_relation and field.related_model is Project)
    ]


def backup_file_name(project: Project) -> str:
    return f"{project.slug}-backup.jsonl.gz"


def backup_response(project: Project) -> FileResponse:
    """The backup as a download: written to a temporary file first (a big project's does not fit in memory)."""
    spool = tempfile.TemporaryFile()  # noqa: SIM115  # FileResponse closes it
    write_backup(project, spool)
    spool.seek(0)
    return FileResponse(
        spool, as_attachment=True, filename=backup_file_name(project), content_type="application/gzip"
    )


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime | date) else value


def write_backup(project: Project, stream: IO[bytes]) -> dict[str, int]:
    """Write the project's backup to a binary stream; return how many rows of each model it holds."""
    numbers: dict[type[models.Model], dict[int, int]] = {}
    usernames = dict(get_user_model().objects.values_list("pk", "username"))
    counts: dict[str, int] = {}
    # No file name and no time in the gzip header: the same project gives the same bytes.
    with gzip.GzipFile(filename="", fileobj=stream, mode="wb", mtime=0) as out:
        out.write(_line({"format": FORMAT, "version": VERSION}))
        for model, rows_of in MODELS:
            rows = rows_of(project).order_by("pk")
            # Numbered first, so that a row can name one of its own model further on (a merged KB entity).
            own = numbers[model] = {pk: n for n, pk in enumerate(rows.values_list("pk", flat=True), 1)}
            fields = _fields(model)
            many = list(model._meta.many_to_many)
            for row in rows.iterator(chunk_size=BATCH):
                values = {field.name: _value(row, field, numbers, usernames) for field in fields}
                for field in many:
                    targets = numbers[field.related_model]  # type: ignore[index]
                    values[field.name] = sorted(
                        targets[pk] for pk in getattr(row, field.name).values_list("pk", flat=True)
                    )
                out.write(_line({"model": _label(model), "n": own[row.pk], "fields": values}))
            counts[_label(model)] = len(own)
    return counts


def _value(
    row: models.Model,
    field: models.Field[Any, Any],
    numbers: dict[Any, dict[int, int]],
    usernames: dict[int, str],
) -> Any:
    if not field.is_relation:
        return _plain(field.value_from_object(row))
    target_id = getattr(row, field.attname)
    if target_id is None:
        return None
    if field.related_model is get_user_model():
        return usernames.get(target_id)
    try:
        return numbers[field.related_model][target_id]
    except KeyError:
        raise BackupError(
            f"A {row._meta.verbose_name} refers to a {field.related_model._meta.verbose_name} outside the project."  # type: ignore[union-attr]
        ) from None


def _line(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode() + b"\n"


def read_lines(stream: IO[bytes]) -> Iterator[dict[str, Any]]:
    try:
        with gzip.GzipFile(fileobj=stream, mode="rb") as lines:
            for number, line in enumerate(lines, 1):
                try:
                    yield json.loads(line)
                except ValueError:
                    raise BackupError(f"Line {number} of the backup is not JSON.") from None
    except (OSError, EOFError):
        raise BackupError("This is not a gzipped backup file.") from None


@transaction.atomic
def restore_backup(stream: IO[bytes], *, slug: str, by: User) -> Project:
    """Make a new project (with this slug) from a backup, all or nothing; `by` becomes a manager of it."""
    lines = read_lines(stream)
    header = next(lines, None)
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise BackupError("This file is not an Annotator project backup.")
    if header.get("version") not in READABLE_VERSIONS:
        raise BackupError(
            f"This backup is of version {header.get('version')!r}; this site reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))}."
        )
    if Project.objects.filter(slug=slug).exists():
        raise BackupError(f"There is already a project named {slug!r}.", field="slug")
    restorer = _Restorer(slug=slug, by=by)
    for line in lines:
        restorer.add(line)
    project = restorer.finish()
    # The articles came in by bulk_create: their search documents are written by a job after this commits.
    queue_project(project.pk)
    start_search_indexing(project=project, by=by)
    if not Membership.objects.filter(project=project, user=by).exists():
        Membership.objects.create(project=project, user=by, role=Role.MANAGER)
    return project


class _Restorer:
    """Inserts a backup's rows model by model, in batches, mapping file numbers to the new rows' ids."""

    def __init__(self, *, slug: str, by: User) -> None:
        self.slug, self.by = slug, by
        self.models = {_label(model): model for model, _ in MODELS}
        self.order = [_label(model) for model, _ in MODELS]
        self.ids: dict[type[models.Model], dict[int, int]] = {}
        self.users: dict[str, Any] = {}
        self.project: Project | None = None
        self.pending: list[dict[str, Any]] = []
        self.current: str | None = None
        self.self_links: list[tuple[int, str, int]] = []  # (file number, field, file number of the target)
        self.position = 0

    def add(self, line: dict[str, Any]) -> None:
        label = line.get("model")
        if (
            label not in self.models
            or not isinstance(line.get("fields"), dict)
            or not isinstance(line.get("n"), int)
        ):
            raise BackupError(f"A line of the backup names no model this site has: {str(label)[:100]!r}.")
        if label != self.current:
            self._flush()
            self._link_own_rows()
            if self.order.index(label) < self.position:
                raise BackupError(f"The backup's {label} rows are out of order.")
            self.position, self.current = self.order.index(label), label
        self.pending.append(line)
        if len(self.pending) >= BATCH:
            self._flush()

    def finish(self) -> Project:
        self._flush()
        self._link_own_rows()
        if self.project is None:
            raise BackupError("The backup holds no project.")
        return self.project

    def _user(self, username: str | None) -> Any:
        if username is None:
            return None
        if username not in self.users:
            users = get_user_model().objects
            user = users.filter(username=username).first()
            if user is None:  # someone of another site: an account they cannot use until staff say so
                user = users.create_user(username, is_active=False)
                user.set_unusable_password()
                user.save(update_fields=["password"])
            self.users[username] = user
        return self.users[username]

    def _flush(self) -> None:
        if not self.pending:
            return
        model = self.models[self.current]  # type: ignore[index]
        lines, self.pending = self.pending, []
        fields = {field.name: field for field in _fields(model)}
        rows, many = [], []
        for line in lines:
            values = line["fields"]
            unknown = values.keys() - fields.keys() - {f.name for f in model._meta.many_to_many}
            if unknown:
                raise BackupError(
                    f"The backup's {self.current} rows have fields this site does not know: {sorted(unknown)}."
                )
            row = model(
                **{
                    field.attname: self._restored(model, field, values.get(name), line["n"])
                    for name, field in fields.items()
                }
            )
            if model is Project:
                row.slug, row.created_by = self.slug, self.by  # type: ignore[attr-defined]
            elif any(f.related_model is Project for f in model._meta.concrete_fields if f.is_relation):
                row.project = self.project  # type: ignore[attr-defined]
            rows.append(row)
            many.append({f.name: values.get(f.name, []) for f in model._meta.many_to_many})
        made = model._default_manager.bulk_create(rows)
        if kept := [time for time in fields.values() if (model, time.name) in KEPT_TIMES]:
            # bulk_create stamps auto_now_add fields with the time of the restore: put the file's back.
            for line, row in zip(lines, made, strict=True):
                for time in kept:
                    if (value := line["fields"].get(time.name)) is not None:
                        setattr(row, time.attname, time.to_python(value))
            model._default_manager.bulk_update(made, [time.name for time in kept])
        own = self.ids.setdefault(model, {})
        for line, row in zip(lines, made, strict=True):
            own[line["n"]] = row.pk
        if model is Project:
            self.project = made[0]  # type: ignore[assignment]
        for row, targets in zip(made, many, strict=True):
            for name, numbers in targets.items():
                field = model._meta.get_field(name)
                getattr(row, name).set([self.ids[field.related_model][n] for n in numbers])  # type: ignore[index]

    def _link_own_rows(self) -> None:
        """Point rows at rows of their own model, now that all of them are in."""
        if self.current is None or not self.self_links:
            return
        model = self.models[self.current]
        own = self.ids.get(model, {})
        for number, name, target in self.self_links:
            if target not in own:
                raise BackupError(f"A {self.current} row refers to a missing {self.current} {target}.")
            model._default_manager.filter(pk=own[number]).update(**{name: own[target]})
        self.self_links = []

    def _restored(
        self, model: type[models.Model], field: models.Field[Any, Any], value: Any, number: int
    ) -> Any:
        if not field.is_relation:
            return field.to_python(value)
        if value is None:
            return None
        if field.related_model is get_user_model():
            return self._user(value).pk
        if field.related_model is model:  # set once every row of the model is in
            self.self_links.append((number, field.attname, value))
            return None
        try:
            return self.ids[field.related_model][value]  # type: ignore[index]
        except KeyError:
            target = getattr(field.related_model, "_meta", None)
            raise BackupError(f"A {self.current} row refers to a missing {target} {value}.") from None
