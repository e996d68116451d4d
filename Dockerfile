# bulkmail: the web service by default; the same image runs `bulkmail worker` (see compose.yaml).
#   docker build -t bulkmail .
#   docker run -p 8000:8000 -v bulkmail-data:/data bulkmail
FROM debian:bookworm-slim

# Debian's own Python 3.11 (security updates through Debian), in a virtual environment on PATH
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    BULKMAIL_DATA_DIR=/data \
    BULKMAIL_LOG_FORMAT=json

# pg_dump and pg_restore for `bulkmail backup` / `restore` on PostgreSQL (Debian 12's: version 15)
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv postgresql-client ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/venv

RUN groupadd --system --gid 10001 bulkmail \
    && useradd --system --uid 10001 --gid bulkmail --home-dir /data --no-create-home --shell /usr/sbin/nologin bulkmail \
    && mkdir /data \
    && chown bulkmail:bulkmail /data \
    && chmod 0700 /data

WORKDIR /opt/bulkmail
# the dependencies first, so a code change does not reinstall them; flanker writes its parser tables beside
# its code on first import, which the unprivileged user cannot (it would rebuild them at every start)
COPY pyproject.toml README.md ./
RUN mkdir app bounce_parsers \
    && touch app/__init__.py bounce_parsers/__init__.py \
    && pip install --no-compile . \
    && pip uninstall -y bulkmail \
    && python -c "import flanker.addresslib.address" \
    && rm -rf app bounce_parsers build
COPY app app
COPY bounce_parsers bounce_parsers
COPY migrations migrations
COPY templates templates
COPY locale locale
COPY scripts/container-entrypoint scripts/container-entrypoint
# editable: templates, migrations and the catalogues are found beside the code (app/paths.py)
RUN pip install --no-deps --no-compile -e . && python -m compileall -q app bounce_parsers

USER bulkmail
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
ENTRYPOINT ["/opt/bulkmail/scripts/container-entrypoint"]
CMD ["bulkmail", "serve", "--host", "0.0.0.0", "--port", "8000"]
