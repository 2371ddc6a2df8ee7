"""docker-compose.yml and the Dockerfile agree with the CLI and with each other.

No Docker engine is needed: the files are parsed (PyYAML, plus Compose's `${VAR:-default}`
interpolation) and every command a container would run goes through the real click parser,
which checks arguments and options but runs nothing. The monitoring profile's Prometheus
configuration is checked for the structure Prometheus reads (promtool is not on these machines),
and the health checks run with this machine's python against a real consumer and a real web.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import click
import pytest
import yaml
from polling import wait_until
from processes import Pizzeria, free_port
from processes import environment as processes_environment

from pizzeria.cli import main
from pizzeria.config import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"


# --- reading the files ---------------------------------------------------------------------

def load_compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def dockerfile_final_stage() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile's last stage, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, arguments = line.partition(" ")
            if keyword.upper() == "FROM":
                instructions = []
            instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def dockerfile_exec_form(keyword: str) -> list[str] | None:
    """The last KEYWORD (ENTRYPOINT, CMD) of the final stage, which must be in exec form."""
    values = [arguments for name, arguments in dockerfile_final_stage() if name == keyword]
    if not values:
        return None
    value = json.loads(values[-1])
    assert isinstance(value, list), f"{keyword} {values[-1]} is not in exec (JSON list) form"
    return value


def interpolate(value: str) -> str:
    """Compose's `${VAR}`, `${VAR:-default}`, `${VAR-default}` and `$$`, with no VAR set."""
    value = re.sub(r"\$\{\w+(?::?-([^}]*))?\}", lambda m: m.group(1) or "", value)
    return value.replace("$$", "$")


def as_list(value) -> list[str]:
    """A Compose command or entrypoint (a list, or a string split like a shell would)."""
    if value is None:
        return []
    return shlex.split(value) if isinstance(value, str) else [str(item) for item in value]


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {key: interpolate(str(value)) for key, value in env.items() if value is not None}


def depends_on(service: dict) -> dict[str, str]:
    """{service: condition}; the short list form means service_started."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: "service_started" for name in deps}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def builds_dockerfile(service: dict) -> bool:
    build = service.get("build")
    if build is None:
        return False
    if isinstance(build, str):
        build = {"context": build}
    context = (COMPOSE_FILE.parent / build.get("context", ".")).resolve()
    return (context / build.get("dockerfile", "Dockerfile")).resolve() == DOCKERFILE


def argv(service: dict) -> list[str]:
    """What the container runs: entrypoint + command, the image's where the service has none."""
    from_image = builds_dockerfile(service)
    if "entrypoint" in service:
        entrypoint = as_list(service["entrypoint"])
        default_command = []  # Compose drops the image's CMD when it overrides the entrypoint
    else:
        entrypoint = (dockerfile_exec_form("ENTRYPOINT") or []) if from_image else []
        default_command = (dockerfile_exec_form("CMD") or []) if from_image else []
    command = as_list(service["command"]) if "command" in service else default_command
    return entrypoint + command


def pizzeria_services() -> dict[str, list[str]]:
    """{service name: argv} of the services that run the `pizzeria` command."""
    services = load_compose()["services"]
    commands = {name: argv(service) for name, service in services.items()}
    return {name: args for name, args in commands.items() if args[:1] == ["pizzeria"]}


def services_running(subcommand: str) -> dict[str, list[str]]:
    """{service name: arguments after `pizzeria SUBCOMMAND`}."""
    return {name: args[2:] for name, args in pizzeria_services().items()
            if args[1:2] == [subcommand]}


def parse_cli(args: list[str]) -> click.Context:
    """Parse `pizzeria ARGS` with the real CLI, without running it: the subcommand's context.

    Raises click.UsageError (or BadParameter) as the CLI would reject the arguments.
    """
    ctx = main.make_context("pizzeria", list(args))
    rest = [*(ctx._protected_args if hasattr(ctx, "_protected_args") else ctx.protected_args),
            *ctx.args]
    if not rest:
        raise click.UsageError("Missing command.", ctx)
    name, command, rest = main.resolve_command(ctx, rest)
    return command.make_context(name, rest, parent=ctx)


