"""Finds the `codeloci-ast` binary (installed in the venv, else the release build, else builds
it) and copies it into the run's work directory, so a concurrent rebuild cannot swap it mid-run."""

from __future__ import annotations

import datetime as dt
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


def locate(repo: Path, log: object = print) -> Path:
    candidates = [
        Path(sysconfig.get_paths()["scripts"]) / "codeloci-ast",
        repo / ".venv" / "bin" / "codeloci-ast",
        repo / "rust-server" / "target" / "release" / "codeloci-ast",
    ]
    for c in candidates:
        if c.is_file():
            return c
    print("codeloci-ast not found; building it (cargo build --release)…", file=sys.stderr)
    subprocess.run(
        ["cargo", "build", "--release", "--manifest-path", str(repo / "rust-server" / "Cargo.toml")],
        check=True,
    )
    return candidates[-1]


def prepare(repo: Path, workdir: Path) -> Binary:
    origin = locate(repo)
    copy = workdir / "codeloci-ast"
    shutil.copy2(origin, copy)
    version = subprocess.run([str(copy), "--version"], capture_output=True, text=True, check=True).stdout.strip()
    built = dt.datetime.fromtimestamp(origin.stat().st_mtime, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return Binary(copy, origin, version, built)
