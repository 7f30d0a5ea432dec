#!/usr/bin/env bash
# Install everything and run the whole test suite. ROLESCAPE_RAW points the integration tests at a
# copy of the release (they are skipped without it, except in CI).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The HTML leaderboard test renders the page in headless Chromium (Debian's package).
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "warning: could not install chromium; the HTML rendering test will say so"
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
# Static checks first: lint and format of everything, types of the package (it ships py.typed).
.venv/bin/ruff check rolescape tests bench scripts
.venv/bin/ruff format --check rolescape tests bench scripts
.venv/bin/python -m mypy
exec .venv/bin/python -m pytest -q "$@"