def assert_cli_accepts(args: list[str]) -> click.Context | None:
    try:
        return parse_cli(args[1:])
    except click.exceptions.Exit as stop:  # --help prints and stops: accepted if it exits 0
        assert "--help" in args and stop.exit_code == 0, f"{shlex.join(args)}: exit {stop.exit_code}"
    except click.ClickException as error:
        pytest.fail(f"the CLI rejects `{shlex.join(args)}`: {error.format_message()}")
    return None


CONSUMER_QUEUES = tuple(main.commands["consume"].params[0].type.choices)
SERVICES = load_compose()["services"]
PIZZERIA_SERVICES = pizzeria_services()
CONSUMERS = services_running("consume")


# --- the tests ---------------------------------------------------------------------------------

def test_the_file_follows_the_compose_spec_without_the_obsolete_version_key():
    assert "version" not in load_compose()
    assert {"rabbitmq", "postgres"} <= set(SERVICES)


def test_the_pizzeria_services_are_built_from_the_dockerfile():
    assert {"init", *CONSUMER_QUEUES, "serve"} <= set(PIZZERIA_SERVICES)
    for name in PIZZERIA_SERVICES:
        assert builds_dockerfile(SERVICES[name]), f"{name} is not built from {DOCKERFILE.name}"


@pytest.mark.parametrize("queue", CONSUMER_QUEUES)
def test_every_consumer_queue_of_the_cli_has_exactly_one_service_consuming_it(queue):
    consuming = [name for name, queues in CONSUMERS.items() if queue in queues]
    assert len(consuming) == 1, f"{queue!r} is consumed by {consuming or 'no service'}"


@pytest.mark.parametrize("name", sorted(PIZZERIA_SERVICES))
def test_every_command_a_service_runs_is_accepted_by_the_cli(name):
    args = PIZZERIA_SERVICES[name]
    ctx = assert_cli_accepts(args)
    assert ctx is not None, f"{name} runs `{shlex.join(args)}`, which only prints help"
    if ctx.command.name == "consume":
        assert set(ctx.params["queues"]) <= set(CONSUMER_QUEUES)


def test_docker_compose_run_serve_with_a_table_id_serves_that_table():
    service = SERVICES["serve"]
    assert "tools" in service.get("profiles", []), "serve must not start with a plain `up`"
    entrypoint = as_list(service.get("entrypoint"))
    ctx = assert_cli_accepts(entrypoint + ["TBL7", "--order", "margherita:2"])
    assert ctx.command.name == "serve"
    assert ctx.params["table_id"] == "TBL7"


def test_the_dockerfile_default_command_is_accepted_by_the_cli(capsys):
    assert_cli_accepts((dockerfile_exec_form("ENTRYPOINT") or []) + (dockerfile_exec_form("CMD") or []))


def server_behind(name: str, setting: str, scheme: str, image: str, port: int):
    """The URL a service's settings give for `setting`, checked to name a service of this file
    running `image` on `port`; return it and that service's environment."""
    value = getattr(Settings.from_env(environment(SERVICES[name])), setting)
    url = urlsplit(value)
    assert url.scheme == scheme, f"{name}: {setting} {value}"
    server = SERVICES.get(url.hostname)
    assert server is not None, f"{name}: no service {url.hostname!r} in {COMPOSE_FILE.name}"
    assert server["image"].startswith(image)
    assert url.port == port
    return url, environment(server)


@pytest.mark.parametrize("name", sorted(PIZZERIA_SERVICES))
def test_the_broker_url_points_at_the_rabbitmq_service_with_its_credentials(name):
    url, env = server_behind(name, "broker_url", "amqp", "rabbitmq:", 5672)
    assert (url.username, url.password) == (
        env.get("RABBITMQ_DEFAULT_USER", "guest"), env.get("RABBITMQ_DEFAULT_PASS", "guest"))
    assert url.username != "guest", "RabbitMQ's guest user may only connect from localhost"


@pytest.mark.parametrize("name", sorted(PIZZERIA_SERVICES))
def test_the_database_url_points_at_the_postgres_service_with_its_credentials(name):
    url, env = server_behind(name, "database_url", "postgresql+psycopg", "postgres:", 5432)
    assert (url.username, url.password, url.path.lstrip("/")) == (
        env["POSTGRES_USER"], env["POSTGRES_PASSWORD"], env.get("POSTGRES_DB", env["POSTGRES_USER"]))


