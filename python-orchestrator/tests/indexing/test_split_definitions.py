"""A definition too large for one chunk comes back from ``code_search`` whole: the definition
it belongs to (qualified name, signature, full range), once, whatever piece the query hit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codeloci.budget import RESULT_OVERHEAD_TOKENS, estimate_tokens
from codeloci.config import project_id_for
from codeloci.embedder import Embedder
from codeloci.indexing.manifest import ManifestPaths
from codeloci.indexing.models import DEFAULT_CODE_TOKEN_BUDGET, CodeSearchInput
from codeloci.indexing.points import PAYLOAD_VERSION
from codeloci.indexing.search import ELISION, SIGNATURE_PREFIX_CHARS
from codeloci.models import DEFAULT_K

from .conftest import all_points, assert_consistent, open_service, write_files

pytestmark = pytest.mark.anyio

#: A 200-line function: split by the chunker (default max_chunk_chars 1500) into its header,
#: line windows, an inner function and the rest of its body.
BODY = "\n".join(f"    total_{i} = weigh_parcel({i}) + route_cost({i})" for i in range(200))
AUDIT = "\n".join(f"        self.check_{i} = inspect_drawer({i})" for i in range(80))
LEDGER_PY = f'''
def reconcile_ledger(entries, currency):
    """Match every entry against the bank statement."""
{BODY}
    reminder_token = schedule_overdue_reminder(entries)

    def inner_balance(amount):
        return amount * 2

    return inner_balance(reminder_token)


def open_account(owner):
    return {{"owner": owner, "balance": 0}}


def close_account(account):
    account["closed"] = True
    return account


def transfer_funds(source, target, amount):
    source["balance"] -= amount
    target["balance"] += amount


class Vault:
    def lock(self):
        return "locked"

    def unlock(self):
        return "unlocked"

    def audit(self):
{AUDIT}
        return self
'''
LINES = LEDGER_PY.lstrip("\n").splitlines()
DEF_LINE = 1
END_LINE = LINES.index("    return inner_balance(reminder_token)") + 1


async def test_a_hit_on_a_later_piece_reports_the_whole_definition_once(
    tmp_path: Path, data_dir: Path, rust_server: list[str], embedder: Embedder
) -> None:
    root = (tmp_path / "repo").resolve()
    write_files(root, {"ledger.py": LEDGER_PY})
    async with open_service(data_dir, [root], rust_server, embedder) as service:
        await service.index_repository(root)
        pieces = [
            h for h in all_points(service.store, root) if h.payload.get("definition") is not None
        ]
        assert len(pieces) >= 4, "the function is split into several chunks"
        owners = {h.payload["definition"]["symbol"] for h in pieces}
        assert owners == {"reconcile_ledger", "Vault", "Vault.audit"}  # Vault: its header

        for query in (
            "schedule_overdue_reminder",
            "weigh parcel route cost total",
            "inner_balance",
        ):
            found = service.search(root, CodeSearchInput(query=query, k=5))
            ledger = [r for r in found.results if r.symbol == "reconcile_ledger"]
            assert len(ledger) == 1, (query, [(r.symbol, r.start_line) for r in found.results])
            hit = ledger[0]
            assert found.results[0] is hit, query
            assert (hit.start_line, hit.end_line) == (DEF_LINE, END_LINE)
            assert hit.kind == "function"
            assert hit.signature == "def reconcile_ledger(entries, currency)"
            assert hit.content.startswith(hit.signature), query
            if hit.shown_lines is not None:  # a later piece: signature, elision, the piece
                first, last = hit.shown_lines
                assert DEF_LINE < first <= last <= END_LINE
                assert hit.content.startswith(f"{hit.signature}\n{ELISION}\n")
            # Every result is another place: k results are k distinct definitions.
            places = [(r.path, r.symbol, r.start_line) for r in found.results]
            assert len(places) == len(set(places)), places
            if " " in query:  # in words, both channels: every one of the 6 places can come
                assert len(places) == 5, places

        reminder = service.search(root, CodeSearchInput(query="schedule_overdue_reminder", k=1))
        assert reminder.results[0].shown_lines is not None, "the reminder line is a later piece"
        assert "schedule_overdue_reminder(entries)" in reminder.results[0].content

        # A whole method of a class is still its own place; nothing else carries a definition.
        vault = service.search(root, CodeSearchInput(query="unlock", k=3))
        assert vault.results[0].symbol == "Vault.unlock"
        assert vault.results[0].shown_lines is None
        drawer = service.search(root, CodeSearchInput(query="check_70", k=3))
        assert drawer.results[0].symbol == "Vault.audit"
        assert drawer.results[0].content.startswith(f"def audit(self)\n{ELISION}\n")
        assert [r.symbol for r in drawer.results].count("Vault.audit") == 1

        # The default k results fit the default budget, however large each one is.
        everything = service.search(root, CodeSearchInput(query="account balance amount"))
        assert len(everything.results) == DEFAULT_K and everything.omitted == 0
        assert not any(r.truncated for r in everything.results)


def test_the_default_budget_fits_the_default_k_at_their_largest() -> None:
    largest = "x" * (1500 + SIGNATURE_PREFIX_CHARS + 2 * len(f"\n{ELISION}"))
    per_result = estimate_tokens(largest) + RESULT_OVERHEAD_TOKENS
    assert DEFAULT_K * per_result <= DEFAULT_CODE_TOKEN_BUDGET


async def test_an_index_built_with_another_payload_version_is_rebuilt(
    repo: Path, data_dir: Path, rust_server: list[str], embedder: Embedder
) -> None:
    """Points written before pieces named their definition are rewritten."""
    async with open_service(data_dir, [repo], rust_server, embedder) as service:
        first = await service.index_repository(repo)
        paths = ManifestPaths.under(data_dir, project_id_for(repo))
        data = json.loads(paths.manifest.read_text())
        assert data["payload_version"] == PAYLOAD_VERSION
        del data["payload_version"]  # a manifest written before the version existed
        paths.manifest.write_text(json.dumps(data))
        report = await service.index_repository(repo)
        assert any("payload version 0" in w for w in report.warnings)
        assert report.chunks_written == first.chunks_written > 0
        assert json.loads(paths.manifest.read_text())["payload_version"] == PAYLOAD_VERSION
        assert_consistent(service.store, data_dir, repo)
