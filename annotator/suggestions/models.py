"""Model output as data: which suggester said what, and what each annotation set decided about it."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from annotator.annotations.models import AnnotationSet, EntityLink, Relation, Span
from annotator.articles.models import Article
from annotator.core.lean_history import LeanHistoricalRecords
from annotator.kb.models import KBEntity
from annotator.projects.models import EntityType, Project, RelationType

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User


def _min_articles() -> int:
    return int(settings.ANNOTATOR_TRAIN_MIN_ARTICLES)


def _retrain_every() -> int:
    return int(settings.ANNOTATOR_TRAIN_EVERY)


def _folds() -> int:
    return int(settings.ANNOTATOR_TRAIN_FOLDS)


class PipelineMode(models.TextChoices):
    ADD = "add", "Add to the gazetteer and rules"
    REPLACE = "replace", "Replace them"


class SuggesterSettings(models.Model):
    """A project's choices about its suggestions: which pretrained pipeline, how every source's labels
    become its types, and when its own model learns from the annotators.

    `pipeline` names an installed spaCy package or a pipeline directory; empty means the site's
    default (ANNOTATOR_SPACY_PIPELINE) unless `use_site_pipeline` is off, when it means none.
    `label_map` holds only the labels a manager chose; the others take the default found by name.
    `measured` is what the learning job last measured: per source and type how often it was right on
    the project's gold, and the gold mentions dropped as patterns for measuring poorly.
    """

    project = models.OneToOneField(
        Project, on_delete=models.CASCADE, primary_key=True, related_name="suggester_settings"
    )
    use_site_pipeline = models.BooleanField(default=True)
    pipeline = models.CharField(max_length=500, blank=True)
    pipeline_mode = models.CharField(max_length=16, choices=PipelineMode.choices, blank=True)
    label_map = models.JSONField(default=dict, blank=True)
    learn = models.BooleanField(
        default=True, help_text="Train the project's model in the background as annotators submit articles."
    )
    learn_after = models.PositiveIntegerField(
        default=_min_articles,
        validators=[MinValueValidator(2), MaxValueValidator(1_000_000)],
        help_text="Annotated articles needed before the first model is trained.",
    )
    retrain_every = models.PositiveIntegerField(
        default=_retrain_every,
        validators=[MinValueValidator(1), MaxValueValidator(1_000_000)],
        help_text="Newly annotated articles that start another training.",
    )
    folds = models.PositiveSmallIntegerField(
        default=_folds,
        validators=[MinValueValidator(2), MaxValueValidator(10)],
        help_text="Cross-validation folds a new model is measured on.",
    )
    learned_articles = models.PositiveIntegerField(
        default=0, help_text="Annotated articles there were when training last started."
    )
    measured = models.JSONField(default=dict, blank=True)
    digest = models.CharField(
        max_length=16, blank=True, editable=False, help_text="Names the label map and dropped patterns."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "suggester settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(pipeline_mode__in=[*PipelineMode.values, ""]),
                name="suggester_pipeline_mode_valid",
            ),
            models.CheckConstraint(condition=Q(learn_after__gte=2), name="suggester_learn_after_min"),
            models.CheckConstraint(condition=Q(retrain_every__gte=1), name="suggester_retrain_every_min"),
            models.CheckConstraint(
                condition=Q(folds__gte=2) & Q(folds__lte=10), name="suggester_folds_range"
            ),
        ]

    def __str__(self) -> str:
        return f"Suggester settings of {self.project_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.digest = self.compute_digest()
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "digest", "updated_at"}
        super().save(*args, **kwargs)

    def compute_digest(self) -> str:
        """What of these settings changes what the gazetteer and the merge do: suggestions stored under
        another digest are stale."""
        dropped = sorted(map(tuple, (self.measured or {}).get("dropped_gold_patterns", [])))
        value = json.dumps([sorted((self.label_map or {}).items()), dropped])
        return hashlib.sha256(value.encode()).hexdigest()[:16]


class SuggesterKind(models.TextChoices):
    RULES = "rules", "Rules and gazetteer"
    TRAINED = "trained", "Trained in the app"
    PIPELINE = "pipeline", "Installed spaCy pipeline"


class SuggesterVersionQuerySet(models.QuerySet["SuggesterVersion"]):
    def visible_to(self, user: User | AnonymousUser) -> SuggesterVersionQuerySet:
        if not user.is_authenticated:
            return self.none()
        return self.filter(project__memberships__user=user)


class SuggesterVersion(models.Model):
    """One pipeline that produced suggestions, with what it learnt from and how well it measured."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="suggester_versions")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=SuggesterKind.choices)
    version = models.CharField(max_length=64)
    description = models.TextField(blank=True)
    config = models.JSONField(default=dict, blank=True, help_text="Settings it was built with.")
    trained_on = models.JSONField(default=dict, blank=True, help_text="What gold it was trained on.")
    metrics = models.JSONField(
        default=dict, blank=True, help_text="Precision, recall and F1 per label on held-out gold."
    )
    path = models.CharField(max_length=500, blank=True, help_text="Where the saved pipeline lives.")
    is_active = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SuggesterVersionQuerySet.as_manager()

    class Meta:
        ordering = ["project", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name", "version"], name="suggester_version_unique"),
            models.UniqueConstraint(
                fields=["project"], condition=Q(is_active=True), name="one_active_suggester_per_project"
            ),
            models.CheckConstraint(condition=Q(kind__in=SuggesterKind.values), name="suggester_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


class SuggestionKind(models.TextChoices):
    ENTITY = "entity", "Entity"
    RELATION = "relation", "Relation"
    LINK = "link", "Link"


class Suggestion(models.Model):
    """Immutable model output for an article, anchored by offsets so it belongs to no annotation set.

    - entity: the span [start, end) with `entity_type`;
    - relation: from the head [start, end) of `entity_type` to the tail [tail_start, tail_end) of
      `tail_entity_type`, with `relation_type`;
    - link: the mention [start, end) (of `entity_type` when known) to the candidate `kb_entity`, ranked
      `rank` (0 is best) among the candidates for that mention.
    """

    # Pre-annotation writes about seventy rows per article, so every index costs: the article and the
    # version are covered by the composite indexes below, the KB entity by a partial one, and the types
    # are deleted too rarely to be worth one (deleting a type scans the table once).
    # No foreign key constraints (db_constraint=False): a foreign key checks each row on its own, three
    # to five look-ups per row, which was two thirds of PostgreSQL's work in pre-annotation. Triggers
    # installed by migration 0006_i18workers_set_based_references keep the same integrity once per
    # statement instead: every referenced row must exist (locked as a foreign key locks it), deleting a
    # referenced row deletes its suggestions (CASCADE, also outside Django), changing its id is refused.
    # SQLite rebuilds a table to alter it, which drops its triggers: a migration that alters this table
    # or a referenced one on SQLite must create them again (tests/integration/test_suggestion_references).
    article = models.ForeignKey(
        Article, on_delete=models.CASCADE, related_name="suggestions", db_index=False, db_constraint=False
    )
    suggester_version = models.ForeignKey(
        SuggesterVersion,
        on_delete=models.CASCADE,
        related_name="suggestions",
        db_index=False,
        db_constraint=False,
    )
    kind = models.CharField(max_length=16, choices=SuggestionKind.choices)
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    entity_type = models.ForeignKey(
        EntityType,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    tail_start = models.PositiveIntegerField(null=True, blank=True)
    tail_end = models.PositiveIntegerField(null=True, blank=True)
    tail_entity_type = models.ForeignKey(
        EntityType,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    relation_type = models.ForeignKey(
        RelationType,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    kb_entity = models.ForeignKey(
        KBEntity,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    rank = models.PositiveSmallIntegerField(default=0)
    score = models.FloatField()
    source = models.CharField(
        max_length=100, help_text="What inside the suggester said it: kb-ruler, a rule id, a model name."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["article", "start", "end", "kind", "rank"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=SuggestionKind.values), name="suggestion_kind_valid"),
            models.CheckConstraint(
                condition=Q(start__lt=models.F("end")), name="suggestion_start_before_end"
            ),
            models.CheckConstraint(
                condition=Q(score__gte=0) & Q(score__lte=1), name="suggestion_score_range"
            ),
            models.CheckConstraint(
                condition=~Q(kind=SuggestionKind.ENTITY)
                | Q(
                    entity_type__isnull=False,
                    relation_type__isnull=True,
                    kb_entity__isnull=True,
                    tail_start__isnull=True,
                    tail_end__isnull=True,
                ),
                name="suggestion_entity_shape",
            ),
            models.CheckConstraint(
                condition=~Q(kind=SuggestionKind.RELATION)
                | Q(
                    relation_type__isnull=False,
                    entity_type__isnull=False,
                    tail_entity_type__isnull=False,
                    tail_start__lt=models.F("tail_end"),
                    kb_entity__isnull=True,
                ),
                name="suggestion_relation_shape",
            ),
            models.CheckConstraint(
                condition=~Q(kind=SuggestionKind.LINK)
                | Q(kb_entity__isnull=False, relation_type__isnull=True, tail_start__isnull=True),
                name="suggestion_link_shape",
            ),
        ]
        indexes = [
            models.Index(fields=["article", "kind"], name="suggestion_article_idx"),
            models.Index(fields=["suggester_version", "article"], name="suggestion_version_idx"),
            # Only link suggestions name a KB entity: entity and relation rows (most of them) stay out.
            models.Index(
                fields=["kb_entity"], condition=Q(kb_entity__isnull=False), name="suggestion_kb_entity_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} [{self.start}, {self.end}) {self.score:.2f} by {self.source}"


class Verdict(models.TextChoices):
    ACCEPTED = "accepted", "Accepted"
    CORRECTED = "corrected", "Corrected"
    REJECTED = "rejected", "Rejected"


class Decision(models.Model):
    """What one annotation set did with one suggestion, and what it made of it.

    `span`, `relation` and `link` point at the annotation the decision produced or reused; `result` keeps
    a snapshot of it (the objects may later change or go) and which of them the decision created, so
    that undoing the decision removes exactly those.
    """

    # Found by one_decision_per_set, which starts with it: an index of its own was one more B-tree insertion
    # per decision for nothing.
    suggestion = models.ForeignKey(
        Suggestion, on_delete=models.CASCADE, related_name="decisions", db_index=False
    )
    annotation_set = models.ForeignKey(AnnotationSet, on_delete=models.CASCADE, related_name="decisions")
    verdict = models.CharField(max_length=16, choices=Verdict.choices)
    span = models.ForeignKey(Span, null=True, blank=True, on_delete=models.SET_NULL, related_name="decisions")
    relation = models.ForeignKey(
        Relation, null=True, blank=True, on_delete=models.SET_NULL, related_name="decisions"
    )
    link = models.ForeignKey(
        EntityLink, null=True, blank=True, on_delete=models.SET_NULL, related_name="decisions"
    )
    result = models.JSONField(default=dict, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    # The history is read by set (review/history.py, review/article_actions.py), by its own id and by the
    # decision's (the admin): each other index cost every decision's history row one more B-tree insertion
    # and WAL record (7 of them: 24-29 -> 16-21 us of database CPU per row inserted, 8 interleaved rounds).
    history = LeanHistoricalRecords(no_db_index=["suggestion", "span", "relation", "link", "decided_by"])

    class Meta:
        ordering = ["annotation_set", "created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(verdict__in=Verdict.values), name="decision_verdict_valid"),
            models.UniqueConstraint(fields=["suggestion", "annotation_set"], name="one_decision_per_set"),
        ]

    def __str__(self) -> str:
        return f"{self.verdict} {self.suggestion}"


class SuggestionRun(models.Model):
    """That a suggester version has run on an article, and on what state of its inputs.

    `fingerprint` names the gazetteer (KB and gold) the run saw; when it no longer matches, the stored
    suggestions are stale and the next request for them runs the suggester again. A run that found
    nothing is still a run, so an article without mentions is not analysed on every request.
    A run with `pending_links` is current for its entities and relations; its link suggestions are
    stored when first needed (`generate.complete_links`).
    """

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="suggestion_runs")
    suggester_version = models.ForeignKey(SuggesterVersion, on_delete=models.CASCADE, related_name="runs")
    fingerprint = models.CharField(max_length=64)
    counts = models.JSONField(default=dict, blank=True, help_text="Suggestions of each kind it stored.")
    # Batch pre-annotation leaves the KB link candidates of its mentions to the first need (a page open,
    # the article's suggestions in the API, a quality report): the mentions to look up, as
    # [start, end, entity type id]; null when there is nothing left to look up.
    pending_links = models.JSONField(
        null=True, blank=True, help_text="Mentions whose link candidates are still to be looked up."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["article", "suggester_version"]
        constraints = [
            models.UniqueConstraint(
                fields=["article", "suggester_version"], name="one_run_per_article_version"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.suggester_version} on {self.article_id}"
