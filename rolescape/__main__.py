"""`python -m rolescape ...` (also what `accelerate launch -m rolescape` and `torchrun -m rolescape` run)."""

from __future__ import annotations

import sys

from rolescape.cli import main

if __name__ == "__main__":
    sys.exit(main())
