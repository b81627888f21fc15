"""What docker-compose.yml and the Dockerfile promise, checked without Docker: the API
published on 127.0.0.1 by default, every base image pinned by version and digest, no
password written in the files, a restart policy on every service, no embedded
PostgreSQL in the server's container, and the image's Python packages exactly as
requirements.lock lists them (which satisfies pyproject.toml)."""

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
    assert published == ["server"]  # the database is not published at all


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
