"""Projects, who belongs to them, and the label schema they annotate with."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from annotator.core.models import TimeStampedModel
from annotator.projects.languages import LANGUAGES

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User


class Role(models.TextChoices):
    MANAGER = "manager", "Manager"
    CURATOR = "curator", "Curator"
    ANNOTATOR = "annotator", "Annotator"


class AssignmentStrategy(models.TextChoices):
    """In which order the queue hands out the articles that still need annotators."""

    LEAST_ANNOTATED = "least_annotated", "Least-annotated first"
    RANDOM = "random", "Random"
    IN_ORDER = "in_order", "In order (oldest first)"


class ProjectQuerySet(models.QuerySet["Project"]):
    def visible_to(self, user: User | AnonymousUser) -> ProjectQuerySet:
        """Projects the user is a member of; the others do not exist for them."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(memberships__user=user)

    def with_role_of(self, user: User | AnonymousUser) -> ProjectQuerySet:
        """Annotate each project with `my_role`, the user's role in it (None for non-members)."""
        if not user.is_authenticated:
            return self.annotate(my_role=models.Value(None, output_field=models.CharField()))
        role = Membership.objects.filter(project=models.OuterRef("pk"), user=user).values("role")[:1]
        return self.annotate(my_role=models.Subquery(role))


class Project(TimeStampedModel):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    language = models.CharField(
        max_length=8,
        choices=LANGUAGES,
        default="en",
        help_text="The language of the project's texts: its tokenizer, and which shipped word lists apply.",
    )
    annotators_per_article = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(50)],
        help_text="How many annotators each article needs before it is ready for curation.",
    )
    allow_overlapping_spans = models.BooleanField(
        default=True, help_text="Whether spans of one annotation set may overlap or nest."
    )
    trim_span_whitespace = models.BooleanField(
        default=False,
        help_text="Trim white space at the edges of a new or changed span instead of refusing the span.",
    )
    assignment_strategy = models.CharField(
        max_length=16,
        choices=AssignmentStrategy.choices,
        default=AssignmentStrategy.LEAST_ANNOTATED,
        help_text="Which article the queue hands out next among those that still need annotators.",
    )
    blind = models.BooleanField(
        default=True,
        help_text="Annotators see only their own annotation sets: not each other's, not gold.",
    )
    abandon_after_minutes = models.PositiveIntegerField(
        default=4 * 60,  # a working session: a set opened and left (a curator browsing) frees its place soon
        validators=[MinValueValidator(1), MaxValueValidator(60 * 24 * 365)],
        help_text="An article handed out and left untouched this long goes back to the queue for others.",
    )
    promote_to_gold = models.BooleanField(
        default=False,
        help_text="With one annotator per article: a submitted set becomes the article's curated gold.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    archived_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When it was archived: read-only and out of the queues until unarchived.",
    )

    objects = ProjectQuerySet.as_manager()
    my_role: str | None  # set by ProjectQuerySet.with_role_of(); not a column

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(annotators_per_article__gte=1), name="project_needs_an_annotator"
            ),
            models.CheckConstraint(condition=~Q(name=""), name="project_name_not_empty"),
            models.CheckConstraint(
                condition=Q(language__in=[code for code, _ in LANGUAGES]), name="project_language_valid"
            ),
            models.CheckConstraint(
                condition=Q(assignment_strategy__in=AssignmentStrategy.values),
                name="project_assignment_strategy_valid",
            ),
            models.CheckConstraint(
                condition=Q(abandon_after_minutes__gte=1), name="project_abandon_after_positive"
            ),
            models.CheckConstraint(
                condition=Q(promote_to_gold=False) | Q(annotators_per_article=1),
                name="project_promotes_only_with_one_annotator",
                violation_error_message="Promoting submitted sets to gold needs exactly one annotator per article.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("projects:detail", args=[self.pk])


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "role", "user"]
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="one_membership_per_user"),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) in {self.project}"


colour_validator = RegexValidator(r"^#[0-9a-fA-F]{6}$", "Give the colour as #rrggbb.")


def validate_type_key(key: str) -> None:
    """Type keys are one letter or digit: the annotate page keeps punctuation and Enter for its actions."""
    if key and not (len(key) == 1 and key.isalnum()):
        raise ValidationError("A type's key is a single letter or digit.")


