"""factory_boy factories: the smallest valid object of each kind, in a project of its own unless told."""

import factory
from django.contrib.auth import get_user_model

from annotator.annotations.models import AnnotationSet, SetKind
from annotator.articles.models import Article
from annotator.kb.models import KBEntity, KnowledgeBase
from annotator.projects.models import EntityType, Membership, Project, RelationType, Role
from annotator.suggestions.models import SuggesterKind, SuggesterVersion, Suggestion, SuggestionKind


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery staple")

    @factory.post_generation
    def save_password(self, create, extracted, **kwargs):
        if create:
            self.save()


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"Project {n}")
    slug = factory.Sequence(lambda n: f"project-{n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    project = factory.SubFactory(ProjectFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.ANNOTATOR


class EntityTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EntityType
        django_get_or_create = ["project", "name"]

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"TYPE{n}")
    colour = "#ffd6a5"


class RelationTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RelationType
        skip_postgeneration_save = True

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"relation{n}")
    directed = True

    @factory.post_generation
    def heads(self, create, extracted, **kwargs):
        if create and extracted:
            self.head_types.set(extracted)

    @factory.post_generation
    def tails(self, create, extracted, **kwargs):
        if create and extracted:
            self.tail_types.set(extracted)


class ArticleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Article

    project = factory.SubFactory(ProjectFactory)
    external_id = factory.Sequence(lambda n: f"article-{n}")
    title = factory.Sequence(lambda n: f"Article {n}")
    text = "Sergey Naryshkin visited Minsk on April 15."


class AnnotationSetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AnnotationSet

    article = factory.SubFactory(ArticleFactory)
    kind = SetKind.ANNOTATOR
    annotator = factory.SubFactory(UserFactory)


class KnowledgeBaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KnowledgeBase

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"KB {n}")


class KBEntityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KBEntity

    knowledge_base = factory.SubFactory(KnowledgeBaseFactory)
    kb_id = factory.Sequence(lambda n: f"Q{n + 1}")
    name = factory.Sequence(lambda n: f"Entity {n}")


class SuggesterVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SuggesterVersion

    project = factory.SubFactory(ProjectFactory)
    name = "kb-ruler"
    kind = SuggesterKind.RULES
    version = factory.Sequence(lambda n: f"1.{n}")


def active_suggester_of(project):
    """The project's active suggester, made if it has none: where real suggestions come from."""
    return SuggesterVersion.objects.filter(
        project=project, is_active=True
    ).first() or SuggesterVersionFactory(project=project, is_active=True)


class SuggestionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Suggestion

    article = factory.SubFactory(ArticleFactory)
    suggester_version = factory.LazyAttribute(
        lambda suggestion: active_suggester_of(suggestion.article.project)
    )
    kind = SuggestionKind.ENTITY
    start = 0
    end = 16
    entity_type = factory.SubFactory(EntityTypeFactory, project=factory.SelfAttribute("..article.project"))
    score = 0.9
    source = "kb-ruler"
