"""`rolescape generate --adapter openai` against a local OpenAI-compatible server, through the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rolescape.cli import main

from .chat_server import ChatServer

SECRET = "sk-test-Qz9XwV7kLmN3pR5tY8uB"
TEXT_TASKS = "knowledge_mcq,dialogue,memorization,personality"


@pytest.fixture
def server() -> Iterator[ChatServer]:
    s = ChatServer()
    yield s
    s.close()


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def gen_args(server: ChatServer, data: Path, out: Path, *extra: str, cache: str = "false") -> list[str]:
    return [
        "generate", "--adapter", "openai", "--model", "fake-model", "--data", str(data), "--out", str(out),
        "--adapter-option", f"base_url={server.url}", "--adapter-option", f"cache_dir={cache}",
        "--adapter-option", "max_retries=0", "--adapter-option", "concurrency=1", *extra,
    ]  # fmt: skip


def run(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, str, str]:
    rc = main(args)
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_generate_validate_score_and_rerun_identical(server, demo_built, tmp_path, capsys):
    out = tmp_path / "run"
    rc, stdout, err = run(capsys, gen_args(server, demo_built, out, "--tasks", TEXT_TASKS))
    assert rc == 0, err
    preds = lines(out / "predictions.jsonl")
    by_task: dict[str, int] = {}
    for p in preds:
        by_task[p["id"].split("/")[0]] = by_task.get(p["id"].split("/")[0], 0) + 1
        assert len(p["prompt_sha256"]) == 64 and isinstance(p["seed"], int)
    assert by_task == {"knowledge_mcq": 18, "dialogue": 15, "memorization": 20, "personality": 19}
    assert all(p["choice"] in "ABCD" for p in preds if p["id"].startswith("knowledge_mcq"))
    gen = json.loads((out / "generation.json").read_text())
    assert gen["complete"] is True and gen["settings"]["prompt_style"] == "release"
    assert gen["model"]["adapter"] == "openai" and gen["model"]["model_id"] == "fake-model"
    assert gen["settings"]["sampling"]["temperature"] == 0.0 and gen["versions"]["rolescape"]
    assert all(r["auth"] == f"Bearer {SECRET}" for r in server.requests)  # sent, never stored
    assert main(["validate-predictions", str(out / "predictions.jsonl"), "--data", str(demo_built)]) == 0
    # score copies the provenance into results.json
    run_dir = tmp_path / "scored"
    rc = main(["score", str(out / "predictions.jsonl"), "--data", str(demo_built), "--tasks", "knowledge_mcq",
               "--profile", "offline", "--out", str(run_dir), "--no-progress"])  # fmt: skip
    assert rc == 0
    res = json.loads((run_dir / "results.json").read_text())
    assert res["generation"]["model"]["model_id"] == "fake-model"
    assert "path" not in res["generation"]["data"]
    assert res["tasks"]["knowledge_mcq"]["metrics"]["mcq_acc"]["n"] == 18
    # a second run into a fresh folder is byte-identical; rerunning the same folder sends nothing
    out2 = tmp_path / "run2"
    assert main(gen_args(server, demo_built, out2, "--tasks", TEXT_TASKS)) == 0
    assert (out2 / "predictions.jsonl").read_bytes() == (out / "predictions.jsonl").read_bytes()
    n = len(server.requests)
    assert main(gen_args(server, demo_built, out, "--tasks", TEXT_TASKS)) == 0
    assert len(server.requests) == n
    capsys.readouterr()


def test_chat_style_and_constrained_mcq(server, demo_built, tmp_path, capsys):
    out = tmp_path / "chat"
    args = gen_args(server, demo_built, out, "--tasks", "knowledge_mcq,dialogue", "--prompt-style", "chat",
                    "--adapter-option", "mcq=json_object")  # fmt: skip
    rc, _, err = run(capsys, args)
    assert rc == 0, err
    bodies = [r["body"] for r in server.requests]
    mcq = [b for b in bodies if "response_format" in b]
    assert len(mcq) == 18 and mcq[0]["response_format"]["schema"]["properties"]["answer"]["enum"] == list(
        "ABCD"
    )
    assert all(b["messages"][0]["role"] == "system" for b in bodies)
    preds = lines(out / "predictions.jsonl")
    assert {p["choice_parse"] for p in preds if "choice" in p} == {"constrained"}


def test_reply_cache_answers_a_second_run(server, demo_built, tmp_path, capsys):
    cache = tmp_path / "cache"
    assert main(gen_args(server, demo_built, tmp_path / "a", "--tasks", "dialogue", cache=str(cache))) == 0
    n = len(server.requests)
    assert main(gen_args(server, demo_built, tmp_path / "b", "--tasks", "dialogue", cache=str(cache))) == 0
    assert len(server.requests) == n == 15
    assert (tmp_path / "a/predictions.jsonl").read_bytes() == (tmp_path / "b/predictions.jsonl").read_bytes()
    capsys.readouterr()


def test_shards_merged_equal_the_unsharded_run(server, demo_built, tmp_path, capsys):
    full = tmp_path / "full"
    assert main(gen_args(server, demo_built, full, "--tasks", TEXT_TASKS)) == 0
    shards = []
    for i in range(3):
        d = tmp_path / f"s{i}"
        assert main(gen_args(server, demo_built, d, "--tasks", TEXT_TASKS, "--shard", f"{i}/3")) == 0
        shards.append(str(d))
    sizes = [len(lines(Path(d) / "predictions.jsonl")) for d in shards]
    assert all(s > 0 for s in sizes) and sum(sizes) == 72
    merged = tmp_path / "merged"
    assert main(["merge-predictions", *shards, "--out", str(merged)]) == 0
    assert (merged / "predictions.jsonl").read_bytes() == (full / "predictions.jsonl").read_bytes()
    gen = json.loads((merged / "generation.json").read_text())
    assert gen["complete"] and gen["merged_from"] == ["0/3", "1/3", "2/3"]
    capsys.readouterr()


def _merge_err(capsys, *args: str) -> tuple[int, str]:
    rc, _, err = run(capsys, ["merge-predictions", *args])
    return rc, err


def test_merge_refuses_missing_duplicate_and_foreign_shards(server, demo_built, tmp_path, capsys):
    dirs = []
    for i in range(2):
        d = tmp_path / f"s{i}"
        assert (
            main(gen_args(server, demo_built, d, "--tasks", "dialogue,memorization", "--shard", f"{i}/2"))
            == 0
        )
        dirs.append(d)
    capsys.readouterr()
    out = tmp_path / "m"
    # a missing shard
    rc, err = _merge_err(capsys, str(dirs[0]), "--out", str(out))
    assert rc == 2 and "shard 1/2 is missing" in err
    # a missing id
    p1 = dirs[1] / "predictions.jsonl"
    original = p1.read_text()
    p1.write_text("".join(original.splitlines(keepends=True)[1:]))
    rc, err = _merge_err(capsys, str(dirs[0]), str(dirs[1]), "--out", str(out))
    assert rc == 2 and "ids are missing" in err
    # a duplicated id
    first0 = (dirs[0] / "predictions.jsonl").read_text().splitlines(keepends=True)[0]
    p1.write_text(original + first0)
    rc, err = _merge_err(capsys, str(dirs[0]), str(dirs[1]), "--out", str(out))
    assert rc == 2 and "duplicate id" in err and "predictions.jsonl:" in err
    p1.write_text(original)
    # a shard of another dataset
    g1 = dirs[1] / "generation.json"
    rec = json.loads(g1.read_text())
    rec["settings"]["data_manifest_sha256"] = "0" * 64
    g1.write_text(json.dumps(rec))
    rc, err = _merge_err(capsys, str(dirs[0]), str(dirs[1]), "--out", str(out))
    assert rc == 2 and "different datasets" in err
    assert not out.exists()  # nothing half-written
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("mode", "expect"),
    [
        ("401", "HTTP 401"),
        ("404", "HTTP 404"),
        ("500", "HTTP 500 after 1 attempts"),
        ("html", "not a chat completion"),
        ("slow", "timeout"),
    ],
)
def test_endpoint_failures_are_one_line_without_the_key(server, demo_built, tmp_path, capsys, mode, expect):
    server.mode = "ok" if mode == "slow" else mode
    if mode == "slow":
        server.delay = 2.0
    out = tmp_path / "run"
    args = gen_args(server, demo_built, out, "--tasks", "dialogue", "--adapter-option", "timeout=0.5")
    rc, stdout, err = run(capsys, args)
    assert rc == 2
    assert expect in err and server.url.split("/v1")[0] in err and "dialogue/" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    blobs = [stdout, err] + [p.read_text(errors="replace") for p in out.rglob("*") if p.is_file()]
    assert not any(SECRET in b or SECRET[:12] in b for b in blobs)
    gen = json.loads((out / "generation.json").read_text())
    assert gen["complete"] is False  # a failed run says it is partial
    pred = out / "predictions.jsonl"
    assert not pred.exists() or all(json.loads(x)["id"] for x in pred.read_text().splitlines())


def test_refused_connection(demo_built, tmp_path, capsys):
    from rolescape.models.llama_server import free_port

    url = f"http://127.0.0.1:{free_port()}/v1"
    args = ["generate", "--adapter", "openai", "--model", "m", "--data", str(demo_built), "--out",
            str(tmp_path / "o"), "--tasks", "dialogue", "--adapter-option", f"base_url={url}",
            "--adapter-option", "max_retries=1", "--adapter-option", "backoff=0"]  # fmt: skip
    rc, _, err = run(capsys, args)
    assert rc == 2 and "connection error" in err and "after 2 attempts" in err and SECRET not in err


def test_a_stored_reply_never_holds_the_key(server, demo_built, tmp_path, capsys):
    server.mode = "echo-key"
    out = tmp_path / "run"
    assert main(gen_args(server, demo_built, out, "--tasks", "dialogue,knowledge_mcq")) == 0
    text = (out / "predictions.jsonl").read_text()
    assert "your key is ***" in text and SECRET not in text
    capsys.readouterr()


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["--adapter", "opnai"], "did you mean 'openai'"),
        (["--shard", "3/2"], "--shard '3/2'"),
        (["--shard", "one/two"], "expected i/n"),
        (["--tasks", "t2i"], "can do none of the requested tasks (t2i: adapter 'openai' needs image_out)"),
        (["--adapter-option", "colour=blue"], "has no option 'colour'"),
        (["--prompt-style", "fancy"], "--prompt-style 'fancy'"),
    ],
)
def test_bad_input_is_one_line(server, demo_built, tmp_path, capsys, args, expect):
    base = gen_args(server, demo_built, tmp_path / "o")
    if args[0] == "--adapter":
        base[base.index("openai")] = args[1]
        args = []
    rc, _, err = run(capsys, base + args)
    assert rc == 2 and expect in err and "Traceback" not in err
    assert not (tmp_path / "o" / "predictions.jsonl").exists()
    assert server.requests == []


def test_a_task_the_adapter_cannot_do_is_skipped_with_the_reason(server, demo_built, tmp_path, capsys):
    rc, stdout, _ = run(
        capsys, gen_args(server, demo_built, tmp_path / "o", "--tasks", "t2i,visual_mcq,dialogue")
    )
    assert rc == 0
    assert "t2i: skipped - adapter 'openai' needs image_out" in stdout
    assert "visual_mcq: skipped - adapter 'openai' needs image_in" in stdout
    gen = json.loads((tmp_path / "o" / "generation.json").read_text())
    assert set(gen["skipped"]) == {"t2i", "visual_mcq"} and gen["settings"]["tasks"] == ["dialogue"]


def test_other_settings_in_the_same_folder_are_refused(server, demo_built, tmp_path, capsys):
    out = tmp_path / "o"
    assert main(gen_args(server, demo_built, out, "--tasks", "dialogue")) == 0
    rc, _, err = run(
        capsys, gen_args(server, demo_built, out, "--tasks", "dialogue", "--max-new-tokens", "9")
    )
    assert rc == 2 and "other settings (sampling" in err
    assert (
        main(gen_args(server, demo_built, out, "--tasks", "dialogue", "--max-new-tokens", "9", "--overwrite"))
        == 0
    )
    capsys.readouterr()


RUNNER = "import sys; from rolescape.cli import main; sys.exit(main(sys.argv[1:]))"


def test_a_killed_run_resumes_with_identical_output(server, demo_built, tmp_path):
    ref = tmp_path / "ref"
    assert main(gen_args(server, demo_built, ref, "--tasks", TEXT_TASKS)) == 0
    server.delay = 0.05
    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-c", RUNNER, *gen_args(server, demo_built, out, "--tasks", TEXT_TASKS)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    pred = out / "predictions.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (pred.exists() and pred.read_text().count("\n") >= 10):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = pred.read_text().count("\n")
    assert 10 <= partial < 72
    assert json.loads((out / "generation.json").read_text())["complete"] is False
    server.delay = 0.0
    before = len(server.requests)
    assert main(gen_args(server, demo_built, out, "--tasks", TEXT_TASKS)) == 0
    assert pred.read_bytes() == (ref / "predictions.jsonl").read_bytes()
    # only the batches with missing ids were asked again (8 items a batch at concurrency 1)
    assert len(server.requests) - before <= 72 - partial + 8
