# cellpath: one image for the worker, the codec server, the CLI and the case-store migration.
# Build: docker build -t cellpath:0.1.0 .   (CI builds the same wheel with `pip wheel`.)

FROM python:3.11.7-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md alembic.ini ./
COPY worker.py starter.py ./
COPY cellpath ./cellpath
COPY models ./models
COPY workflows ./workflows
COPY activities ./activities
# The project and every dependency as wheels: the runtime stage installs offline from these.
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11.7-slim-bookworm
RUN useradd --create-home --uid 10001 cellpath \
    # The records store's directory: a volume mounted here starts owned by the service user.
    && install -d -o cellpath -m 700 /var/lib/cellpath/records
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels cellpath && rm -rf /wheels
USER cellpath
WORKDIR /home/cellpath
ENV CELLPATH_LOG_FORMAT=json \
    PYTHONUNBUFFERED=1
# The worker stops polling on SIGTERM and lets running activities finish
# (CELLPATH_WORKER_GRACEFUL_SHUTDOWN_SECONDS); compose's stop_grace_period is longer.
STOPSIGNAL SIGTERM
ENTRYPOINT ["cellpath"]
CMD ["worker"]
