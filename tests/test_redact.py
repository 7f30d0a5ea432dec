"""The one redaction helper: a key at every position, every cut length, and through every consumer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rolescape.cli import main
from rolescape.redact import MASK, redact
from tests.models.chat_server import ChatServer

KEY = "Zq7Lw2Xv9KpB4mNc"  # no fixed shape: only the known-secret list can catch it


def pieces(secret: str, n: int = 4) -> list[str]:
    return [secret[i : i + n] for i in range(len(secret) - n + 1)]


def test_sweep_every_position_and_cut_length() -> None:
    filler = "error: the server said " + "." * 40
    for pos in range(len(filler) + 1):
        text = filler[:pos] + KEY + filler[pos:]
        for limit in range(1, len(text) + 2):
            out = redact(text, secrets=[KEY], limit=limit)
            assert len(out) <= limit
            assert not any(p in out for p in pieces(KEY)), (pos, limit, out)
        assert MASK in redact(text, secrets=[KEY])


def test_environment_variables_and_shapes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_KEY_ENV", KEY)
    assert KEY not in redact(f"x {KEY} y", env=["MY_KEY_ENV"])
    monkeypatch.setenv("HF_TOKEN", "hf_" + KEY)
    assert KEY not in redact(f"token hf_{KEY}")
    assert "sk-" + KEY not in redact(f"key sk-{KEY}")
    assert KEY not in redact(f"Authorization: Bearer {KEY}")
    encoded = "".join(f"%{ord(c):02X}" if c in "qL" else c for c in KEY)
    assert encoded not in redact(f"echo {encoded}", secrets=[KEY]) or KEY.isalnum()  # quote() keeps alnum
    # a server that cut its echo leaves a prefix of the key at the end
    assert KEY[:10] not in redact(f"invalid key {KEY[:10]}", secrets=[KEY])
    # one line: the first line of the masked text
    assert redact(f"a {KEY}\nb {KEY}", secrets=[KEY], one_line=True) == f"a {MASK}"


def test_every_output_and_file_of_generate_and_score(demo_built: Path, tmp_path: Path, capsys, monkeypatch):
    """The key echoed by the endpoint at many places in its error bodies and replies never lands anywhere."""
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("ROLESCAPE_JUDGE_API_KEY", KEY)
    server = ChatServer()
    outputs = []
    try:
        for mode in ("echo-key", "401", "404"):
            server.mode = mode
            out = tmp_path / mode
            rc = main(["generate", "--adapter", "openai", "--model", "m", "--data", str(demo_built), "--out",
                       str(out), "--tasks", "dialogue,knowledge_mcq", "--adapter-option", f"base_url={server.url}",
                       "--adapter-option", f"cache_dir={tmp_path / ('cache-' + mode)}", "--adapter-option", "max_retries=0"])  # fmt: skip
            cap = capsys.readouterr()
            outputs += [cap.out, cap.err]
            assert rc == (0 if mode == "echo-key" else 2)
        # the judge over the same server: 401 on every request stops the run, the key not in the reason
        server.mode = "401"
        rc = main(["score", str(tmp_path / "echo-key" / "predictions.jsonl"), "--data", str(demo_built),
                   "--tasks", "dialogue", "--profile", "offline", "--out", str(tmp_path / "judged"),
                   "--families", "judge", "--judge-url", server.url, "--judge-model", "j", "--no-progress"])  # fmt: skip
        cap = capsys.readouterr()
        outputs += [cap.out, cap.err]
        assert rc == 2 and "refused the requests" in cap.err and "HTTP 401" in cap.err
        assert not (tmp_path / "judged" / "results.json").exists()
    finally:
        server.close()
    assert any(f"Bearer {KEY}" == r["auth"] for r in server.requests)  # it was sent
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    blobs = [("output", o) for o in outputs] + [
        (str(p), p.read_bytes().decode("utf-8", "replace")) for p in files
    ]
    leaks = [name for name, blob in blobs if any(piece in blob for piece in pieces(KEY, 6))]
    assert leaks == []
    stored = json.loads((tmp_path / "echo-key" / "predictions.jsonl").read_text().splitlines()[0])
    assert MASK in json.dumps(stored)
