"""What a report is, independent of how it is rendered: titled sections of blocks.

``sections`` builds a ``Report`` from a run directory's inputs; ``markdown`` and ``html``
render it. Each section also carries its numbers as plain data for ``report.json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    align_right: tuple[int, ...] = ()  # columns holding numbers


@dataclass(frozen=True)
class Plot:
    name: str  # a short slug, also the PNG's name if written out
    alt: str  # what the figure shows, for readers without images
    png: bytes


Block = Paragraph | Bullets | Table | Plot


@dataclass(frozen=True)
class Section:
    key: str  # stable identifier: "compatibility", "overhead", ...
    title: str
    blocks: tuple[Block, ...]
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def plots(self) -> tuple[Plot, ...]:
        return tuple(b for b in self.blocks if isinstance(b, Plot))


@dataclass(frozen=True)
class Report:
    title: str
    sources: tuple[str, ...]
    sections: tuple[Section, ...]

    def section(self, key: str) -> Section | None:
        return next((s for s in self.sections if s.key == key), None)
