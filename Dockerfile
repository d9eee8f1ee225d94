# The Annotator image: web (gunicorn) and worker (db_worker) run from it; see docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    ANNOTATOR_DATA_DIR=/data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY annotator ./annotator
RUN pip install .
COPY manage.py gunicorn.conf.py ./
COPY templates ./templates
COPY static ./static
COPY fixtures ./fixtures

# Static files are collected at build time; the key only lives for this command.
RUN DJANGO_SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput \
    && useradd --create-home --uid 1000 annotator \
    && mkdir -p /data && chown annotator /data
USER annotator

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
# Workers, threads and order: WEB_CONCURRENCY, WEB_THREADS, WEB_SAVES_FIRST, WEB_READ_WAIT_MS,
# WEB_CLIENT_TIMEOUT and WEB_WAITING_MAX, read by gunicorn.conf.py and its worker (README, "Running it for a
# team").
CMD ["gunicorn", "annotator.wsgi:application", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
