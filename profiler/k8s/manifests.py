"""Reading and rendering multi-document YAML manifests.

Reading keeps what a linter needs besides the data: the node tree (for line numbers), the
keys written twice in one mapping (kubectl rejects those; PyYAML silently keeps the last),
and, when the stream breaks, the documents before the break plus where it broke. Nothing
here raises on bad content: callers decide whether a problem is a finding or an error.

Rendering gives stable bytes: the builder's key order, block style, literal blocks for
multi-line strings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from profiler.errors import UsageError

Manifest = dict[str, Any]
YamlPath = tuple[str | int, ...]


class _Dumper(yaml.SafeDumper):
    """Block style everywhere; multi-line strings (profiles, scripts) as literal blocks."""


def _str_representer(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_representer)


def render(documents: Iterable[Manifest]) -> str:
    """Documents joined with ``---``: same input, same bytes (key order is the builder's)."""
    parts = [
        yaml.dump(doc, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100)
        for doc in documents
    ]
    return "---\n" + "---\n".join(parts)


class _Loader(yaml.SafeLoader):
    """SafeLoader, except that unquoted dates stay strings, as kubectl reads them: a label
    value ``2024-01-01`` is the string it looks like, not a ``datetime.date``."""


def _timestamp_as_string(loader: _Loader, node: yaml.Node) -> Any:
    assert isinstance(node, yaml.ScalarNode)
    return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_string)


def render_path(path: YamlPath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


@dataclass(frozen=True)
class YamlProblem:
    """Where and why a YAML stream could not be read any further."""

    problem: str
    line: int | None = None
    column: int | None = None

    def describe(self) -> str:
        where = f" at line {self.line}, column {self.column}" if self.line is not None else ""
        return f"invalid YAML{where}: {self.problem}"


@dataclass(frozen=True)
class DuplicateKey:
    path: YamlPath  # the mapping's path plus the repeated key
    line: int  # the repeated occurrence
    first_line: int


@dataclass(frozen=True)
class YamlDocument:
    index: int  # 1-based position in the stream, empty documents counted
    data: Any
    node: yaml.Node
    duplicates: tuple[DuplicateKey, ...] = ()


@dataclass(frozen=True)
class YamlStream:
    """The non-empty documents read before any problem, and the problem if there was one."""

    documents: tuple[YamlDocument, ...]
    problem: YamlProblem | None = None


def parse_yaml(text: str) -> YamlStream:
    """Every readable document of ``text``; never raises on bad YAML."""
    documents: list[YamlDocument] = []
    index = 0
    try:
        loader = _Loader(text)
        try:
            while loader.check_node():
                node = loader.get_node()
                index += 1
                if node is None:
                    continue
                data = loader.construct_document(node)
                if data is None:
                    continue
                documents.append(YamlDocument(index, data, node, tuple(duplicate_keys(node))))
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        return YamlStream(tuple(documents), _problem_of(exc))
    except RecursionError:
        return YamlStream(
            tuple(documents), YamlProblem(f"document {index + 1} is nested too deeply to read")
        )
    return YamlStream(tuple(documents))


def _problem_of(exc: yaml.YAMLError) -> YamlProblem:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is None:
        return YamlProblem(str(problem))
    return YamlProblem(str(problem), mark.line + 1, mark.column + 1)


def duplicate_keys(root: yaml.Node) -> list[DuplicateKey]:
    """Keys written twice in one mapping, anywhere under ``root`` (merge keys excepted)."""
    found: list[DuplicateKey] = []
    seen_nodes: set[int] = set()  # aliases share nodes: visit each once
    stack: list[tuple[yaml.Node, YamlPath]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for key, value in node.value:
                name = key.value if isinstance(key, yaml.ScalarNode) else None
                if isinstance(name, str) and name != "<<":
                    if name in first:
                        found.append(
                            DuplicateKey(path + (name,), key.start_mark.line + 1, first[name])
                        )
                    else:
                        first[name] = key.start_mark.line + 1
                    stack.append((value, path + (name,)))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((child, path + (i,)) for i, child in enumerate(node.value))
    return sorted(found, key=lambda d: d.line)


def line_of(node: yaml.Node | None, path: YamlPath) -> int | None:
    """The line of the deepest node of ``path`` that exists in the document."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in path:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for key, value in node.value:
                if getattr(key, "value", None) == part:
                    child, line = value, key.start_mark.line + 1
                    break
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(node.value)
        ):
            child = node.value[part]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line


@dataclass(frozen=True)
class ManifestPlace:
    """Names a place in the input for error messages: file:line: path."""

    source: str
    document: YamlDocument | None
    prefix: YamlPath

    def at(self, path: YamlPath) -> str:
        full = self.prefix + tuple(path)
        line = line_of(self.document.node, full) if self.document is not None else None
        place = f"{self.source}:{line}" if line is not None else self.source
        return f"{place}: {render_path(full)}" if full else place


def read_text(path: Path) -> str:
    path = Path(path)
    if not path.is_file():
        what = (
            "does not exist"
            if not path.exists()
            else "is a directory, not a file"
            if path.is_dir()
            else "is not a regular file"
        )
        raise UsageError(f"{path} {what}", "pass a path to a YAML manifest")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{path} is not UTF-8 text (byte {exc.start})", "save the manifest as UTF-8"
        ) from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None


def load_documents(path: Path) -> list[YamlDocument]:
    """Every document of a YAML file; bad YAML is a usage error naming file and line."""
    stream = parse_yaml(read_text(path))
    if stream.problem is not None:
        raise UsageError(f"{path}: {stream.problem.describe()}", "fix the YAML and run again")
    return list(stream.documents)
