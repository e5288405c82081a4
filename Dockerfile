# Loopline in a container: the CLI, with the PostgreSQL and S3 extras, as a non-root user.
# Build:  docker build -t loopline .
# Serve:  docker run -p 8000:8000 -v "$PWD:/project" \
#           -e LOOPLINE_STORE_URL=postgresql+psycopg://... -e LOOPLINE_ARTIFACTS_URL=s3://... \
#           loopline serve wine@production --host 0.0.0.0 --port 8000 --workers 2
# The health check asks /readyz on port 8000: serve on that port (see deploy/).

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
# Wheels of Loopline and of every dependency, so the final image needs no compiler or cache.
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[postgres,s3]"

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LOOPLINE_PROJECT_DIR=/project
COPY --from=build /wheels /wheels
# Installed from the wheels built above only (--no-index): the versions are those wheels'.
# hadolint ignore=DL3013
RUN pip install --no-cache-dir --no-index --find-links=/wheels "loopline[postgres,s3]" \
    && rm -rf /wheels \
    && useradd --create-home --uid 10001 --user-group loopline \
    && mkdir -p /project \
    && chown loopline:loopline /project
USER 10001
WORKDIR /project
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status != 200)"]
ENTRYPOINT ["loopline"]
CMD ["--help"]
