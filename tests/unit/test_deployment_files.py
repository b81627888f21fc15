"""What docker-compose.yml and the Dockerfile promise, checked without Docker: the API
published on 127.0.0.1 by default, every base image pinned by version and digest, no
password written in the files, a restart policy on every service, no embedded
PostgreSQL in the server's container, the image's Python packages exactly as
requirements.lock lists them (which satisfies pyproject.toml), and the profile
"scale" wired as docs/DEPLOYMENT.md says (its run with local processes is
tests/replicas/test_scale_topology.py)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
LOCK = ROOT / "requirements.lock"
PINNED = re.compile(r"^[a-z0-9./_-]+:[A-Za-z0-9._-]*\d[A-Za-z0-9._-]*@sha256:[0-9a-f]{64}$")
_VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


class Missing(Exception):
    """A required variable (``${NAME:?message}``) is not set."""


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's variable syntax: ``${NAME}``, ``${NAME:-default}``, ``${NAME-default}``,
    ``${NAME:?error}``, ``${NAME?error}``, ``$$``."""

    def one(match: re.Match[str]) -> str:
        if match[0] == "$$":
            return "$"
        name, op, arg = match[1], match[2], match[3]
        value = env.get(name)
        empty = value is None or (op is not None and op.startswith(":") and value == "")
        if op in (":-", "-") and empty:
            return arg
        if op in (":?", "?") and empty:
            raise Missing(f"{name}: {arg}")
        return value or ""

    return _VARIABLE.sub(one, text)


def resolved(value: Any, env: dict[str, str]) -> Any:
    if isinstance(value, str):
        return interpolate(value, env)
    if isinstance(value, list):
        return [resolved(v, env) for v in value]
    if isinstance(value, dict):
        return {k: resolved(v, env) for k, v in value.items()}
    return value


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return doc


@pytest.fixture(scope="module")
def compose(raw: dict[str, Any]) -> dict[str, Any]:
    """The file as compose reads it with only the required password set."""
    doc: dict[str, Any] = resolved(raw, {"POSTGRES_PASSWORD": "from-the-env-file"})
    return doc


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def test_the_api_is_published_on_localhost_only_by_default(compose):
    published = []
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            if isinstance(port, dict):
                host = port.get("host_ip")
            else:
                parts = str(port).split(":")
                assert len(parts) == 3, f"{name}: {port} is published on every interface"
                host = parts[0]
            assert host == "127.0.0.1", (name, port)
            published.append(name)
    assert published == ["server", "lb"]  # no database is published at all


def test_every_image_is_pinned_by_version_and_digest(compose):
    images = [s["image"] for s in compose["services"].values() if "build" not in s]
    froms = [line.split()[1] for line in DOCKERFILE.read_text().splitlines()
             if line.upper().startswith("FROM ")]
    assert images and froms
    for image in images + froms:
        assert PINNED.match(image), image


def test_no_password_is_written_in_the_files(raw, compose):
    """Every password comes from the environment (.env), and compose refuses to start
    without one."""
    with pytest.raises(Missing, match="POSTGRES_PASSWORD"):
        resolved(raw, {})
    for name, service in raw["services"].items():
        for key, value in _environment(service).items():
            if "PASSWORD" in key:
                assert value.startswith("${") and value.endswith("}"), (name, key)
            for userinfo in re.findall(r"://([^@/\s]+)@", value):
                password = userinfo.partition(":")[2]
                assert password.startswith("${"), (name, key, "password in a URL")
    for text in (COMPOSE.read_text(), DOCKERFILE.read_text()):
        assert not re.search(r"(?im)^\s*(ENV\s+)?[\w-]*password\s*[:=]\s*(?!\$\{)\S", text)
        assert not re.search(r"://[^:/\s@]+:(?!\$\{)[^@\s]+@", text)
    database_url = _environment(compose["services"]["server"])["DATABASE_URL"]
    assert "from-the-env-file" in database_url
    example = dict(line.split("=", 1) for line in (ROOT / ".env.example").read_text()
                   .splitlines() if line and not line.startswith("#"))
    assert example["POSTGRES_PASSWORD"] == ""
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()


def test_every_service_restarts_by_itself(compose):
    for name, service in compose["services"].items():
        assert service.get("restart") in ("always", "unless-stopped", "on-failure"), name


def test_the_server_uses_the_composed_database(compose):
    """With DATABASE_URL the server starts no embedded PostgreSQL of its own."""
    server = compose["services"]["server"]
    url = _environment(server)["DATABASE_URL"]
    assert re.match(r"^postgresql://[^@]+@db:5432/\w+$", url), url
    assert server["depends_on"]["db"]["condition"] == "service_healthy"


