"""Finds the `codeloci-ast` binary (installed in the venv, else the release build, else builds
it) and copies it into the run's work directory, so a concurrent rebuild cannot swap it mid-run."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Binary:
    path: Path  # the private copy the benchmarks run
    origin: Path  # where it came from
    version: str
    built: str
    stale: bool  # older than a file under rust-server/src or Cargo.toml/Cargo.lock


def locate(repo: Path, build_if_missing: bool = True) -> Path:
    named = os.environ.get("CODELOCI_RUST_SERVER", "")
    if named and Path(named).is_file():
        return Path(named)  # the binary codeloci itself would start
    candidates = [
        Path(sysconfig.get_paths()["scripts"]) / "codeloci-ast",
        repo / ".venv" / "bin" / "codeloci-ast",
        repo / "rust-server" / "target" / "release" / "codeloci-ast",
    ]
    for c in candidates:
        if c.is_file():
            return c
    if not build_if_missing:
        raise FileNotFoundError("codeloci-ast")
    print("codeloci-ast not found; building it (cargo build --release)…", file=sys.stderr)
    build(repo)
    return candidates[-1]


def build(repo: Path) -> None:
    subprocess.run(
        ["cargo", "build", "--release", "--manifest-path", str(repo / "rust-server" / "Cargo.toml")],
        check=True,
    )


def is_stale(repo: Path, binary: Path) -> bool:
    built = binary.stat().st_mtime
    server = repo / "rust-server"
    sources = [*server.joinpath("src").rglob("*.rs"), server / "Cargo.toml", server / "Cargo.lock"]
    return any(p.is_file() and p.stat().st_mtime > built for p in sources)


def prepare(repo: Path, workdir: Path, force_build: bool = False) -> Binary:
    if force_build:
        build(repo)
        origin = repo / "rust-server" / "target" / "release" / "codeloci-ast"
    else:
        origin = locate(repo)
    copy = workdir / "codeloci-ast"
    shutil.copy2(origin, copy)
    version = subprocess.run([str(copy), "--version"], capture_output=True, text=True, check=True).stdout.strip()
    built = dt.datetime.fromtimestamp(origin.stat().st_mtime, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return Binary(copy, origin, version.removeprefix("codeloci-ast "), built, is_stale(repo, origin))
