"""docker-compose.yml and the Dockerfile, checked without a Docker engine.

No engine runs on our machines, so nothing is built or started here. The compose file is
rendered by ``docker compose config`` when the Docker client has the compose plugin; otherwise
(as on our machines: ``docker: unknown command: docker compose``) it is parsed with PyYAML and
checked against the same expectations. The Dockerfile is read as text: stages, non-root user,
and every COPY source present in the repository and not excluded by .dockerignore.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import warnings
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO

COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
GITIGNORE = REPO / ".gitignore"
RENDER_API_KEY = "stand-in-qdrant-key"


def _compose_via_docker() -> dict[str, Any] | None:
    """``docker compose config`` as JSON, or None when the client cannot run it."""
    docker = shutil.which("docker")
    if docker is None:
        return None
    probe = subprocess.run(
        [docker, "compose", "version"], capture_output=True, text=True, timeout=30
    )
    if probe.returncode != 0:
        return None
    # QDRANT_API_KEY is required (`${QDRANT_API_KEY:?...}`): render with a stand-in.
    env = {**os.environ, "QDRANT_API_KEY": RENDER_API_KEY}
    proc = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE), "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env=env,
    )
    assert proc.returncode == 0, f"docker compose config rejected the file:\n{proc.stderr}"
    config: dict[str, Any] = json.loads(proc.stdout)
    return config


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    assert COMPOSE.is_file(), "docker-compose.yml missing at the repository root"
    rendered = _compose_via_docker()
    if rendered is not None:
        return rendered
    try:
        import yaml
    except ImportError:
        pytest.fail("neither `docker compose` nor PyYAML is available to read docker-compose.yml")
    warnings.warn(
        "`docker compose` is not available in this Docker client: docker-compose.yml was parsed "
        "with PyYAML and checked, not validated by Compose itself",
        stacklevel=1,
    )
    loaded = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(loaded, dict), "docker-compose.yml is not a mapping"
    return loaded


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def _volume_targets(service: dict[str, Any]) -> dict[str, str]:
    """target -> source of each volume, for short ("src:dst[:mode]") and long syntax."""
    out = {}
    for vol in service.get("volumes") or []:
        if isinstance(vol, str):
            parts = vol.split(":")
            out[parts[1]] = parts[0]
        else:
            out[vol["target"]] = vol.get("source", "")
    return out


def _command(service: dict[str, Any]) -> list[str]:
    cmd = service.get("command") or []
    return cmd.split() if isinstance(cmd, str) else list(cmd)


def test_compose_services_env_volumes_and_health(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"qdrant", "codeloci"} <= set(services)

    qdrant = services["qdrant"]
    image = qdrant["image"]
    assert re.fullmatch(r"(docker\.io/)?qdrant/qdrant:v\d+\.\d+\.\d+", image), (
        f"qdrant must be the official image pinned to a version tag, got {image!r}"
    )
    storage = _volume_targets(qdrant).get("/qdrant/storage")
    assert storage in compose.get("volumes", {}), "qdrant storage must be a named volume"
    health = qdrant["healthcheck"]
    test = health["test"]
    joined = " ".join(test) if isinstance(test, list) else test
    assert "6333" in joined and ("readyz" in joined or "healthz" in joined), joined
    # The image ships neither curl nor wget: a check that needs them would never pass.
    assert not re.search(r"\b(curl|wget)\b", joined), joined

    codeloci = services["codeloci"]
    assert codeloci.get("build"), "codeloci must be built from the Dockerfile"
    build = codeloci["build"]
    if isinstance(build, dict):
        assert Path(build.get("dockerfile", "Dockerfile")).name == "Dockerfile"
    env = _env(codeloci)
    assert env.get("QDRANT_URL") == "http://qdrant:6333", env
    command = _command(codeloci)
    assert command[-3:] == ["serve", "--http", "0.0.0.0:8765"], command
    depends = codeloci["depends_on"]
    assert isinstance(depends, dict), "depends_on must wait for qdrant's health, not its start"
    assert depends["qdrant"]["condition"] == "service_healthy", depends
    assert any("8765" in str(p) for p in codeloci.get("ports", [])), codeloci.get("ports")
    data = _volume_targets(codeloci).get("/data")
    assert data in compose.get("volumes", {}), "codeloci's /data should be a named volume"


def _secret_targets(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """In-container path -> the service's secret entry (short and long syntax)."""
    out = {}
    for entry in service.get("secrets") or []:
        long = {"source": entry} if isinstance(entry, str) else dict(entry)
        target = str(long.get("target") or long["source"])
        path = target if target.startswith("/") else f"/run/secrets/{target}"
        out[path] = long
    return out


