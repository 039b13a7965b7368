"""lth_utils: the helper package of The Lottery Ticket Book.

One module per idea: ``data`` (datasets in memory), ``models`` (LeNet-300-100, Conv-2/4/6),
``masks`` and ``pruning``, ``training`` (the population trainer), ``lottery`` (the experiment),
``results`` (records and cache), ``plots`` and ``widgets`` (for the chapters).
"""
from __future__ import annotations

import os

__version__ = "0.1.0"
PROFILES = ("quick", "standard", "paper")


def profile() -> str:
    """The size profile: ``$LTH_PROFILE`` ("quick" for CI, "standard" for the book, "paper")."""
    value = os.environ.get("LTH_PROFILE", "quick")
    if value not in PROFILES:
        raise ValueError(f"LTH_PROFILE must be one of {', '.join(PROFILES)}, got {value!r}")
    return value


def pick(quick, standard, paper=None):
    """The value for the current profile: sizes change with the profile, code paths never do."""
    return {"quick": quick, "standard": standard,
            "paper": standard if paper is None else paper}[profile()]
