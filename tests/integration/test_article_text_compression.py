"""Article texts are stored LZ4-compressed on PostgreSQL (migration articles 0007): a third of the server's
CPU in a plain-article import was pglz. A long text, compressed either way, reads back exactly."""

import pytest
from django.db import connection

from annotator.articles.models import Article

pytestmark = pytest.mark.django_db

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL: TOAST compression"
)


def lz4_available() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)"
        )
        return cursor.fetchone() is not None


@postgres_only
def test_a_long_article_text_is_stored_lz4_compressed_and_reads_back_exactly(news):
    if not lz4_available():
        pytest.skip("needs a PostgreSQL built with LZ4 (this one was built without)")
    from tests.integration.test_import_service import jsonl, line, run

    text = "Officials in Minsk said the talks covered “joint work”.\n" * 200  # 11 KB: compressed
    assert run(news, jsonl(line(external_id="long-1", text=text))).created == 1
    article = Article.objects.get(project=news.project, external_id="long-1")
    assert article.text == text
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_column_compression(text), pg_column_size(text) FROM articles_article WHERE id = %s",
            [article.pk],
        )
        method, stored = cursor.fetchone()
    assert method == "lz4"
    assert stored < len(text.encode()) // 10
