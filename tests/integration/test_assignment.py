"""Assignment: the queue hands out articles by the project's strategy, reserves them, and takes back the
abandoned ones; blind projects hide annotators' sets from each other; managers change these settings."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from annotator.annotations import services
from annotator.annotations.models import AnnotationSet, SetKind, SetStatus
from annotator.projects.models import AssignmentStrategy, Role
from annotator.review.queue import next_article, queue_size
from tests.factories import ArticleFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def configure(project, **values):
    for name, value in values.items():
        setattr(project, name, value)
    project.save()


def member(project, name, role=Role.ANNOTATOR):
    user = UserFactory(username=name)
    MembershipFactory(project=project, user=user, role=role)
    return user


def held_by(article):
    return sorted(
        AnnotationSet.objects.filter(article=article, kind=SetKind.ANNOTATOR).values_list(
            "annotator__username", flat=True
        )
    )


def submit(article, user):
    own = services.get_or_create_own_set(article=article, user=user)
    services.submit_set(annotation_set=own, by=user, expected_version=own.version)


@pytest.fixture
def three(news):
    """The news project with two more articles and no set yet: the fixture's own set is removed."""
    news.annotation_set.delete()
    news.second = ArticleFactory(project=news.project, title="second")
    news.third = ArticleFactory(project=news.project, title="third")
    return news


def test_least_annotated_first_hands_out_the_article_with_fewest_places_held(three):
    configure(three.project, annotators_per_article=2, assignment_strategy=AssignmentStrategy.LEAST_ANNOTATED)
    services.get_or_create_own_set(article=three.article, user=member(three.project, "bob"))
    submit(three.second, member(three.project, "carol"))
    carl = member(three.project, "carl")
    assert next_article(project=three.project, user=carl) == three.third
    assert held_by(three.third) == ["carl"]  # handing out reserved it
    dave = member(three.project, "dave")
    # Every article now holds one place: ties go in id order.
    assert next_article(project=three.project, user=dave) == three.article


def test_in_order_hands_out_by_id_whatever_the_places_held(three):
    configure(three.project, annotators_per_article=2, assignment_strategy=AssignmentStrategy.IN_ORDER)
    services.get_or_create_own_set(article=three.article, user=member(three.project, "bob"))
    assert next_article(project=three.project, user=three.annotator) == three.article


def test_random_hands_out_only_articles_with_room_and_reaches_each_of_them(three):
    configure(three.project, annotators_per_article=40, assignment_strategy=AssignmentStrategy.RANDOM)
    full = three.third
    for n in range(40):
        services.get_or_create_own_set(article=full, user=member(three.project, f"full{n}"))
    handed = [next_article(project=three.project, user=member(three.project, f"r{n}")) for n in range(30)]
    assert set(handed) == {
        three.article,
        three.second,
    }  # both reached (a 2**-29 chance to fail), never `full`
    assert len(held_by(three.article)) + len(held_by(three.second)) == 30


def test_nobody_is_handed_the_same_article_twice(three):
    configure(three.project, annotators_per_article=3)
    first = next_article(project=three.project, user=three.annotator)
    assert next_article(project=three.project, user=three.annotator) == first  # unfinished: still mine
    submit(first, three.annotator)
    second = next_article(project=three.project, user=three.annotator, after=first)
    submit(second, three.annotator)
    third = next_article(project=three.project, user=three.annotator, after=second)
    submit(third, three.annotator)
    assert [first, second, third] == [three.article, three.second, three.third]
    assert next_article(project=three.project, user=three.annotator) is None
    assert queue_size(project=three.project, user=three.annotator) == 0


def test_the_last_place_goes_to_one_person_only(three):
    configure(three.project, annotators_per_article=1)
    alice, bob = three.annotator, member(three.project, "bob")
    assert next_article(project=three.project, user=alice) == three.article
    assert next_article(project=three.project, user=bob) == three.second
    assert held_by(three.article) == ["alice"]
    assert queue_size(project=three.project, user=bob) == 2  # his own, and the third


def test_an_abandoned_article_goes_back_to_the_queue_and_keeps_its_work(three):
    configure(three.project, annotators_per_article=1, abandon_after_minutes=30)
    alice, bob = three.annotator, member(three.project, "bob")
    assert next_article(project=three.project, user=alice) == three.article
    own = AnnotationSet.objects.get(article=three.article, annotator=alice)
    AnnotationSet.objects.filter(pk=own.pk).update(updated_at=timezone.now() - timedelta(minutes=29))
    assert next_article(project=three.project, user=bob) == three.second  # 29 minutes: still alice's
    AnnotationSet.objects.filter(pk=own.pk).update(updated_at=timezone.now() - timedelta(minutes=31))
    carol = member(three.project, "carol")
    assert next_article(project=three.project, user=carol) == three.article  # released after 30
    assert held_by(three.article) == ["alice", "carol"]
    assert AnnotationSet.objects.get(pk=own.pk).status == SetStatus.IN_PROGRESS  # alice's work stays
    # The place is carol's now: alice's queue moves on rather than hand her a full article again.
    assert next_article(project=three.project, user=alice) == three.third


def test_handing_out_my_unfinished_article_renews_the_reservation(three):
    configure(three.project, annotators_per_article=1, abandon_after_minutes=30)
    next_article(project=three.project, user=three.annotator)
    stale = timezone.now() - timedelta(minutes=31)
    AnnotationSet.objects.filter(article=three.article).update(updated_at=stale)
    assert next_article(project=three.project, user=three.annotator) == three.article  # still has room
    assert AnnotationSet.objects.get(article=three.article).updated_at > stale + timedelta(minutes=30)
    assert next_article(project=three.project, user=member(three.project, "bob")) == three.second


