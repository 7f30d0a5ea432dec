"""The LLM judge against a real chat-completions server on 127.0.0.1, plus strict score parsing."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from rolescape.errors import ModelUnavailable
from rolescape.metrics.base import ItemBatch, ScoreContext
from rolescape.metrics.text.judge import (
    DEFAULT_KEY_ENV,
    FIX_PROMPT,
    JudgeClient,
    JudgeConfig,
    JudgeError,
    JudgeFailure,
    JudgeFamily,
    parse_retry_after,
    parse_score,
    prompt_hash,
)
from rolescape.schemas.predictions import Prediction

from .conftest import TinyData

SECRET = "sk-test-SECRET-7c1e9b22f0a4"


# ----------------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ('{"score": 8, "reason": "Recalls the birthday correctly."}', 8),
        ('```json\n{"score": 9, "reason": "Spot on."}\n```', 9),
        ('{"score": "7"}', 7),
        ('Sure! {"Score": 4, "reason": "vague"}', 4),
        ("Score: 7", 7),
        ("**Score:** 6\nThe reply is in character but generic.", 6),
        ("7/10", 7),
        ("Rating: 8/10 - strongly in voice.", 8),
        ("I'd give it an 8 out of 10.", 8),
        ("I would rate this response a 3.", 3),
        ("The overall score is 5.", 5),
        ("10", 10),
        ("9.", 9),
        ("Score: 7.0", 7),
        # malformed or ambiguous: never guessed
        ("between 6 and 7", None),
        ("Score: 6-7", None),
        ("I'd rate it 6 or 7.", None),
        ("11", None),
        ("0/10", None),
        ("Score: 7.5", None),
        ('{"score": 8.5}', None),
        ('{"score": null, "reason": "cannot judge"}', None),
        ("Score: 7. On reflection, 8/10.", None),
        ("The reply is good and mentions 1998.", None),
        ("Score: seven", None),
        ("", None),
        ("N/A", None),
    ],
)
def test_parse_score(reply, expected):
    assert parse_score(reply) == expected


def test_retry_after_forms():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == pytest.approx(10.0)


def test_prompt_hash_is_stable():
    assert prompt_hash() == prompt_hash() and len(prompt_hash()) == 64


# ----------------------------------------------------------------------------------- the server


def completion(content: str) -> tuple[int, dict[str, str], bytes]:
    body = {
        "id": "cmpl-1",
        "object": "chat.completion",
        "model": "judge-test",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ],
    }
    return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()


class ChatServer:
    """A minimal OpenAI-compatible /v1/chat/completions server. Each request pops one scripted
    behaviour (else `default`); requests are recorded with their time, headers and JSON body."""

    def __init__(self) -> None:
        self.script: deque[Any] = deque()
        self.default: Any = lambda req: completion('{"score": 7, "reason": "consistent"}')
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep pytest output clean
                pass

            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(n) or b"{}")
                req = {"t": time.monotonic(), "path": self.path, "headers": dict(self.headers), "body": body}
                with server.lock:
                    server.requests.append(req)
                    action = server.script.popleft() if server.script else server.default
                status, headers, payload = action(req)
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def then(self, *actions: Any) -> ChatServer:
        self.script.extend(actions)
        return self


def ok(content: str):
    return lambda req: completion(content)


def status(code: int, headers: dict[str, str] | None = None, body: bytes = b'{"error": "busy"}'):
    return lambda req: (code, {"Content-Type": "application/json", **(headers or {})}, body)


def slow(seconds: float, content: str):
    def act(req):
        time.sleep(seconds)
        return completion(content)

    return act


@pytest.fixture
def server():
    s = ChatServer()
    s.thread.start()
    try:
        yield s
    finally:
        s.httpd.shutdown()
        s.httpd.server_close()
        s.thread.join(timeout=5)


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv(DEFAULT_KEY_ENV, SECRET)


def client(server: ChatServer, **kw: Any) -> JudgeClient:
    opts = {
        "judge_url": server.url,
        "judge_model": "judge-test",
        "judge_backoff": 0.01,
        "judge_timeout": 5,
        **kw,
    }
    return JudgeClient(JudgeConfig.from_options(opts))


MESSAGES = [{"role": "system", "content": "grade"}, {"role": "user", "content": "reply: hi"}]


# ----------------------------------------------------------------------------------- client cases


def test_success_sends_a_chat_completion(server):
    c = client(server)
    assert c.score(MESSAGES) == (7, '{"score": 7, "reason": "consistent"}')
    (req,) = server.requests
    assert req["path"] == "/v1/chat/completions"
    assert req["headers"]["Authorization"] == f"Bearer {SECRET}"
    assert req["body"]["model"] == "judge-test" and req["body"]["temperature"] == 0
    assert req["body"]["messages"] == MESSAGES


def test_500_then_success(server):
    server.then(status(500), ok("Score: 9"))
    assert client(server).score(MESSAGES)[0] == 9
    assert len(server.requests) == 2


def test_429_honours_retry_after(server):
    server.then(status(429, {"Retry-After": "1"}), ok('{"score": 5}'))
    delays: list[float] = []
    c = client(server)
    c._sleep = lambda s: (delays.append(s), time.sleep(s))
    assert c.score(MESSAGES)[0] == 5
    assert delays == [1.0]  # not the 0.01 s backoff
    assert server.requests[1]["t"] - server.requests[0]["t"] >= 0.95


def test_exponential_backoff_without_retry_after(server):
    server.then(status(503), status(502), status(500), ok("8/10"))
    delays: list[float] = []
    c = client(server)
    c._sleep = delays.append
    assert c.score(MESSAGES)[0] == 8
    assert delays == pytest.approx([0.01, 0.02, 0.04])


def test_timeout_then_success(server):
    server.then(slow(1.5, "Score: 2"), ok("Score: 6"))
    assert client(server, judge_timeout=0.4).score(MESSAGES)[0] == 6
    assert len(server.requests) == 2


def test_malformed_then_good_reasks(server):
    server.then(ok("It is quite good, honestly."), ok('{"score": 6, "reason": "ok"}'))
    assert client(server).score(MESSAGES)[0] == 6
    second = server.requests[1]["body"]["messages"]
    assert second[:2] == MESSAGES and second[-1] == {"role": "user", "content": FIX_PROMPT}
    assert second[-2] == {"role": "assistant", "content": "It is quite good, honestly."}


def test_always_malformed_is_a_failure_not_a_guess(server):
    server.default = lambda req: completion("between 6 and 7")
    with pytest.raises(JudgeFailure, match="malformed reply after 2 attempt"):
        client(server).score(MESSAGES)
    assert len(server.requests) == 2


def test_not_a_chat_completion_body_counts_as_malformed(server):
    server.then(lambda req: (200, {"Content-Type": "text/plain"}, b"<html>oops</html>"), ok("Score: 4"))
    assert client(server).score(MESSAGES)[0] == 4


def test_retries_are_bounded(server):
    server.default = status(500)
    with pytest.raises(JudgeFailure, match="HTTP 500 after 3 attempts"):
        client(server, judge_max_retries=2).score(MESSAGES)
    assert len(server.requests) == 3


def test_auth_error_is_not_retried_and_stops_later_requests(server):
    server.default = status(401, body=b'{"error": "bad key"}')
    c = client(server)
    with pytest.raises(JudgeFailure, match="HTTP 401"):
        c.score(MESSAGES)
    with pytest.raises(JudgeFailure):
        c.score(MESSAGES)
    assert len(server.requests) == 1


def test_connection_refused_is_retried_then_fails():
    c = JudgeClient(
        JudgeConfig.from_options(
            {
                "judge_url": "http://127.0.0.1:9/v1",
                "judge_model": "m",
                "judge_backoff": 0.0,
                "judge_max_retries": 1,
            }
        )
    )
    with pytest.raises(JudgeFailure, match="after 2 attempts"):
        c.score(MESSAGES)


def test_missing_options_skip_the_family():
    with pytest.raises(ModelUnavailable, match="--judge-url"):
        JudgeConfig.from_options({})
    with pytest.raises(ModelUnavailable, match="--judge-model"):
        JudgeConfig.from_options({"judge_url": "http://127.0.0.1:1"})
    with pytest.raises(ModelUnavailable, match="http"):
        JudgeConfig.from_options({"judge_url": "file:///etc/passwd", "judge_model": "m"})


# ----------------------------------------------------------------------------------- the family

CHAR = {
    "id": "tess-ray",
    "description": "Tess Ray is a cheerful kite maker.",
    "opening": "",
    "full_profile_clean": "Tess Ray builds kites from bamboo and silk. Her favourite kite is Ember.",
    "personality_profile": "Cheerful, quick-witted, laughs often.",
}
ITEMS = [
    {
        "id": "memorization/tess-ray/000",
        "task": "memorization",
        "character": "tess-ray",
        "question": "What is your favourite kite called?",
        "description": CHAR["description"],
        "opening": "",
    },
    {
        "id": "memorization/tess-ray/001",
        "task": "memorization",
        "character": "tess-ray",
        "question": "What do you make kites from?",
        "description": CHAR["description"],
        "opening": "",
    },
    {
        "id": "memorization/tess-ray/002",
        "task": "memorization",
        "character": "tess-ray",
        "question": "Where do you live?",
        "description": CHAR["description"],
        "opening": "",
    },
]
PREDS = [
    Prediction(id=ITEMS[0]["id"], text="Ember, of course! The red dragon."),
    Prediction(id=ITEMS[1]["id"], text="Bamboo and silk, always."),
    Prediction(id=ITEMS[2]["id"]),
]


def run_family(
    server: ChatServer, cache: Path, **opts: Any
) -> tuple[JudgeFamily, ScoreContext, ItemBatch, list]:
    ctx = ScoreContext(
        data=TinyData({}, [CHAR]),
        options={
            "judge_url": server.url,
            "judge_model": "judge-test",
            "judge_backoff": 0.01,
            "judge_cache_dir": str(cache),
            **opts,
        },
    )
    fam = JudgeFamily()
    fam.prepare(ctx, ["memorization"])
    batch = ItemBatch(task="memorization", items=ITEMS, predictions=PREDS)
    return fam, ctx, batch, fam.score(batch, ctx)


def test_family_scores_and_records_model_info(server, tmp_path):
    fam, ctx, _, out = run_family(server, tmp_path / "cache")
    assert fam.metric_names("memorization") == ["judge_memorization", "judge_tone", "judge_failures"]
    assert out[0] == {"judge_memorization": 7.0, "judge_tone": 7.0, "judge_failures": 0.0}
    assert out[2] == {"judge_memorization": None, "judge_tone": None, "judge_failures": None}  # no text
    assert len(server.requests) == 4
    info = ctx.models["judge"]
    assert info.id == "judge-test" and prompt_hash() in info.preprocessing
    assert info.source == f"api:{server.url}/chat/completions"
    prompts = [r["body"]["messages"][1]["content"] for r in server.requests]
    assert any("Factual recall" in p and "bamboo and silk" in p for p in prompts)
    assert any("Voice and tone" in p for p in prompts)


def test_second_run_sends_no_requests(server, tmp_path):
    _, _, _, first = run_family(server, tmp_path / "cache")
    n = len(server.requests)
    assert n == 4
    _, _, _, second = run_family(server, tmp_path / "cache")
    assert len(server.requests) == n
    assert second == first
    # a changed response is a new key
    PREDS_CHANGED = [Prediction(id=ITEMS[0]["id"], text="Ember!")]
    ctx = ScoreContext(
        data=TinyData({}, [CHAR]),
        options={
            "judge_url": server.url,
            "judge_model": "judge-test",
            "judge_cache_dir": str(tmp_path / "cache"),
        },
    )
    fam = JudgeFamily()
    fam.prepare(ctx, ["memorization"])
    fam.score(ItemBatch(task="memorization", items=ITEMS[:1], predictions=PREDS_CHANGED), ctx)
    assert len(server.requests) == n + 2


def test_family_records_failures_without_guessing(server, tmp_path):
    def by_rubric(req):
        prompt = req["body"]["messages"][1]["content"]
        return completion("maybe a 6 or 7" if "Voice and tone" in prompt else "Score: 9")

    server.default = by_rubric
    fam, _, batch, out = run_family(server, tmp_path / "cache", judge_parse_retries=1)
    assert out[0]["judge_memorization"] == 9.0 and out[0]["judge_tone"] is None
    assert out[0]["judge_failures"] == 1.0 and out[1]["judge_failures"] == 1.0
    assert fam.stats["failures"] == {"judge_tone": 2}
    assert "malformed reply" in batch.info[0]["judge_tone_error"]
    # failures are not cached: a rerun asks again
    n = len(server.requests)
    run_family(server, tmp_path / "cache")
    assert len(server.requests) == n + 4


def test_key_never_leaks(server, tmp_path, caplog, capsys):
    def echo(req):  # the memorization rubric fails with the key echoed; tone is answered
        if "Voice and tone" in req["body"]["messages"][1]["content"]:
            return completion('{"score": 5}')
        msg = f"bad request, got {req['headers'].get('Authorization')}"
        return 400, {"Content-Type": "application/json"}, json.dumps({"error": msg}).encode()

    server.then(status(500, body=f"Authorization: Bearer {SECRET}".encode()))
    server.default = echo
    caplog.set_level(logging.DEBUG)
    fam, ctx, batch, out = run_family(server, tmp_path / "cache", judge_max_retries=1)
    assert all(r["headers"]["Authorization"] == f"Bearer {SECRET}" for r in server.requests)  # it was sent
    assert out[0]["judge_failures"] == 1.0
    errors = [v for info in batch.info for v in info.values()]
    assert any("HTTP 400" in e for e in errors) and any("***" in e for e in errors)
    with pytest.raises(JudgeFailure) as exc:
        client(server).score(MESSAGES)
    captured = capsys.readouterr()
    haystacks = [
        caplog.text,
        captured.out,
        captured.err,
        json.dumps(out),
        json.dumps(batch.info),
        str(exc.value),
        repr(exc.value),
        ctx.models["judge"].model_dump_json(),
        fam.version(),
        json.dumps(fam.stats),
    ]
    haystacks += [p.read_text() for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert not any(SECRET in h for h in haystacks)


def test_blank_reply_gets_the_floor_without_a_request(server, tmp_path):
    ctx = ScoreContext(
        data=TinyData({}, [CHAR]),
        options={"judge_url": server.url, "judge_model": "judge-test", "judge_cache_dir": False},
    )
    fam = JudgeFamily()
    fam.prepare(ctx, ["personality"])
    item = {**ITEMS[0], "id": "personality/tess-ray/000", "task": "personality"}
    out = fam.score(
        ItemBatch(task="personality", items=[item], predictions=[Prediction(id=item["id"], text=" ")]), ctx
    )
    assert out == [{"judge_personality": 1.0, "judge_tone": 1.0, "judge_failures": 0.0}]
    assert server.requests == [] and fam.metric_names("dialogue")[:2] == ["judge_personality", "judge_tone"]


@pytest.mark.parametrize(
    "answer", [status(401, body=f'{{"error": "invalid key {SECRET}"}}'.encode()), status(404)]
)
def test_a_judge_that_fails_every_request_stops_the_run(server, tmp_path, answer):
    server.default = answer
    with pytest.raises(JudgeError) as exc:
        run_family(server, tmp_path / "cache", judge_max_retries=0)
    msg = str(exc.value)
    assert server.url in msg and ("HTTP 401" in msg or "HTTP 404" in msg)
    assert SECRET not in msg
