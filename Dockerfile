# driftmon container image: docker build -t driftmon .
# Stage 1 builds wheels of driftmon and its dependencies; stage 2 installs them into a
# slim runtime without compilers or pip caches and runs the agent as a non-root user.
# The config file and database URL come from the environment (DRIFTMON_CONFIG,
# DRIFTMON_DATABASE_URL; any DRIFTMON_<SECTION>_<KEY> overrides a setting).

FROM python:3.12-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY monitor ./monitor
COPY migrations ./migrations
RUN pip wheel --no-cache-dir --wheel-dir /wheels '.[postgres]'

FROM python:3.12-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DRIFTMON_CONFIG=/etc/driftmon/driftmon.toml \
    DRIFTMON_SERVER_LISTEN=0.0.0.0:9108
COPY --from=build /wheels /wheels
# every wheel of stage 1 (driftmon, its dependencies, psycopg): no index, nothing newer
RUN pip install --no-cache-dir --no-index --find-links /wheels /wheels/*.whl \
    && rm -rf /wheels \
    && useradd --system --uid 10001 --home-dir /var/lib/driftmon --create-home driftmon \
    && install -d -o driftmon /etc/driftmon
USER 10001
WORKDIR /var/lib/driftmon
EXPOSE 9108
# Python, not curl (the slim image has none); the port follows DRIFTMON_SERVER_LISTEN.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; port = os.environ.get('DRIFTMON_SERVER_LISTEN', '127.0.0.1:9108').rsplit(':', 1)[1]; urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4)"]
STOPSIGNAL SIGTERM
# exec form: driftmon is PID 1 and receives SIGTERM itself (graceful stop, exit 0)
ENTRYPOINT ["driftmon"]
CMD ["run", "--log-format", "json"]
