"""Settings precedence, project ids, and finding the Rust binary."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from codeloci.config import (
    MAX_CALL_TIMEOUT_SECONDS,
    MIN_CALL_TIMEOUT_SECONDS,
    Settings,
    default_data_dir,
    find_rust_server,
    project_id_for,
    resolve_project_root,
)


def test_data_dir_precedence(
    monkeypatch: pytest.MonkeyPatch, clean_env: None, tmp_path: Path
) -> None:
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    assert default_data_dir() == Path.home() / ".local" / "share" / "codeloci"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_data_dir() == tmp_path / "xdg" / "codeloci"
    monkeypatch.setenv("CODELOCI_DATA_DIR", str(tmp_path / "env"))
    assert default_data_dir() == tmp_path / "env"
    settings = Settings.from_sources(data_dir=tmp_path / "flag", project_root=tmp_path)
    assert settings.data_dir == tmp_path / "flag"


def test_env_flags(monkeypatch: pytest.MonkeyPatch, clean_env: None, tmp_path: Path) -> None:
    s = Settings.from_sources(project_root=tmp_path)
    assert not s.read_only and s.store_backend == "embedded" and s.session_ttl_seconds == 86400
    monkeypatch.setenv("CODELOCI_READ_ONLY", "1")
    monkeypatch.setenv("QDRANT_URL", "http://localhost:6333")
    monkeypatch.setenv("QDRANT_API_KEY", "secret")
    monkeypatch.setenv("CODELOCI_SESSION_TTL", "60")
    s = Settings.from_sources(project_root=tmp_path)
    assert s.read_only and s.store_backend == "server" and s.session_ttl_seconds == 60
    assert "secret" not in repr(s)
    with pytest.raises(ValueError, match="positive"):
        Settings.from_sources(project_root=tmp_path, session_ttl_seconds=0)


def test_project_root_is_git_toplevel(tmp_path: Path, clean_env: None) -> None:
    repo = tmp_path / "repo"
    (repo / "src" / "deep").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    assert resolve_project_root(cwd=repo / "src" / "deep") == repo.resolve()
    plain = tmp_path / "plain"
    plain.mkdir()
    assert resolve_project_root(cwd=plain) == plain.resolve()
    assert resolve_project_root(explicit=repo / "src") == (repo / "src").resolve()


def test_project_ids_differ_and_are_stable(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert project_id_for(a) != project_id_for(b)
    assert project_id_for(a) == project_id_for(tmp_path / "x" / ".." / "a")
    assert project_id_for(a).startswith("p-") and len(project_id_for(a)) == 18


def test_rust_server_lookup(monkeypatch: pytest.MonkeyPatch, clean_env: None) -> None:
    monkeypatch.setenv("CODELOCI_RUST_SERVER", "/opt/x/codeloci-ast --verbose")
    assert find_rust_server() == ["/opt/x/codeloci-ast", "--verbose"]
    assert find_rust_server("'/a b/ast'") == ["/a b/ast"]
    monkeypatch.delenv("CODELOCI_RUST_SERVER")
    found = find_rust_server()
    if found is not None:  # dev checkout or PATH
        assert os.access(found[0], os.X_OK)


def test_call_timeout_range_flag_and_env(
    monkeypatch: pytest.MonkeyPatch, clean_env: None, tmp_path: Path
) -> None:
    assert Settings.from_sources(project_root=tmp_path).call_timeout_seconds == 120.0
    for edge in (MIN_CALL_TIMEOUT_SECONDS, MAX_CALL_TIMEOUT_SECONDS):
        s = Settings.from_sources(project_root=tmp_path, call_timeout_seconds=edge)
        assert s.call_timeout_seconds == edge
    for bad in (MIN_CALL_TIMEOUT_SECONDS - 0.01, MAX_CALL_TIMEOUT_SECONDS + 0.5, 0.0):
        with pytest.raises(ValueError, match=r"out of range \(CALL_TIMEOUT_SECONDS\)"):
            Settings.from_sources(project_root=tmp_path, call_timeout_seconds=bad)
    monkeypatch.setenv("CODELOCI_CALL_TIMEOUT", "7.5")
    assert Settings.from_sources(project_root=tmp_path).call_timeout_seconds == 7.5
    # The flag wins over the environment.
    s = Settings.from_sources(project_root=tmp_path, call_timeout_seconds=3)
    assert s.call_timeout_seconds == 3
    monkeypatch.setenv("CODELOCI_CALL_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="CODELOCI_CALL_TIMEOUT='soon' is not a number"):
        Settings.from_sources(project_root=tmp_path)


def test_gate_settings_flag_env_default(
    monkeypatch: pytest.MonkeyPatch, clean_env: None, tmp_path: Path
) -> None:
    from codeloci.gate import Gate

    s = Settings.from_sources(project_root=tmp_path)
    assert s.gate_threshold is None and s.gate_enabled
    assert Gate.from_settings(s).threshold == Gate().threshold  # the trained one
    monkeypatch.setenv("CODELOCI_GATE_THRESHOLD", "0.7")
    monkeypatch.setenv("CODELOCI_GATE_ENABLED", "false")
    gate = Gate.from_settings(Settings.from_sources(project_root=tmp_path))
    assert gate.threshold == 0.7 and not gate.enabled
    # flags win
    s = Settings.from_sources(project_root=tmp_path, gate_threshold=0.2, gate_enabled=True)
    assert s.gate_threshold == 0.2 and s.gate_enabled
    monkeypatch.setenv("CODELOCI_GATE_ENABLED", "0")
    assert not Settings.from_sources(project_root=tmp_path).gate_enabled
    monkeypatch.setenv("CODELOCI_GATE_ENABLED", "maybe")
    with pytest.raises(ValueError, match="CODELOCI_GATE_ENABLED='maybe': expected true/false"):
        Settings.from_sources(project_root=tmp_path)
    monkeypatch.delenv("CODELOCI_GATE_ENABLED")
    monkeypatch.setenv("CODELOCI_GATE_THRESHOLD", "high")
    with pytest.raises(ValueError, match="CODELOCI_GATE_THRESHOLD='high' is not a number"):
        Settings.from_sources(project_root=tmp_path)
    monkeypatch.setenv("CODELOCI_GATE_THRESHOLD", "1.5")
    with pytest.raises(ValueError, match="out of range"):
        Settings.from_sources(project_root=tmp_path)


def test_embedder_and_log_settings(
    monkeypatch: pytest.MonkeyPatch, clean_env: None, tmp_path: Path
) -> None:
    from codeloci.config import resolve_log_level

    s = Settings.from_sources(project_root=tmp_path)
    assert s.embed_threads is None and s.embed_spin is None  # the embedder's own defaults
    monkeypatch.setenv("CODELOCI_EMBED_THREADS", "3")
    monkeypatch.setenv("CODELOCI_EMBED_SPIN", "1")
    s = Settings.from_sources(project_root=tmp_path)
    assert s.embed_threads == 3 and s.embed_spin is True
    s = Settings.from_sources(project_root=tmp_path, embed_threads=1, embed_spin=False)
    assert s.embed_threads == 1 and s.embed_spin is False
    monkeypatch.setenv("CODELOCI_EMBED_SPIN", "auto")  # only 1 or 0 decide
    assert Settings.from_sources(project_root=tmp_path).embed_spin is None
    monkeypatch.setenv("CODELOCI_EMBED_THREADS", "many")
    with pytest.raises(ValueError, match="CODELOCI_EMBED_THREADS='many' is not a number"):
        Settings.from_sources(project_root=tmp_path)

    assert resolve_log_level() == "INFO"
    monkeypatch.setenv("CODELOCI_LOG_LEVEL", "debug")
    assert resolve_log_level() == "DEBUG"
    assert resolve_log_level("warning") == "WARNING"


def test_only_config_reads_the_environment() -> None:
    """Every environment variable is read in config.py and passed down from Settings: no other
    module of the package calls os.environ / os.getenv / os.putenv (the Rust child's
    environment is config.passthrough_env())."""
    import codeloci

    package = Path(codeloci.__file__).parent
    pattern = re.compile(r"\b(?:os\.environ|environ\s*\[|getenv|putenv|from os import)")
    offenders = [
        f"{path.relative_to(package)}:{n}: {line.strip()}"
        for path in sorted(package.rglob("*.py"))
        if path.name != "config.py" or path.parent != package
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if pattern.search(line)
    ]
    assert not offenders, "read the environment in codeloci/config.py only:\n" + "\n".join(
        offenders
    )


def test_serve_indexes_a_git_repository_or_a_chosen_root_by_default(
    monkeypatch: pytest.MonkeyPatch, clean_env: None, tmp_path: Path
) -> None:
    plain, repo = tmp_path / "plain", tmp_path / "repo"
    plain.mkdir()
    (repo / ".git").mkdir(parents=True)
    monkeypatch.chdir(plain)  # e.g. a home directory: not indexed unless asked
    s = Settings.from_sources()
    assert (s.index_on_start, s.watch) == (False, False)
    asked = Settings.from_sources(index_on_start=True, watch=True)
    assert (asked.index_on_start, asked.watch) == (True, True)
    chosen = Settings.from_sources(project_root=plain)
    assert (chosen.index_on_start, chosen.watch) == (True, True)
    monkeypatch.chdir(repo)
    s = Settings.from_sources()
    assert s.project_root == repo.resolve() and (s.index_on_start, s.watch) == (True, True)
    monkeypatch.setenv("CODELOCI_INDEX", "0")
    monkeypatch.setenv("CODELOCI_WATCH", "0")
    s = Settings.from_sources()
    assert (s.index_on_start, s.watch) == (False, False)
    assert Settings.from_sources(watch_root=repo).watch, "--watch PATH watches PATH"
