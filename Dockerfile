# The MASH service image: one image for every process; the command picks the part
#   docker run IMAGE worker | intake | topics
# Settings are MASH_* environment variables (see docs/configuration.md); nothing secret or personal is baked in.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Only what the package needs: no tests, no local state (.mash/), no virtualenv.
WORKDIR /src
COPY pyproject.toml ./
COPY mash ./mash
# Production install: the runtime dependencies only, not the dev extra.
RUN pip install . \
    && rm -rf /src/build /src/*.egg-info

# A non-root user that owns the worker's state directory (a volume is mounted over it).
RUN useradd --system --uid 10001 --user-group --no-log-init --create-home --home-dir /home/mash mash \
    && mkdir -p /var/lib/mash \
    && chown mash:mash /var/lib/mash

# Inside a container every process listens on all interfaces; the worker keeps its tables here.
ENV MASH_MODE=production \
    MASH_DATA_DIR=/var/lib/mash \
    MASH_INTAKE_HOST=0.0.0.0 \
    MASH_CONSOLE_HOST=0.0.0.0 \
    MASH_WORKER_HOST=0.0.0.0

WORKDIR /home/mash
USER 10001:10001
# intake, console, worker (each serves /metrics, /health/live and /health/ready)
EXPOSE 8400 8401 8402

ENTRYPOINT ["mash"]
CMD ["--help"]
