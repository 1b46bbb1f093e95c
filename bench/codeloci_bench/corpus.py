"""Real code present on the machine, never generated text.

A corpus is a deterministic, capped selection of files of one language: files are ordered by a
hash of their path relative to the source root (so the sample spreads over packages instead of
taking the alphabetically first ones) and taken until the byte cap. Files that are not valid
UTF-8 or are larger than `max_file_bytes` are left out, so every chunker sees the same texts.
"""

from __future__ import annotations

import hashlib
import os
import sysconfig
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Corpus:
    language: str
    source: str
    root: Path
    files: list[Path]
    texts: list[str]
    available_files: int
    available_bytes: int

    @property
    def bytes(self) -> int:
        return sum(len(t.encode("utf-8")) for t in self.texts)

    def write_list(self, path: Path) -> Path:
        path.write_text("".join(f"{p}\n" for p in self.files), encoding="utf-8")
        return path


def python_stdlib() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def cargo_registry_src() -> Path:
    home = Path(os.environ.get("CARGO_HOME", Path.home() / ".cargo"))
    return home / "registry" / "src"


def _walk(root: Path, suffix: str, prune: set[str]) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in prune and not d.startswith("."))
        found.extend(Path(dirpath, f) for f in filenames if f.endswith(suffix))
    return found


def select(
    language: str,
    source: str,
    root: Path,
    suffix: str,
    cap_bytes: int,
    prune: set[str] | None = None,
    max_file_bytes: int = 1024 * 1024,
) -> Corpus:
    candidates = _walk(root, suffix, prune or set())
    candidates = [p for p in candidates if p.is_file() and not p.is_symlink()]
    available_bytes = sum(p.stat().st_size for p in candidates)
    candidates.sort(key=lambda p: hashlib.blake2b(str(p.relative_to(root)).encode(), digest_size=8).digest())
    files: list[Path] = []
    texts: list[str] = []
    total = 0
    for p in candidates:
        size = p.stat().st_size
        if size == 0 or size > max_file_bytes:
            continue
        try:
            text = p.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if "\x00" in text:
            continue
        files.append(p)
        texts.append(text)
        total += len(text.encode("utf-8"))
        if total >= cap_bytes:
            break
    return Corpus(language, source, root, files, texts, len(candidates), available_bytes)


def python_corpus(cap_bytes: int) -> Corpus:
    root = python_stdlib()
    return select(
        "python",
        "Python standard library (.py, site-packages excluded)",
        root,
        ".py",
        cap_bytes,
        prune={"site-packages", "__pycache__"},
    )


def rust_corpus(cap_bytes: int) -> Corpus:
    root = cargo_registry_src()
    return select("rust", "crates in ~/.cargo/registry/src (.rs)", root, ".rs", cap_bytes, prune={"target"})