@pytest.mark.parametrize("name", sorted(PIZZERIA_SERVICES))
def test_every_pizzeria_container_logs_json_lines(name):
    assert Settings.from_env(environment(SERVICES[name])).log_json


def test_the_init_service_runs_once_after_both_servers_are_healthy():
    inits = [name for name, args in services_running("init").items() if args == []]
    assert inits == ["init"]
    init = SERVICES["init"]
    assert str(init.get("restart", "no")) == "no"
    for server in ("rabbitmq", "postgres"):
        assert depends_on(init).get(server) == "service_healthy"
        assert SERVICES[server].get("healthcheck", {}).get("test"), f"{server} has no healthcheck"


@pytest.mark.parametrize("name", sorted(CONSUMERS))
def test_the_consumers_start_only_after_the_init_service_has_finished(name):
    assert depends_on(SERVICES[name]).get("init") == "service_completed_successfully"


@pytest.mark.parametrize("name", sorted(CONSUMERS))
def test_the_consumers_restart_unless_stopped_and_stop_on_sigterm(name):
    assert SERVICES[name].get("restart") == "unless-stopped"
    assert SERVICES[name].get("stop_signal") == "SIGTERM"


def test_the_dockerfile_entrypoint_is_pizzeria():
    assert dockerfile_exec_form("ENTRYPOINT") == ["pizzeria"]


def test_the_image_runs_as_a_non_root_user():
    users = [arguments for name, arguments in dockerfile_final_stage() if name == "USER"]
    assert users, "the final stage has no USER"
    assert users[-1].split(":")[0] not in ("root", "0")


def test_the_image_installs_the_postgres_tracing_and_web_extras_and_no_test_tools():
    runs = " ".join(arguments for name, arguments in re.findall(
        r"^(RUN)\s+(.*)$", re.sub(r"\\\n", " ", DOCKERFILE.read_text()), re.MULTILINE))
    assert "[postgres,tracing,web]" in runs and "['tracing']" in runs and "['web']" in runs
    assert "[test]" not in runs and "pytest" not in runs


@pytest.mark.parametrize("name", sorted(PIZZERIA_SERVICES))
def test_every_pizzeria_container_exports_its_traces_to_jaeger_over_otlp_http(name):
    url = urlsplit(environment(SERVICES[name])["OTEL_EXPORTER_OTLP_ENDPOINT"])
    jaeger = SERVICES[url.hostname]
    assert jaeger["image"].startswith("jaegertracing/jaeger:2")
    assert (url.scheme, url.port) == ("http", 4318)
    assert {"4318:4318", "16686:16686"} <= set(jaeger["ports"])


def test_the_web_service_listens_in_its_container_with_a_token_and_is_published_on_loopback_only():
    web = SERVICES["web"]
    assert web["command"][:3] == ["web", "--host", "0.0.0.0"]
    assert environment(web)["PIZZERIA_WEB_TOKEN"]
    assert [port.split(":")[0] for port in web["ports"]] == ["127.0.0.1"]


def cluster_url_in_the_header() -> str:
    """The PIZZERIA_BROKER_URL the file's header tells users to export for the cluster profile."""
    (url,) = re.findall(r"export PIZZERIA_BROKER_URL='([^']+)'", COMPOSE_FILE.read_text())
    return url


def test_the_cluster_profile_adds_two_nodes_that_join_the_first_with_its_cookie():
    nodes = {name: service for name, service in SERVICES.items() if name.startswith("rabbitmq")}
    assert sorted(nodes) == ["rabbitmq", "rabbitmq-2", "rabbitmq-3"]
    assert len({service["image"] for service in nodes.values()}) == 1
    assert len({environment(service)["RABBITMQ_ERLANG_COOKIE"] for service in nodes.values()}) == 1
    assert "profiles" not in nodes["rabbitmq"]
    conf = load_compose()["configs"]["rabbitmq-cluster"]["content"]
    listed = re.findall(r"classic_config\.nodes\.\d+ = rabbit@(\S+)", conf)
    assert listed == [service["hostname"] for service in nodes.values()]
    for name in ("rabbitmq-2", "rabbitmq-3"):
        assert nodes[name]["profiles"] == ["cluster"]
        assert depends_on(nodes[name]) == {"rabbitmq": "service_healthy"}
        assert [config["source"] for config in nodes[name]["configs"]] == ["rabbitmq-cluster"]


