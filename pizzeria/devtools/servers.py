"""Private, throwaway RabbitMQ and PostgreSQL servers for the tests.

Each server lives in its own temporary directory and listens only on
127.0.0.1, on free ports, so it never clashes with a system server. Both work
as root (PostgreSQL is then run as the `postgres` user) and as a normal user.

    with RabbitMQ() as broker:          # starts; close() on exit
        url = broker.add_vhost("t1")    # amqp://guest:guest@127.0.0.1:PORT/t1
        broker.stop(); broker.start()   # same data dir: durable messages survive
"""

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Self

START_TIMEOUT = 90.0  # seconds; a cold RabbitMQ takes about 8 s here
STOP_TIMEOUT = 60.0


class ServerNotFound(RuntimeError):
    """A server's binaries are not installed; the message says what to install."""


def free_ports(count: int) -> list[int]:
    """Return `count` distinct TCP ports that are free on 127.0.0.1 right now."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def port_is_open(port: int) -> bool:
    """Tell whether something accepts TCP connections on 127.0.0.1:port."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_until(ready: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `ready` until it returns true; raise TimeoutError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what} after {timeout:.0f} s")
        time.sleep(0.1)


def find_bindir(program: str, candidates: list[str], looked_in: str, package: str) -> Path:
    """Return the first candidate directory holding `program`, else raise ServerNotFound."""
    for directory in candidates:
        if directory and os.access(os.path.join(directory, program), os.X_OK):
            return Path(directory)
    raise ServerNotFound(f"{program} not found in {looked_in}; install it: apt-get install -y {package}")


