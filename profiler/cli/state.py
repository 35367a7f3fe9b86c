"""What the global options set for the whole run (``-v/--verbose``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class State:
    verbose: bool = False


state = State()
