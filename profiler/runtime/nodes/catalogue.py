"""The node catalogue: which Debian releases the tool can run its engines on, as data.

``catalogue.yaml`` beside this module lists each node (its name, Debian suite, the packages
of its container stack and any apt options mmdebstrap needs); ``host`` is this machine's
own engines and is never in the file. Entries are validated with pydantic, so a bad edit
says which entry and field is wrong.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from profiler.errors import UsageError

HOST = "host"
CATALOGUE = Path(__file__).with_name("catalogue.yaml")
# Bumped when what a build puts in the rootfs besides mmdebstrap's output changes, so
# caches built by an older tool are rebuilt.
BUILD_FORMAT = 3

_NodeName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,30}$")]
_PackageName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9+.-]+$")]


class _NodeEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: _NodeName
    suite: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*$")]
    description: str = ""
    packages: list[_PackageName] = Field(min_length=1)
    apt_options: list[str] = []
    mirror: str | None = None


class _Catalogue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    common: list[_PackageName] = []
    nodes: list[_NodeEntry] = Field(min_length=1)


@dataclass(frozen=True)
class NodeSpec:
    """One node of the catalogue: what its rootfs is built from."""

    name: str
    suite: str
    packages: tuple[str, ...]
    apt_options: tuple[str, ...] = ()
    mirror: str | None = None
    description: str = ""

    @property
    def build_key(self) -> str:
        """Short digest of everything the rootfs is made from: a change rebuilds it."""
        recipe = {
            "format": BUILD_FORMAT,
            "suite": self.suite,
            "packages": sorted(set(self.packages)),
            "apt_options": list(self.apt_options),
            "mirror": self.mirror,
        }
        text = json.dumps(recipe, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def parse_catalogue(text: str, source: str = "the node catalogue") -> tuple[NodeSpec, ...]:
    """The nodes of a catalogue's YAML text, in the file's order (newest last)."""
    try:
        raw = yaml.safe_load(text)
        parsed = _Catalogue.model_validate(raw)
    except yaml.YAMLError as exc:
        raise UsageError(f"{source} is not valid YAML: {exc}", "fix the file") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise UsageError(f"{source}: {where}: {first['msg']}", "fix the entry") from exc
    names = [entry.name for entry in parsed.nodes]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates or HOST in names:
        clash = ", ".join(duplicates) or HOST
        raise UsageError(f"{source} names node {clash} twice or reserves it", "rename the entry")
    return tuple(
        NodeSpec(
            name=entry.name,
            suite=entry.suite,
            packages=tuple(entry.packages),
            apt_options=tuple(entry.apt_options),
            mirror=entry.mirror,
            description=entry.description,
        )
        for entry in parsed.nodes
    )


@lru_cache(maxsize=1)
def catalogue() -> tuple[NodeSpec, ...]:
    return parse_catalogue(CATALOGUE.read_text(encoding="utf-8"), str(CATALOGUE.name))


def node_names() -> tuple[str, ...]:
    """``host`` and every catalogued node, oldest first."""
    return (HOST, *(spec.name for spec in catalogue()))


def newest_node() -> NodeSpec:
    return catalogue()[-1]


def node_spec(name: str) -> NodeSpec:
    for spec in catalogue():
        if spec.name == name:
            return spec
    raise UsageError(f"unknown node {name!r}", f"choose from {', '.join(node_names())}")


def parse_node_names(text: str | None) -> tuple[str, ...]:
    """``--node host,sid`` -> ("host", "sid"), each checked, duplicates dropped; ``newest``
    names the catalogue's newest node. Nothing given: the host alone."""
    names = [part.strip().lower() for part in (text or HOST).split(",") if part.strip()]
    if not names:
        raise UsageError("--node names no node", f"choose from {', '.join(node_names())}")
    resolved = []
    for name in names:
        if name == "newest":
            name = newest_node().name
        if name != HOST:
            node_spec(name)
        resolved.append(name)
    return tuple(dict.fromkeys(resolved))
