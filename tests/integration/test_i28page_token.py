"""The CSRF token the annotate page writes (`review.page_token`) is accepted by Django's middleware: a
form posted with it from a browser holding the page's cookie goes through; without it, it is refused."""

import re

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_the_page_s_token_posts_the_submit_form_and_a_post_without_it_is_refused(news):
    client = Client(enforce_csrf_checks=True)
    client.force_login(news.annotator)
    url = reverse("review:annotate", args=[news.article.pk])
    client.get(url)  # the first open makes her set; the browser keeps the CSRF cookie it sets
    html = client.get(url).content.decode()
    tokens = re.findall(r'name="csrfmiddlewaretoken" value="([A-Za-z0-9]{64})"', html)
    assert tokens  # the submit form's, the comment form's...
    assert len(set(tokens)) == 1
    assert f'"X-CSRFToken": "{tokens[0]}"' in html

    submit = reverse("review:submit", args=[news.article.pk])
    assert client.post(submit, {"version": 1}).status_code == 403
    answer = client.post(submit, {"version": 1, "csrfmiddlewaretoken": tokens[0]})
    assert answer.status_code == 302  # submitted, on to the next article
