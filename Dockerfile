# The gateway's image, as the Helm chart runs it: production mode, non-root, read-only root filesystem.
#   docker build -t gateway:0.1.0 .
# Stage 1 builds the virtual environment with a compiler at hand; stage 2 carries only that environment.
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/gateway
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY audit ./audit
RUN /opt/gateway/bin/pip install . && /opt/gateway/bin/gateway --help >/dev/null

FROM python:3.11-slim-bookworm AS runtime
RUN groupadd --system --gid 10001 gateway \
    && useradd --system --uid 10001 --gid gateway --home-dir /nonexistent --shell /usr/sbin/nologin gateway \
    && mkdir -p /var/lib/gateway /etc/gateway \
    && chown gateway:gateway /var/lib/gateway
COPY --from=build /opt/gateway /opt/gateway
# The reviewed policies as released; the chart mounts the deployment's own over them.
COPY policies /etc/gateway/policies
ENV PATH=/opt/gateway/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    GATEWAY_MODE=production \
    GATEWAY_POLICIES_DIR=/etc/gateway/policies \
    GATEWAY_DATA_DIR=/var/lib/gateway
USER 10001:10001
WORKDIR /var/lib/gateway
EXPOSE 8000
ENTRYPOINT ["gateway"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
