"""Debian's chromium as the browser tests and bench/ui.py launch it (never a downloaded one)."""

from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
"""The network is closed here: without these, chromium keeps trying to reach it."""