class EntityType(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="entity_types")
    name = models.CharField(max_length=64)
    key = models.CharField(
        max_length=1,
        blank=True,
        validators=[validate_type_key],
        help_text="The keyboard key (a letter or digit) that applies this type on the annotate page.",
    )
    colour = models.CharField(max_length=7, default="#d0e4ff", validators=[colour_validator])
    description = models.TextField(blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["project", "position", "name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="entity_type_name_unique"),
            models.UniqueConstraint(
                fields=["project", "key"], condition=~Q(key=""), name="entity_type_key_unique"
            ),
            models.CheckConstraint(condition=~Q(name=""), name="entity_type_name_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name


class AttributeKind(models.TextChoices):
    BOOLEAN = "boolean", "Yes or no"
    CHOICE = "choice", "One of a list"
    TEXT = "text", "Free text"


ATTRIBUTE_TEXT_MAX = 1000  # a free-text attribute is a note on a mention, not a document


class EntityTypeAttribute(models.Model):
    """A property annotators set on the spans of one entity type: negation, certainty, a role.

    Values live in `annotations.SpanAttribute`, one row per span and attribute, so renaming an attribute
    or one of its choices' order costs nothing; removing a choice that spans use is the schema editor's
    job (it shows the counts and asks first).
    """

    entity_type = models.ForeignKey(EntityType, on_delete=models.CASCADE, related_name="attributes")
    name = models.CharField(max_length=64)
    kind = models.CharField(max_length=16, choices=AttributeKind.choices)
    choices = models.JSONField(
        default=list, blank=True, help_text="The values a one-of-a-list attribute may take, in order."
    )
    description = models.TextField(blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["entity_type", "position", "name"]
        constraints = [
            models.UniqueConstraint(fields=["entity_type", "name"], name="attribute_name_unique_in_type"),
            models.CheckConstraint(condition=~Q(name=""), name="attribute_name_not_empty"),
            models.CheckConstraint(condition=Q(kind__in=AttributeKind.values), name="attribute_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.entity_type}.{self.name}"

    def clean(self) -> None:
        choices = self.choices
        if self.kind == AttributeKind.CHOICE:
            if not isinstance(choices, list) or not choices:
                raise ValidationError({"choices": "A one-of-a-list attribute needs at least one value."})
            if not all(isinstance(choice, str) and choice.strip() for choice in choices):
                raise ValidationError({"choices": "Each value is a non-empty text."})
            if len(set(choices)) != len(choices):
                raise ValidationError({"choices": "Each value may appear only once."})
        elif choices:
            raise ValidationError({"choices": "Only a one-of-a-list attribute has values to choose from."})

    def check_value(self, value: object) -> bool | str:
        """The value as stored, or a ValidationError saying why this attribute cannot take it."""
        if self.kind == AttributeKind.BOOLEAN:
            if not isinstance(value, bool):
                raise ValidationError(f"{self.name} is yes or no (true or false), not {value!r}.")
            return value
        if not isinstance(value, str):
            raise ValidationError(f"{self.name} takes a text value, not {value!r}.")
        if self.kind == AttributeKind.CHOICE:
            if value not in self.choices:
                listed = ", ".join(repr(choice) for choice in self.choices)
                raise ValidationError(f"{self.name} is one of {listed}, not {value!r}.")
            return value
        if not value.strip():
            raise ValidationError(f"{self.name} needs some text; clear the attribute instead.")
        if len(value) > ATTRIBUTE_TEXT_MAX:
            raise ValidationError(f"{self.name} takes at most {ATTRIBUTE_TEXT_MAX} characters.")
        return value


class RelationType(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="relation_types")
    name = models.CharField(max_length=64)
    directed = models.BooleanField(
        default=True, help_text="Directed relations go from head to tail; symmetric ones have no direction."
    )
    head_types = models.ManyToManyField(
        EntityType, blank=True, related_name="+", help_text="Entity types allowed as head; none means any."
    )
    tail_types = models.ManyToManyField(
        EntityType, blank=True, related_name="+", help_text="Entity types allowed as tail; none means any."
    )
    key = models.CharField(max_length=1, blank=True)
    description = models.TextField(blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["project", "position", "name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="relation_type_name_unique"),
            models.CheckConstraint(condition=~Q(name=""), name="relation_type_name_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name

    def allows(self, head_type_id: int, tail_type_id: int) -> bool:
        """Whether the schema allows this relation between spans of these entity types.

        Symmetric relations have no direction, so either orientation of the pair is allowed.
        Reads the prefetched head and tail types when there are any.
        """
        heads = {t.pk for t in self.head_types.all()}
        tails = {t.pk for t in self.tail_types.all()}

        def fits(head: int, tail: int) -> bool:
            return (not heads or head in heads) and (not tails or tail in tails)

        return fits(head_type_id, tail_type_id) or (not self.directed and fits(tail_type_id, head_type_id))


class GuidelineVersion(models.Model):
    """One version of a project's annotation guidelines (Markdown). Every edit makes a new one."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="guideline_versions")
    number = models.PositiveIntegerField()
    text = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "-number"]
        get_latest_by = "number"
        constraints = [
            models.UniqueConstraint(fields=["project", "number"], name="guideline_version_number_unique"),
            models.CheckConstraint(condition=Q(number__gte=1), name="guideline_version_number_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.project} guidelines v{self.number}"