def tail(path: Path, lines: int = 15) -> str:
    """The last lines of a log file, for error messages."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"({path} is missing)"


def run(cmd: list[str], **kwargs) -> str:
    """Run a command; return its stdout, or raise with its output if it fails."""
    done = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=START_TIMEOUT + 30, **kwargs)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return done.stdout


class RabbitMQ:
    """A private RabbitMQ node: its own node name, ports, cookie, data and logs."""

    def __init__(self, name: str = "", ports: tuple[int, int, int] | None = None) -> None:
        """A node `name`@localhost on (AMQP, distribution, epmd) `ports`; free ones by default."""
        self.bindir = self._bindir()
        self.dir = Path(tempfile.mkdtemp(prefix="pizzeria-rabbitmq-"))
        self.port, dist_port, epmd_port = ports or free_ports(3)
        self.node = f"{name or f'pizzeria-test-{self.port}'}@localhost"
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/"
        (self.dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{self.port}\nloopback_users.guest = true\n"
        )
        (self.dir / "enabled_plugins").write_text("[].\n")  # no management plugin
        (self.dir / "rabbitmq-env.conf").write_text("")  # not /etc/rabbitmq's
        self.env = {
            **os.environ,
            "HOME": str(self.dir),  # the Erlang cookie is made and read here
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.dir / "log"),
            "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.dir / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "enabled_plugins"),
            "RABBITMQ_CONF_ENV_FILE": str(self.dir / "rabbitmq-env.conf"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            # A private epmd (Erlang's name server), so close() can stop it too.
            "ERL_EPMD_PORT": str(epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }
        self.process: subprocess.Popen | None = None

    @staticmethod
    def _bindir() -> Path:
        # On Debian, /usr/sbin/rabbitmq-server is a wrapper that runs as the
        # rabbitmq user; the real scripts sit beside the file it links to.
        on_path = shutil.which("rabbitmq-server", path=os.environ.get("PATH", os.defpath) + ":/usr/sbin")
        candidates = [os.path.dirname(os.path.realpath(on_path))] if on_path else []
        candidates.append("/usr/lib/rabbitmq/bin")
        return find_bindir("rabbitmq-server", candidates, "PATH, /usr/sbin, /usr/lib/rabbitmq/bin", "rabbitmq-server")

    def start(self) -> None:
        """Start the node (again, on the same data) and return once it serves AMQP."""
        if self.process and self.process.poll() is None:
            return
        if port_is_open(self.port):
            raise RuntimeError(f"port {self.port} is taken; RabbitMQ cannot start there")
        # Its own session: Ctrl-C on pytest does not reach it, and kill() hits the whole group.
        with open(self.dir / "rabbitmq-server.out", "ab") as log:
            self.process = subprocess.Popen(
                [str(self.bindir / "rabbitmq-server")], env=self.env, cwd=self.dir,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        wait_until(self._serving, START_TIMEOUT, f"RabbitMQ to serve AMQP on port {self.port}")
        self.ctl("await_startup", "--timeout", str(int(START_TIMEOUT)))

    def _serving(self) -> bool:
        """True once the AMQP port answers; raises if the node has died meanwhile."""
        assert self.process is not None  # start() started it
        if self.process.poll() is not None:
            code, self.process = self.process.returncode, None
            raise RuntimeError(
                f"rabbitmq-server exited {code}; its last output:\n"
                + tail(self.dir / "rabbitmq-server.out")
            )
        return port_is_open(self.port)

    def stop(self) -> None:
        """Stop the node cleanly (SIGTERM: the script runs a graceful shutdown); keep its data."""
        if not self.process:
            return
        self.process.terminate()
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
        self.process = None

    def kill(self) -> None:
        """Kill the node at once, like a crash (SIGKILL); keep its data."""
        if not self.process:
            return
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()  # the script; the Erlang VM may still be dying:
        wait_until(lambda: not port_is_open(self.port), STOP_TIMEOUT, "the killed node to exit")
        self.process = None

    def close(self) -> None:
        """Stop the node and its epmd, and delete its directory."""
        self.stop()
        epmd = shutil.which("epmd")
        if epmd:
            subprocess.run([epmd, "-port", self.env["ERL_EPMD_PORT"], "-kill"], check=False, capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def ctl(self, *args: str) -> str:
        """Run `rabbitmqctl ARGS` against this node; return its output."""
        return run([str(self.bindir / "rabbitmqctl"), "--quiet", *args], env=self.env)

    def add_vhost(self, name: str) -> str:
        """Create vhost `name`, let guest use it, and return its AMQP URL."""
        self.ctl("add_vhost", name)
        self.ctl("set_permissions", "--vhost", name, "guest", ".*", ".*", ".*")
        return self.url + name

    def delete_vhost(self, name: str) -> None:
        """Delete vhost `name` with its queues and exchanges."""
        self.ctl("delete_vhost", name)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _version(bindir: str) -> tuple[int, ...]:
    """(15,) for /usr/lib/postgresql/15/bin, so the newest installed version wins."""
    return tuple(int(part) for part in Path(bindir).parent.name.split(".") if part.isdigit())


class PostgreSQL:
    """A private PostgreSQL cluster with a trusted superuser `postgres`; for speed, fsync,
    synchronous commits and full page writes off, unless `durable` (PostgreSQL's defaults)."""

    user = "postgres"

    def __init__(self, durable: bool = False) -> None:
        self.durable = durable
        self.bindir = self._bindir()
        self.dir = Path(tempfile.mkdtemp(prefix="pizzeria-postgres-"))
        self.data = self.dir / "data"
        (self.port,) = free_ports(1)
        self.url = f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/"
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            try:
                account = pwd.getpwnam("postgres")
            except KeyError:
                raise ServerNotFound("running as root needs a 'postgres' user to run PostgreSQL") from None
            os.chown(self.dir, account.pw_uid, account.pw_gid)

    @staticmethod
    def _bindir() -> Path:
        candidates = []
        if shutil.which("pg_config"):
            bindir = subprocess.run(["pg_config", "--bindir"], check=False, capture_output=True, text=True)
            candidates.append(bindir.stdout.strip())
        candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version, reverse=True)
        pg_ctl = shutil.which("pg_ctl")
        if pg_ctl:
            candidates.append(os.path.dirname(pg_ctl))
        return find_bindir("pg_ctl", candidates, "pg_config --bindir, /usr/lib/postgresql/*/bin, PATH", "postgresql")

    def _as_owner(self, program: str, *args: str) -> list[str]:
        """The command line running `program` as the cluster's owner (postgres when we are root)."""
        command = [str(self.bindir / program), *args]
        return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command

    def start(self) -> None:
        """Create the cluster if it is new, start it, and return once it accepts connections."""
        if not self.data.exists():
            run(self._as_owner("initdb", "-D", str(self.data), "-U", self.user, "--auth=trust",
                               "--encoding=UTF8", "--no-locale", "--no-sync"), cwd=self.dir)
            with open(self.data / "postgresql.conf", "a") as conf:
                conf.write(
                    f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                    f"unix_socket_directories = '{self.dir}'\n"
                    + ("" if self.durable else "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
                )
        try:  # -w: pg_ctl itself polls until the server accepts connections
            run(self._as_owner("pg_ctl", "start", "-w", "-t", str(int(START_TIMEOUT)),
                               "-D", str(self.data), "-l", str(self.dir / "postgres.log")), cwd=self.dir)
        except RuntimeError as error:
            raise RuntimeError(f"{error}\n{tail(self.dir / 'postgres.log')}") from None

    def stop(self) -> None:
        """Stop the server (fast shutdown: clients are disconnected); keep its data."""
        if (self.data / "postmaster.pid").exists():
            run(self._as_owner("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.data)), cwd=self.dir)

    def close(self) -> None:
        """Stop the server and delete its directory."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _admin(self, statement: str, name: str) -> None:
        """Run `statement` with `name` quoted as an identifier, outside a transaction."""
        import psycopg  # from the [postgres] extra; only needed once a database is made
        from psycopg import sql

        with psycopg.connect(host="127.0.0.1", port=self.port, user=self.user,
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(sql.SQL(statement).format(sql.Identifier(name)))

    def create_database(self, name: str, synchronous_commit: bool = True) -> str:
        """Create database `name` and return its SQLAlchemy URL; without `synchronous_commit`,
        a commit returns before its WAL is on disk (a crash of the server may lose the last ones)."""
        self._admin("CREATE DATABASE {}", name)
        if not synchronous_commit:
            self._admin("ALTER DATABASE {} SET synchronous_commit = off", name)
        return self.url + name

    def drop_database(self, name: str) -> None:
        """Drop database `name`, disconnecting anyone still using it."""
        self._admin("DROP DATABASE IF EXISTS {} WITH (FORCE)", name)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
