"""rolescape: audited data, reproducible metrics and leaderboards for Customized Multimodal Role-Play.

Importing this package is cheap: no torch, no datasets. Heavy modules load on first use.
"""

from __future__ import annotations

__version__ = "0.1.0"
PROTOCOL_VERSION = "2"

__all__ = ["__version__", "PROTOCOL_VERSION"]
