"""`python -m rolescape.trainer sft|grpo --config FILE` = `rolescape train ...` (for `accelerate launch -m`)."""

from __future__ import annotations

import sys

from rolescape.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