def _uses_qdrant_api_key(value: str | None) -> bool:
    """The value is QDRANT_API_KEY: required in the file (`:?` fails `up` when unset), or the
    stand-in once rendered by `docker compose config`."""
    if value == RENDER_API_KEY:
        return True
    return bool(value and re.fullmatch(r"\$\{QDRANT_API_KEY:\?[^}]+\}", value))


def test_compose_guards_both_servers_with_a_token_and_an_api_key(compose: dict[str, Any]) -> None:
    services = compose["services"]
    codeloci = services["codeloci"]
    env = _env(codeloci)
    # It binds 0.0.0.0 inside the container, so codeloci refuses to start without a token:
    # the token must come from a secret file and the variable must point at where it lands.
    assert "0.0.0.0" in _command(codeloci)[-1]
    token_path = env.get("CODELOCI_AUTH_TOKEN_FILE")
    assert token_path, "codeloci binds 0.0.0.0 and needs CODELOCI_AUTH_TOKEN_FILE"
    mounted = _secret_targets(codeloci)
    assert token_path in mounted, f"{token_path} is not one of codeloci's secrets {mounted}"
    entry = mounted[token_path]
    secret = compose.get("secrets", {}).get(entry["source"])
    assert secret and secret.get("file"), f"secret {entry['source']!r} must come from a file"
    if _compose_via_docker() is None:
        # The user chooses the file (CODELOCI_TOKEN_FILE); the default sits beside the file.
        assert re.fullmatch(r"\$\{CODELOCI_TOKEN_FILE:-[^}]+\}", secret["file"]), secret
        default = secret["file"].split(":-", 1)[1].rstrip("}")
        name = Path(default).name
        assert name in GITIGNORE.read_text().replace("/", " ").split(), (
            f"{name} (the token) must be git-ignored"
        )
        assert name in DOCKERIGNORE.read_text().split(), f"{name} must stay out of the image"
    # Readable by the container's user: the secret's uid is the Dockerfile's USER.
    uid = re.search(r"useradd\b[^\n]*--uid (\d+)", DOCKERFILE.read_text())
    assert uid and str(entry.get("uid")) == uid.group(1), (entry, uid)
    mode = entry.get("mode", 0o444)  # Compose's default: world-readable
    assert (int(mode, 8) if isinstance(mode, str) else int(mode)) & 0o077 == 0, entry
    # No secret travels in the environment.
    assert not any("TOKEN" in k and k != "CODELOCI_AUTH_TOKEN_FILE" for k in env), env

    qdrant_env = _env(services["qdrant"])
    assert _uses_qdrant_api_key(qdrant_env.get("QDRANT__SERVICE__API_KEY")), qdrant_env
    assert _uses_qdrant_api_key(env.get("QDRANT_API_KEY")), env
    health = " ".join(services["qdrant"]["healthcheck"]["test"])
    assert "api-key" in health and "QDRANT__SERVICE__API_KEY" in health, health


# ----------------------------------------------------------------------------- Dockerfile


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = DOCKERFILE.read_text()
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    out = []
    for line in lines:
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def _stages(
    instructions: list[tuple[str, str]],
) -> list[tuple[str, str | None, list[tuple[str, str]]]]:
    """(base image, stage name, instructions of the stage)."""
    stages: list[tuple[str, str | None, list[tuple[str, str]]]] = []
    for word, rest in instructions:
        if word == "FROM":
            m = re.match(r"(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", rest, re.IGNORECASE)
            assert m, rest
            stages.append((m.group(1), m.group(2), []))
        elif stages:
            stages[-1][2].append((word, rest))
    return stages