def test_the_image_installs_exactly_the_lock():
    dockerfile = DOCKERFILE.read_text()
    assert "pip install -r requirements.lock" in dockerfile
    assert "pip install --no-deps ." in dockerfile and "pip check" in dockerfile
    pins: dict[str, str] = {}
    for line in LOCK.read_text().splitlines():
        if line and not line.startswith("#"):
            requirement = Requirement(line)
            (spec,) = requirement.specifier
            assert spec.operator == "==", line
            pins[requirement.name.lower().replace("_", "-")] = spec.version
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for dependency in project["dependencies"]:
        requirement = Requirement(dependency)
        name = requirement.name.lower().replace("_", "-")
        assert name in pins, f"{name} is not in requirements.lock"
        assert requirement.specifier.contains(pins[name]), (dependency, pins[name])


SCALE = {"primary", "replica", "api1", "api2", "lb"}
DEPLOY = ROOT / "deploy" / "scale"


def _healthy(service: dict[str, Any]) -> set[str]:
    return {name for name, dep in (service.get("depends_on") or {}).items()
            if dep["condition"] == "service_healthy"}


def test_every_dollar_is_a_variable_or_escaped(raw):
    """Compose refuses a ``$`` that is neither ``$$`` nor a variable (e.g. a shell's
    ``$(…)`` in a health check): the whole file would not load."""
    text = COMPOSE.read_text()
    for match in re.finditer(r"\$(?!\$|\{[A-Za-z_]|[A-Za-z_])", text.replace("$$", "")):
        raise AssertionError(f"unescaped $ at {text[match.start():match.start() + 20]!r}")


def test_the_scale_profile_is_its_own_topology(compose):
    services = compose["services"]
    assert {n for n, s in services.items() if "scale" in s.get("profiles", [])} == SCALE
    assert all("profiles" not in services[n] for n in ("db", "server"))  # default: as before
    for name in SCALE:
        for volume in services[name].get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).is_file(), (name, volume)
            else:
                assert source in compose["volumes"] and source.startswith("scale-"), volume
        assert "healthcheck" in services[name], name


def test_the_replica_is_a_streaming_standby_of_the_primary(compose):
    services = compose["services"]
    primary, replica = services["primary"], services["replica"]
    command = " ".join(primary["command"])
    assert "wal_level=replica" in command and "hba_file=/etc/ledger/pg_hba.conf" in command
    assert "synchronous_standby_names=" in command  # empty by default: asynchronous
    hba = (DEPLOY / "pg_hba.conf").read_text().splitlines()
    assert "host    replication  all   all      scram-sha-256" in hba
    assert "trust" not in " ".join(line for line in hba if line.startswith("host"))
    assert _healthy(replica) == {"primary"}
    env = _environment(replica)
    assert env["PRIMARY_HOST"] == "primary" and env["STANDBY_NAME"] == "replica1"
    assert env["PGPASSWORD"] == "from-the-env-file"
    assert replica["entrypoint"] == ["bash", "/etc/ledger/standby.sh"]
    script = (DEPLOY / "standby.sh").read_text()
    assert "pg_basebackup" in script and " -R " in script and "-X stream" in script
    assert "application_name=$STANDBY_NAME" in script and "hot_standby=on" in script
    assert "pg_is_in_recovery()" in " ".join(replica["healthcheck"]["test"])


def test_two_api_containers_share_the_primary_the_replica_and_the_key(compose):
    services = compose["services"]
    api1, api2 = services["api1"], services["api2"]
    for api in (api1, api2):
        env = _environment(api)
        assert re.match(r"^postgresql://ledger:from-the-env-file@primary:5432/ledger$",
                        env["DATABASE_URL"])
        assert env["LEDGER_REPLICA_URLS"] == "postgresql://replica:5432/ledger"
        assert env["LEDGER_LOG_KEY"] == "/keys/log-key.pem"
        assert api["volumes"] == ["scale-keys:/keys"]
        assert api["command"][:2] == ["ledger", "serve"] and "--workers" in api["command"]
        assert "/readyz" in " ".join(api["healthcheck"]["test"])
        assert "ports" not in api  # only through the balancer
    assert _healthy(api1) == {"primary", "replica"}
    assert _healthy(api2) == {"api1", "replica"}  # one first start makes the key


def test_the_load_balancer_checks_each_api_on_readyz(compose):
    lb = compose["services"]["lb"]
    assert _healthy(lb) == {"api1", "api2"}
    assert lb["ports"] == ["127.0.0.1:8080:8080"]
    config = (DEPLOY / "haproxy.cfg").read_text()
    servers = re.findall(r"^\s*server (\w+) (\w+):8000\s*$", config, re.M)
    assert servers == [("api1", "api1"), ("api2", "api2")]
    assert "http-check send meth GET uri /readyz" in config
    assert re.search(r"default-server check ", config)
    assert "bind :8080" in config and "monitor-uri /lb-ready" in config
    assert "/lb-ready" in " ".join(lb["healthcheck"]["test"])
