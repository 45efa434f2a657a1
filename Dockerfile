# Homeroom API image: Gunicorn serving the Flask app as a non-root user.
# Build: docker build -t homeroom .   Run: docker run -p 8000:8000 --env-file .env homeroom
# No secret is baked in: SECRET_KEY, DATABASE_URL, ENCRYPTION_KEY(S) come from the environment.

FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
COPY requirements.txt /tmp/requirements.txt
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir -r /tmp/requirements.txt

FROM python:3.11-slim-bookworm AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    APP_ENV=production \
    LOG_FORMAT=json \
    PORT=8000 \
    HOMEROOM_ENV_FILE=""
# The PostgreSQL client tools for `flask backup` (pg_dump, pg_restore, psql): Debian 12 ships
# version 15, which dumps servers up to 15. For a newer server, install its client from the
# PostgreSQL project's apt repository (postgresql-client-16, ...): pg_dump must be at least as new.
# fonts-dejavu-core: DejaVu Sans, the report card PDFs' font (names such as Łukasiewicz or Nguyễn).
# Unpinned on purpose: the distribution's security updates should land on every rebuild.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client-15 fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 homeroom \
 && useradd --system --uid 10001 --gid homeroom --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin homeroom
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY backend/ backend/
COPY migrations/ migrations/
COPY wsgi.py gunicorn_config.py ./
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8000'), timeout=2)"]
CMD ["gunicorn", "--config", "gunicorn_config.py", "wsgi:application"]
