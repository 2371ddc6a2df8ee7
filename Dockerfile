# The pizzeria image: the `pizzeria` command, with PostgreSQL support, run as a non-root user.
#   docker build -t pizzeria .
#   docker run --rm pizzeria consume kitchen     (settings: PIZZERIA_* environment variables)
# docker-compose.yml runs the whole pizza house with RabbitMQ and PostgreSQL.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /src

# Dependencies first, read from pyproject.toml alone (runtime + the postgres, tracing and web
# extras, no test tools), so that editing the code does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies'] + p['optional-dependencies']['postgres'] + p['optional-dependencies']['tracing'] + p['optional-dependencies']['web']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt

# Then the package itself (README.md* : pyproject.toml names it, but the build does not need it).
COPY README.md* ./
COPY pizzeria ./pizzeria
RUN pip install '.[postgres,tracing,web]'


FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH \
    PIZZERIA_VAR_DIR=/home/pizzeria/var
RUN groupadd --gid 10001 pizzeria \
    && useradd --uid 10001 --gid pizzeria --create-home --shell /usr/sbin/nologin pizzeria
COPY --from=build /opt/venv /opt/venv
USER 10001:10001
WORKDIR /home/pizzeria

ENTRYPOINT ["pizzeria"]
CMD ["--help"]