def _ignored(rel: str, patterns: list[str]) -> bool:
    for pat in patterns:
        pat = pat.rstrip("/")
        if fnmatch.fnmatch(rel, pat) or rel.startswith(pat + "/"):
            return True
    return False


def test_dockerfile_is_multi_stage_with_a_non_root_runtime() -> None:
    assert DOCKERFILE.is_file()
    stages = _stages(_instructions())
    assert len(stages) >= 2, "expected a multi-stage build"
    (rust_base, rust_name, rust_steps), (py_base, _, py_steps) = stages[0], stages[-1]
    assert rust_base.startswith("rust:") and rust_base != "rust:latest", rust_base
    assert any(
        w == "RUN" and "cargo build --release" in r and "rust-server" in r for w, r in rust_steps
    ), "stage 1 must build codeloci-ast with cargo build --release"
    assert py_base.startswith("python:3.11-slim"), py_base
    assert any(
        w == "RUN" and "pip install" in r and "python-orchestrator" in r for w, r in py_steps
    )
    copies_binary = [
        r for w, r in py_steps if w == "COPY" and f"--from={rust_name}" in r and "codeloci-ast" in r
    ]
    assert copies_binary, f"the runtime stage must COPY --from={rust_name} the codeloci-ast binary"

    users = [r for w, r in py_steps if w == "USER"]
    assert users, "the runtime stage has no USER: it would run as root"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}, f"USER {users[-1]} is root"
    assert any(
        w == "RUN" and re.search(rf"useradd\b.*\b{re.escape(user)}\b", r) for w, r in py_steps
    ), f"USER {user} is never created"
    cmd = " ".join(r for w, r in py_steps if w in {"CMD", "ENTRYPOINT"})
    assert "serve" in cmd and "0.0.0.0:8765" in cmd, cmd


def test_dockerfile_copy_sources_exist_and_are_not_dockerignored() -> None:
    patterns = [
        ln.strip()
        for ln in DOCKERIGNORE.read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    stage_names = {name for _, name, _ in _stages(_instructions()) if name}
    copied: list[str] = []
    for word, rest in _instructions():
        if word not in {"COPY", "ADD"}:
            continue
        args = [a for a in rest.split() if not a.startswith("--")]
        flags = [a for a in rest.split() if a.startswith("--")]
        src_from = [f.split("=", 1)[1] for f in flags if f.startswith("--from=")]
        if src_from:
            assert src_from[0] in stage_names, f"COPY --from={src_from[0]}: no such stage"
            continue
        for src in args[:-1]:
            rel = src.rstrip("/")
            assert (REPO / rel).exists(), f"COPY {src}: not in the repository"
            assert not _ignored(rel, patterns), f"COPY {src}: excluded by .dockerignore"
            copied.append(rel)
    # Build inputs the Rust crate pulls from outside rust-server/ (include_str!/include_bytes!).
    for source in (REPO / "rust-server" / "src").rglob("*.rs"):
        for inc in re.findall(r'include_(?:str|bytes)!\("([^"]+)"\)', source.read_text()):
            target = (source.parent / inc).resolve().relative_to(REPO)
            assert any(str(target) == c or str(target).startswith(c + "/") for c in copied), (
                f"{source.relative_to(REPO)} includes {target}, which the Dockerfile never copies"
            )
    # The python package's own build inputs (readme, sources) travel with its directory.
    assert "python-orchestrator" in copied


def test_dockerignore_keeps_build_artefacts_out() -> None:
    patterns = DOCKERIGNORE.read_text().splitlines()
    for heavy in (".venv", "**/target", "**/node_modules", ".git"):
        assert heavy in patterns, f".dockerignore should exclude {heavy}"
