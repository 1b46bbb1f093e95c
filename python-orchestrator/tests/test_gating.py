"""The retrieval gate inside the real server: skipped searches, force, disabled, stats."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import serve

pytestmark = pytest.mark.anyio

GENERAL = "what is a python decorator and how does it work in general?"
SPECIFIC = "what did we decide about the naming convention for our test files?"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "app.py").write_text("def run():\n    return 1\n")
    return root


async def _seed(s: object) -> None:
    await s.ok(  # type: ignore[attr-defined]
        "memory_store",
        {
            "content": "We name test files test_<module>.py and keep them beside the code.",
            "level": "PROJECT_CONTEXT",
            "kind": "decision",
        },
    )


async def test_general_question_is_gated_and_force_bypasses(
    tmp_path: Path, project: Path, rust_server: list[str]
) -> None:
    async with serve(tmp_path / "data", project, rust_server, gate=True) as s:
        await _seed(s)
        skipped = await s.ok("memory_find", {"query": GENERAL})
        assert skipped["results"] == []
        assert skipped["gate"]["retrieve"] is False
        assert skipped["gate"]["score"] < skipped["gate"]["threshold"]
        assert "general" in skipped["gate"]["reason"]

        forced = await s.ok("memory_find", {"query": GENERAL, "force": True})
        assert forced["gate"] == {
            "retrieve": True,
            "score": 1.0,
            "threshold": forced["gate"]["threshold"],
            "reason": "forced",
        }
        assert len(forced["results"]) == 1

        kept = await s.ok("retrieve_project_facts", {"query": SPECIFIC})
        assert kept["gate"]["retrieve"] is True
        assert "test files" in kept["results"][0]["content"]

        newest = await s.ok("retrieve_project_facts", {})
        assert newest["gate"] is None, "no query: nothing to decide, newest first"
        assert len(newest["results"]) == 1

        stats = await s.ok("gate_stats")
        assert stats["decisions"] == 3
        assert stats["skipped"] == 1
        assert stats["by_reason"]["forced"] == 1
        assert stats["skip_rate"] == pytest.approx(1 / 3, abs=1e-3)


async def test_disabled_gate_passes_everything(
    tmp_path: Path, project: Path, rust_server: list[str]
) -> None:
    async with serve(tmp_path / "data", project, rust_server, "--no-gate", gate=True) as s:
        await _seed(s)
        found = await s.ok("memory_find", {"query": GENERAL})
        assert found["gate"]["retrieve"] is True
        assert found["gate"]["reason"] == "gate disabled"
        assert len(found["results"]) == 1
        stats = await s.ok("gate_stats")
        assert stats["enabled"] is False


async def test_threshold_flag_is_in_force(
    tmp_path: Path, project: Path, rust_server: list[str]
) -> None:
    async with serve(
        tmp_path / "data", project, rust_server, "--gate-threshold", "0", gate=True
    ) as s:
        found = await s.ok("memory_find", {"query": GENERAL})
        assert found["gate"]["threshold"] == 0.0
        assert found["gate"]["retrieve"] is True


async def test_gate_inputs_are_validated(
    tmp_path: Path, project: Path, rust_server: list[str]
) -> None:
    async with serve(tmp_path / "data", project, rust_server, gate=True) as s:
        error = await s.err("memory_find", {"query": "x", "recent_tools": ["t"] * 33})
        assert "recent_tools" in error


async def test_indexed_symbol_is_never_gated_out_and_survives_restart(
    tmp_path: Path, project: Path, rust_server: list[str]
) -> None:
    (project / "checksum.py").write_text(
        "def compute_checksum_for_payload(data):\n"
        '    """Sum the bytes of data modulo 256."""\n'
        "    return sum(data) % 256\n"
    )
    named = "what is compute_checksum_for_payload in python, in general?"
    async with serve(tmp_path / "data", project, rust_server, gate=True) as s:
        before = await s.ok("code_search", {"query": named})
        assert "names indexed" not in before["gate"]["reason"], "not indexed yet"
        await s.ok("index_repository", {})
        found = await s.ok("code_search", {"query": named})
        assert found["gate"]["retrieve"] is True
        assert "names indexed symbol `compute_checksum_for_payload`" in found["gate"]["reason"]
        assert found["results"][0]["symbol"] == "compute_checksum_for_payload"
        general = await s.ok("code_search", {"query": GENERAL})
        assert general["gate"]["retrieve"] is False and general["results"] == []
        forced = await s.ok("code_search", {"query": GENERAL, "force": True})
        assert forced["gate"]["reason"] == "forced"
    # The vocabulary is kept with the index: a new server knows the name at once.
    async with serve(tmp_path / "data", project, rust_server, gate=True) as s:
        again = await s.ok("code_search", {"query": named})
        assert again["gate"]["retrieve"] is True
        assert "names indexed symbol" in again["gate"]["reason"]
        stats = await s.ok("gate_stats")
        assert stats["vocabulary_size"] > 0


def test_every_searching_tool_is_gated_by_the_registry() -> None:
    """A tool taking a query with ``force`` (the gate's override: every GatedSearch, and
    symbol_find, which publishes ``force`` alone of the gate's hints) has its ToolSpec gated,
    so the server asks the gate before its handler runs; no other tool is gated."""
    from codeloci.models import GatedSearch
    from codeloci.server import build_registry

    for spec in build_registry():
        fields = spec.input_model.model_fields
        searching = "query" in fields and "force" in fields
        if issubclass(spec.input_model, GatedSearch):
            assert searching, spec.name
        assert (spec.gated is not None) == searching, spec.name
