# The hello-world service image: the Python base plus one standard-library file.
#
# No syntax directive: the Dockerfile frontend built into BuildKit is used, so a build pulls no
# floating frontend image from Docker Hub.
#
# The base is pinned by full version and by the digest of its multi-platform index
# (amd64 for CodeBuild, arm64 for Graviton Fargate). Refresh both together:
#   docker buildx imagetools inspect python:3.12.8-slim-bookworm
# BASE_IMAGE exists for builds with no registry in reach (the real-engine tests make a base offline);
# a release never sets it.
ARG BASE_IMAGE=python:3.12.8-slim-bookworm@sha256:2199a62885a12290dc9c5be3ca0681d367576ab7bf037da120e564723292a2f0
FROM ${BASE_IMAGE}

LABEL org.opencontainers.image.title="hello-world" \
      org.opencontainers.image.description="The service releasectl ships" \
      org.opencontainers.image.licenses="MIT"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORT=8080

WORKDIR /app

# Owned by root: the service user can read its code but not rewrite it.
COPY service/hello_world.py service/hello_world.py

# A numeric id needs no /etc/passwd entry, and lets the runtime verify it is not root.
USER 10001:10001
EXPOSE 8080
# The slim base has no curl; the service probes itself with urllib.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["python", "service/hello_world.py", "--check"]
STOPSIGNAL SIGTERM
CMD ["python", "service/hello_world.py"]

# Everything that changes with every release comes last: a version-only rebuild
# reuses the code layer, and a code change reuses everything above the COPY.
ARG APP_VERSION=0.0.0-dev
ARG GIT_COMMIT=unknown
ARG BUILD_DATE=""
ARG SOURCE_URL=""
ENV APP_VERSION=${APP_VERSION} \
    GIT_COMMIT=${GIT_COMMIT}
LABEL org.opencontainers.image.version="${APP_VERSION}" \
      org.opencontainers.image.revision="${GIT_COMMIT}" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.created="${BUILD_DATE}"
