# syntax=docker/dockerfile:1
# One image for all five services; `command:` (compose) / `command` (Kubernetes) picks the service:
# syncmesh-gateway, syncmesh-sync, syncmesh-resolver, syncmesh-presence, syncmesh-notification.
# Build: docker build -t syncmesh/app:dev .

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ghcr.io/astral-sh/uv:0.13.9 AS uv

# --- builder: the virtualenv from uv.lock (no dev / bench groups) --------------------------------
FROM ${PYTHON_IMAGE} AS builder
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=0 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app

# Dependencies first (cached until uv.lock or a pyproject.toml changes).
COPY uv.lock pyproject.toml ./
COPY libs/schema/pyproject.toml libs/schema/
COPY libs/kit/pyproject.toml libs/kit/
COPY libs/merge/pyproject.toml libs/merge/
COPY tools/cli/pyproject.toml tools/cli/
COPY services/gateway/pyproject.toml services/gateway/
COPY services/sync/pyproject.toml services/sync/
COPY services/conflict-resolver/pyproject.toml services/conflict-resolver/
COPY services/presence/pyproject.toml services/presence/
COPY services/notification/pyproject.toml services/notification/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --all-packages --no-install-workspace

# Then the workspace packages themselves, installed non-editable (no source tree at run time).
COPY libs/ libs/
COPY tools/ tools/
COPY services/ services/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --all-packages --no-editable

# --- runtime: same base, no uv, no sources, non-root ---------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="syncmesh" \
      org.opencontainers.image.description="syncmesh services (gateway, sync, conflict-resolver, presence, notification)"
RUN groupadd --system --gid 10001 syncmesh \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin syncmesh
COPY --from=builder --chown=10001:10001 /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SYNCMESH_LOG__FORMAT=json
WORKDIR /app
USER 10001
EXPOSE 8000 8001 8002 8003 8004
# Exec form: the service is PID 1 and receives SIGTERM (graceful drain, then exit).
CMD ["syncmesh-gateway"]
