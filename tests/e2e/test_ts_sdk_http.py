"""The TypeScript SDK's client against the Rust server over streamable HTTP."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from conftest import E2E, FIXTURES


def test_typescript_client_over_streamable_http(
    ast_bin: str, node_bin: Path, tmp_path: Path
) -> None:
    big = "".join(f"def function_{i}(x):\n    return x + {i}\n\n\n" for i in range(2000))
    (tmp_path / "many.py").write_text(big)
    server = subprocess.Popen(
        [ast_bin, "--root", str(FIXTURES), "--root", str(tmp_path), "--http", "127.0.0.1:0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stderr is not None
        line = server.stderr.readline()
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+/mcp)", line)
        assert match, f"server did not announce its address: {line!r}"
        proc = subprocess.run(
            ["node", str(E2E / "ts_http_client.mjs"), match.group(1), str(tmp_path)],
            capture_output=True, text=True, timeout=120, cwd=E2E,
        )
        assert proc.returncode == 0, proc.stderr
        seen = json.loads(proc.stdout)
        assert seen["tools"] == ["chunk", "parse", "scan"]
        assert {"User", "Color", "UserStore", "makeStore", "Utils"} <= set(seen["chunkNames"])
        assert "Server.Run" in seen["goDefinitions"]
        assert seen["refusedIsError"] is True
        assert "outside the allowed roots" in seen["refusedText"]
        # A large answer: every chunk in structuredContent, a one-line summary as its text.
        assert seen["bigContent"] == big
        assert f"{seen['bigChunks']} chunks" in seen["bigText"]
        assert "structuredContent" in seen["bigText"] and len(seen["bigText"]) < 400
    finally:
        server.terminate()
        server.wait(timeout=10)
