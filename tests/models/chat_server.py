"""A small local OpenAI-compatible chat-completions server for the `openai` adapter's tests.

Replies are a deterministic function of the request (so reruns, resumes and shards can be compared
byte for byte); `mode` switches it to a failure: 401, 404, 500, a slow reply, a body that is not a
chat completion, or an error body that echoes the Authorization header.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def reply_for(body: dict[str, Any]) -> str:
    msgs = body.get("messages", [])
    last = msgs[-1]["content"] if msgs else ""
    if isinstance(last, list):  # vision parts
        last = " ".join(p.get("text", "") for p in last if isinstance(p, dict))
    h = hashlib.sha256(f"{last}|{body.get('seed')}|{body.get('max_tokens')}".encode()).hexdigest()
    letter = "ABCD"[int(h[0], 16) % 4]
    if body.get("response_format"):
        return json.dumps({"answer": letter})
    if "Answer with the letter" in last:
        return f"The answer is {letter}."
    return f"In character, {h[:12]}: I remember the harbour lights."


class ChatServer:
    def __init__(self) -> None:
        self.mode = "ok"
        self.delay = 0.0
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def _send(self, code: int, payload: bytes, ctype: str = "application/json") -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:  # noqa: N802
                self._send(200, json.dumps({"data": [{"id": "fake"}]}).encode())

            def do_POST(self) -> None:  # noqa: N802
                n = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(n) or b"{}")
                auth = self.headers.get("Authorization", "")
                with server._lock:
                    server.requests.append({"path": self.path, "body": body, "auth": auth})
                mode = server.mode
                if server.delay:
                    time.sleep(server.delay)
                if mode == "401":
                    return self._send(401, json.dumps({"error": f"invalid api key {auth}"}).encode())
                if mode == "404":
                    return self._send(404, json.dumps({"error": f"model not found ({auth[7:]})"}).encode())
                if mode == "500":
                    return self._send(500, b'{"error": "boom"}')
                if mode == "html":
                    return self._send(200, b"<html>gateway</html>", "text/html")
                if mode == "echo-key":
                    text = f"your key is {auth[7:]}, keep it safe"
                else:
                    text = reply_for(body)
                data = {
                    "id": "chatcmpl-1",
                    "object": "chat.completion",
                    "model": body.get("model"),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 10, "completion_tokens": len(text.split()), "total_tokens": 0},
                }
                self._send(200, json.dumps(data).encode())

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