@pytest.mark.parametrize("name", sorted(PIZZERIA_SERVICES))
def test_the_cluster_url_of_the_header_names_each_node_with_its_credentials(name):
    env = {**environment(SERVICES[name]), "PIZZERIA_BROKER_URL": cluster_url_in_the_header()}
    urls = [urlsplit(url) for url in Settings.from_env(env).broker_url.split(";")]
    assert sorted(url.hostname for url in urls) == ["rabbitmq", "rabbitmq-2", "rabbitmq-3"]
    for url in urls:
        node = SERVICES[url.hostname]
        assert (url.scheme, url.port, url.username, url.password) == (
            "amqp", 5672, environment(node)["RABBITMQ_DEFAULT_USER"], environment(node)["RABBITMQ_DEFAULT_PASS"])


# --- the monitoring profile: health checks, Prometheus, Grafana ----------------------------------

PROMETHEUS_FILE = ROOT / "monitoring" / "prometheus.yml"
# The keys of Prometheus's configuration this repository may use: Prometheus refuses a file with a
# key it does not know, and promtool is not on these machines to say so.
PROMETHEUS_KEYS = {"global", "scrape_configs", "rule_files", "alerting"}
GLOBAL_KEYS = {"scrape_interval", "scrape_timeout", "evaluation_interval", "external_labels"}
SCRAPE_KEYS = {"job_name", "static_configs", "metrics_path", "scheme", "scrape_interval", "scrape_timeout"}
DURATION = re.compile(r"^(?=\d)(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?$")  # Prometheus's model.Duration
UNITS = {"y": 31536000, "w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}


def prometheus_config() -> dict:
    return yaml.safe_load(PROMETHEUS_FILE.read_text())


def seconds(duration: str) -> float:
    """A Prometheus duration (`1m30s`) in seconds."""
    assert DURATION.match(duration), f"{duration!r} is not a Prometheus duration"
    return sum(int(count) * UNITS[unit] for count, unit in re.findall(r"(\d+)(ms|[ywdhms])", duration))


def scrape_targets() -> dict[str, list[str]]:
    """{job name: its static targets}."""
    return {job["job_name"]: [target for group in job["static_configs"] for target in group["targets"]]
            for job in prometheus_config()["scrape_configs"]}


def mounts(service: dict) -> dict[str, Path]:
    """{path in the container: the file or folder of this repository mounted there}."""
    found = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            found[target] = (COMPOSE_FILE.parent / source).resolve()
    return found


def healthcheck_code(service: dict) -> str:
    """The Python a service's health check runs with the image's python."""
    test = service["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"], f"{test}: not the image's python"
    return test[3]


def web_port() -> int:
    command = SERVICES["web"]["command"]
    return int(command[command.index("--port") + 1])


MONITORING = {name: service for name, service in SERVICES.items() if "monitoring" in service.get("profiles", [])}
METRICS_PORTS = {name: Settings.from_env(environment(SERVICES[name])).metrics_port for name in CONSUMERS}


def test_the_monitoring_profile_runs_prometheus_and_grafana_pinned_and_on_loopback():
    assert sorted(MONITORING) == ["grafana", "prometheus"]
    for name, service in MONITORING.items():
        assert service["profiles"] == ["monitoring"], f"{name} must not start with a plain `up`"
        assert re.fullmatch(r"(prom/prometheus|grafana/grafana):v?\d+\.\d+\.\d+", service["image"]), service["image"]
        assert all(mounts(service)), f"{name} mounts nothing of the repository"
        for target, source in mounts(service).items():
            assert source.exists(), f"{name} mounts {source}, which is not there, at {target}"
    assert MONITORING["prometheus"]["ports"] == ["127.0.0.1:9090:9090"]
    assert MONITORING["grafana"]["ports"] == ["127.0.0.1:3000:3000"]
    assert mounts(MONITORING["prometheus"])["/etc/prometheus/prometheus.yml"] == PROMETHEUS_FILE


def test_grafana_lets_anyone_look_and_admin_change_as_the_header_says():
    env = environment(MONITORING["grafana"])
    assert (env["GF_AUTH_ANONYMOUS_ENABLED"], env["GF_AUTH_ANONYMOUS_ORG_ROLE"]) == ("true", "Viewer")
    header = COMPOSE_FILE.read_text().split("\nname:")[0]
    assert f"{env['GF_SECURITY_ADMIN_USER']}/{env['GF_SECURITY_ADMIN_PASSWORD']} to edit" in header
    assert "docker compose --profile monitoring up" in header
    assert "http://localhost:3000" in header and "http://localhost:9090" in header


@pytest.mark.parametrize("name", sorted(CONSUMERS))
def test_every_consumer_serves_its_metrics_and_is_healthy_by_its_readyz(name):
    assert METRICS_PORTS[name] > 0, f"{name} has no PIZZERIA_METRICS_PORT"
    code = healthcheck_code(SERVICES[name])
    assert "PIZZERIA_METRICS_PORT" in code and "/readyz" in code
    assert dockerfile_final_stage()[0][1].startswith("python:"), "the health checks need the image's python"


def test_prometheus_config_has_the_structure_prometheus_reads():
    config = prometheus_config()
    assert set(config) <= PROMETHEUS_KEYS and set(config["global"]) <= GLOBAL_KEYS
    interval = seconds(config["global"]["scrape_interval"])
    assert 0 < seconds(config["global"].get("scrape_timeout", "10s")) <= interval
    jobs = [job["job_name"] for job in config["scrape_configs"]]
    assert len(jobs) == len(set(jobs)), f"job names repeat: {jobs}"
    for job in config["scrape_configs"]:
        assert set(job) <= SCRAPE_KEYS, f"{job['job_name']}: {set(job) - SCRAPE_KEYS}"
        assert job.get("metrics_path", "/metrics") == "/metrics"
        for group in job["static_configs"]:
            assert set(group) <= {"targets", "labels"} and group["targets"]
            for target in group["targets"]:
                assert re.fullmatch(r"[a-z0-9_.-]+:\d+", target), f"{target!r} is not HOST:PORT"


def test_prometheus_scrapes_every_consumer_on_its_metrics_port_and_the_web():
    targets = scrape_targets()
    assert sorted(targets["consumers"]) == sorted(f"{name}:{port}" for name, port in METRICS_PORTS.items())
    assert targets["house"] == [f"web:{web_port()}"]
    for target in (target for each in targets.values() for target in each):
        assert target.split(":")[0] in SERVICES, f"{target}: no such service"


def health_check_passes(code: str, env: dict[str, str] | None = None) -> bool:
    """Whether a health check's Python exits 0 on this machine, as it would in its container."""
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=10).returncode == 0


@pytest.fixture
def pizzeria(tmp_path):
    """The real `pizzeria` command in tmp_path, on the embedded broker; its processes stopped after."""
    pizzeria = Pizzeria(tmp_path, processes_environment(tmp_path))
    yield pizzeria
    pizzeria.stop_consumers()


def test_the_consumers_health_check_passes_while_one_is_ready_and_fails_once_it_stopped(pizzeria):
    port = {"PIZZERIA_METRICS_PORT": str(free_port())}
    code = healthcheck_code(SERVICES["menu"])
    pizzeria.consume("menu", env={**pizzeria.env, **port})
    wait_until(lambda: health_check_passes(code, port), what="the health check to pass")
    assert pizzeria.stop_consumers() == [0]
    assert not health_check_passes(code, port)


def test_the_web_health_check_passes_while_the_web_answers(pizzeria):
    code = healthcheck_code(SERVICES["web"])
    assert f"http://127.0.0.1:{web_port()}/" in code
    web, base = pizzeria.web()
    pizzeria.consumers.append(web)  # stopped with the consumers
    assert health_check_passes(code.replace(f"http://127.0.0.1:{web_port()}", base))
