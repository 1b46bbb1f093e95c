"""The machine and the versions of everything, printed at the top of BENCHMARKS.md."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def cpu_model() -> str:
    for line in _read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def memory_gib() -> float:
    match = re.search(r"^MemTotal:\s+(\d+) kB", _read("/proc/meminfo"), re.MULTILINE)
    return int(match.group(1)) / 1024 / 1024 if match else float("nan")


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def loadavg() -> str:
    return " ".join(_read("/proc/loadavg").split()[:3]) or "n/a"


def command_version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "not found"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr).strip() else "unknown"


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def git_state(repo: Path) -> str:
    head = command_version(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(
        ["git", "-C", str(repo), "status", "--porcelain", "--", "rust-server", "python-orchestrator"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return f"{head}{' + uncommitted changes' if dirty else ''}"


def machine_lines() -> list[str]:
    return [
        f"- CPU: {cpu_model()}, {usable_cores()} usable cores (os.cpu_count {os.cpu_count()})",
        f"- Memory: {memory_gib():.1f} GiB",
        f"- OS: {platform.system()} {platform.release()} ({platform.machine()})",
        f"- Python: {sys.version.split()[0]} ({sys.executable})",
        f"- rustc: {command_version(['rustc', '--version'])}",
    ]