def test_curated_articles_leave_the_queue(three):
    configure(three.project, annotators_per_article=2)
    gold = services.get_or_create_gold_set(article=three.article)
    services.submit_set(annotation_set=gold, by=three.manager, expected_version=gold.version)
    assert next_article(project=three.project, user=three.annotator) == three.second


def test_handing_out_takes_a_constant_number_of_queries(three, django_assert_max_num_queries):
    for _ in range(20):
        ArticleFactory(project=three.project)
    with django_assert_max_num_queries(12):  # savepoints and the set's history included
        assert next_article(project=three.project, user=three.annotator) == three.article


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: row locks (FOR UPDATE SKIP LOCKED); SQLite locks the whole file",
)
def test_people_asking_at_once_never_share_the_last_place():
    from annotator.projects.models import Project

    project = Project.objects.create(name="Race", slug="race", annotators_per_article=1)
    articles = [ArticleFactory(project=project) for _ in range(3)]
    users = [member(project, f"racer{n}") for n in range(6)]
    barrier = threading.Barrier(len(users))
    handed, errors = {}, []

    def ask(user):
        try:
            barrier.wait()
            handed[user.username] = next_article(project=project, user=user)
        except Exception as error:  # reported below: an exception in a thread would be lost
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=ask, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    got = [article for article in handed.values() if article is not None]
    assert sorted(a.pk for a in got) == [a.pk for a in articles]  # each article once, three people without
    for article in articles:
        assert len(held_by(article)) == 1


# Blind mode


def test_blind_projects_hide_other_annotators_sets_in_the_api(client, news):
    bob = member(news.project, "bob")
    bobs = services.get_or_create_own_set(article=news.article, user=bob)
    gold = services.get_or_create_gold_set(article=news.article)
    sets_url = reverse("api:article-sets", args=[news.article.pk])
    client.force_login(news.annotator)
    assert [s["id"] for s in client.get(sets_url).json()] == [news.annotation_set.pk]
    assert client.get(reverse("api:set-detail", args=[bobs.pk])).status_code == 404
    assert client.get(reverse("api:set-detail", args=[gold.pk])).status_code == 404
    configure(news.project, blind=False)
    assert {s["id"] for s in client.get(sets_url).json()} == {news.annotation_set.pk, bobs.pk, gold.pk}
    assert client.get(reverse("api:set-detail", args=[bobs.pk])).status_code == 200
    configure(news.project, blind=True)
    client.force_login(member(news.project, "cora", Role.CURATOR))
    assert {s["id"] for s in client.get(sets_url).json()} == {news.annotation_set.pk, bobs.pk, gold.pk}


def test_blind_projects_hide_gold_from_annotators_on_the_article_page(client, news):
    gold = services.get_or_create_gold_set(article=news.article)
    services.create_span(
        annotation_set=gold, start=25, end=30, entity_type=news.gpe, by=news.manager, expected_version=1
    )
    client.force_login(news.annotator)
    page = client.get(reverse("articles:detail", args=[news.article.pk]))
    assert [s.kind for s in page.context["annotation_sets"]] == ["annotator"]
    configure(news.project, blind=False)
    page = client.get(reverse("articles:detail", args=[news.article.pk]))
    assert sorted(s.kind for s in page.context["annotation_sets"]) == ["annotator", "gold"]


# The settings page


def settings_form(**values):
    data = {
        "annotators_per_article": 2,
        "assignment_strategy": "random",
        "blind": "on",
        "abandon_after_minutes": 45,
    }
    data.update(values)
    return {name: value for name, value in data.items() if value is not None}


def test_managers_change_the_assignment_settings(client, news):
    client.force_login(news.manager)
    url = reverse("projects:settings", args=[news.project.pk])
    response = client.post(url, settings_form())
    assert response.status_code == 302
    news.project.refresh_from_db()
    assert (
        news.project.annotators_per_article,
        news.project.assignment_strategy,
        news.project.blind,
        news.project.abandon_after_minutes,
        news.project.promote_to_gold,
    ) == (2, "random", True, 45, False)
    refused = client.post(url, settings_form(promote_to_gold="on"))
    assert refused.status_code == 200
    assert (
        "Promoting submitted sets to gold needs exactly one annotator per article."
        in refused.content.decode()
    )
    assert client.post(url, settings_form(abandon_after_minutes=0)).status_code == 200
    news.project.refresh_from_db()
    assert (news.project.promote_to_gold, news.project.abandon_after_minutes) == (False, 45)
    client.post(url, settings_form(annotators_per_article=1, promote_to_gold="on", blind=None))
    news.project.refresh_from_db()
    assert (news.project.promote_to_gold, news.project.blind) == (True, False)


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.CURATOR])
def test_other_members_read_the_settings_but_cannot_change_them(client, news, role):
    client.force_login(member(news.project, "someone", role))
    url = reverse("projects:settings", args=[news.project.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert "Only the project's managers change these settings." in page.content.decode()
    assert all(field.disabled for field in page.context["form"].fields.values())
    assert client.post(url, settings_form()).status_code == 403
    news.project.refresh_from_db()
    assert news.project.assignment_strategy == AssignmentStrategy.LEAST_ANNOTATED


def test_settings_page_escapes_the_project_name(client, news):
    configure(news.project, name="<script>alert(1)</script> {{ x }} 🦊 مرحبا")
    client.force_login(news.manager)
    page = client.get(reverse("projects:settings", args=[news.project.pk])).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; {{ x }} 🦊 مرحبا" in page
