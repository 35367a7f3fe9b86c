"""Choosing the backend: an engine (Docker, Podman, containerd) with an OCI runtime, or
the local backend when no engine is reachable."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from profiler.errors import EnvironmentProblem, UsageError
from profiler.runtime.engine import check_engine_choice
from profiler.runtime.interface import Backend, ContainerEngine
from profiler.runtime.run_shape import DOCKER_RUNC, EngineChoice
from profiler.vocabulary import BackendName, Engine, Note, no_note

__all__ = [
    "EngineChoice",  # re-exported: where the engine choice has always been found
    "cleanup_everywhere",
    "make_backend",
    "make_engine",
    "parse_engine_choices",
]


def parse_engine_choices(
    runtimes: Sequence[str] | str | None,
    oci_runtimes: Sequence[str] | str | None,
    nodes: str | None = None,
) -> list[EngineChoice]:
    """Every node x engine x OCI runtime of the ``--node``, ``--runtime`` and
    ``--oci-runtime`` values, in order (no ``--oci-runtime``: each engine's own default; no
    ``--runtime``: docker on the host, podman on a node, which has no Docker). Engines and
    OCI runtimes are each a sequence (as the command line parses them) or a comma-separated
    string; nodes a comma-separated string (the node catalogue is data, not an enum)."""
    from profiler.runtime.nodes.catalogue import HOST, parse_node_names

    oci: list[str | None] = list(_items(oci_runtimes)) or [None]
    choices = []
    for node in parse_node_names(nodes):
        default = Engine.DOCKER if node == HOST else Engine.PODMAN
        engines = _items(runtimes) if runtimes is not None else [default.value]
        if not engines:
            raise UsageError("--runtime names no engine", f"choose from {Engine.names()}")
        for engine in engines:
            for runtime in oci:
                choice = EngineChoice(*check_engine_choice(engine, runtime), node=node)
                if node != HOST and choice.engine not in NODE_ENGINES:
                    raise UsageError(
                        f"the {node} node has no {choice.engine} engine",
                        f"nodes run {', '.join(NODE_ENGINES)}: pass --runtime podman",
                    )
                choices.append(choice)
    return list(dict.fromkeys(choices))


def _items(values: Sequence[str] | str | None) -> list[str]:
    if values is None:
        return []
    parts = values.split(",") if isinstance(values, str) else [str(v) for v in values]
    return [p.strip() for p in parts if p.strip()]


# The engines the tool runs on a node: its Podman, and its containerd through the CRI.
NODE_ENGINES = ("podman", "containerd")
# What a node's engine runs when a profile is verified there: both OCI runtimes clusters
# run, since each needs calls of its own after the filter.
NODE_VERIFY_RUNTIMES = ("runc", "crun")


def verification_choices(
    recorded: Sequence[EngineChoice], verify_nodes: str | None = None
) -> list[EngineChoice]:
    """Where ``record`` verifies: the engines it recorded on, and on every verification
    node (``--verify-node``; by default the recording nodes and the catalogue's newest)
    the node's Podman with runc and with crun; a host not recorded on verifies on Docker."""
    from profiler.runtime.nodes.catalogue import HOST, newest_node, parse_node_names

    if verify_nodes is None:
        nodes = [*dict.fromkeys([*(c.node for c in recorded), newest_node().name])]
    else:
        nodes = list(parse_node_names(verify_nodes))
    choices = [c for c in recorded if c.node in nodes]
    for node in nodes:
        if node == HOST:
            if not any(c.node == HOST for c in choices):
                choices.append(DOCKER_RUNC)
            continue
        engine = next((c.engine for c in recorded if c.node == node), NODE_ENGINES[0])
        choices += [EngineChoice(engine, runtime, node) for runtime in NODE_VERIFY_RUNTIMES]
    return list(dict.fromkeys(choices))


def make_engine(choice: EngineChoice, note: Note = no_note) -> ContainerEngine:
    """The engine of ``choice``; a node's is started (and built) first when needed, and
    ``note`` hears about that."""
    if choice.node != "host":
        from profiler.runtime.nodes.live import start_node

        node = start_node(choice.node, note)
        if choice.engine == "containerd":
            from profiler.runtime.containerd import ContainerdBackend

            return ContainerdBackend(oci_runtime=choice.oci_runtime, node=node.cri_node())
        from profiler.runtime.podman import PodmanBackend

        location = node.location(choice.engine, choice.oci_runtime)
        return PodmanBackend(oci_runtime=choice.oci_runtime, location=location)
    if choice.engine == "podman":
        from profiler.runtime.podman import PodmanBackend

        return PodmanBackend(oci_runtime=choice.oci_runtime)
    if choice.engine == "containerd":
        from profiler.runtime.containerd import ContainerdBackend

        return ContainerdBackend(oci_runtime=choice.oci_runtime)
    from profiler.runtime.docker import DockerBackend

    return DockerBackend(oci_runtime=choice.oci_runtime)


def make_backend(
    choice: BackendName | str,
    note: Callable[[str], None],
    *,
    runtime_default: Path | None = None,
    engine: EngineChoice | None = None,
) -> Backend:
    """The backend for ``--backend`` (and ``--runtime``); ``auto`` says which it picked
    and why.

    ``runtime_default`` is the reference profile the local backend enforces for
    runtime-default (an engine's comes from the engine itself). ``engine`` other than
    Docker with runc makes the backend that engine's, whatever ``--backend`` says but local.
    """
    from profiler.runtime.local import LocalBackend

    try:
        chosen = BackendName(str(choice).lower())
    except ValueError:
        raise UsageError(f"unknown backend {choice!r}", f"choose {BackendName.names()}") from None
    engine = engine or DOCKER_RUNC
    if chosen is BackendName.LOCAL:
        if engine != DOCKER_RUNC:
            raise UsageError(
                "--backend local runs no engine", "drop --runtime/--oci-runtime, or --backend"
            )
        return LocalBackend(runtime_default=runtime_default, note=note)
    if chosen is BackendName.DOCKER or engine != DOCKER_RUNC:
        return make_engine(engine, note)
    from profiler.runtime.docker import DockerBackend
    from profiler.runtime.engine import connect

    try:
        client = connect()
    except EnvironmentProblem as exc:
        note(
            f"backend: local (host processes under the same seccomp profiles), because "
            f"{exc.message}"
        )
        return LocalBackend(runtime_default=runtime_default, note=note)
    note("backend: docker (an engine is reachable)")
    return DockerBackend(client)


def cleanup_everywhere() -> dict[str, int | str]:
    """Remove what the tool left on every engine that answers here: engine -> how many
    were removed, or why the engine was skipped. Podman's API service is not started for
    this (its containers share one store, so any running service sees them all)."""
    from profiler.runtime.cri.node import default_socket
    from profiler.runtime.engine import PODMAN_SOCKET_DIR

    choices = [DOCKER_RUNC]
    services = sorted(PODMAN_SOCKET_DIR.glob("spark-seccomp-*.sock"))
    if services:
        runtime = services[0].name.removeprefix("spark-seccomp-").removesuffix(".sock")
        choices.append(EngineChoice("podman", runtime))
    if default_socket().exists():
        # The tool's containerd runs (so the backend does not start it just to clean up).
        choices.append(EngineChoice("containerd", "runc"))
    choices += _running_node_engines()
    removed: dict[str, int | str] = {}
    for choice in choices:
        name = choice.engine if choice.node == "host" else f"{choice.engine}@{choice.node}"
        try:
            removed[name] = make_engine(choice).cleanup()
        except EnvironmentProblem as exc:
            removed[name] = exc.message
    return removed


def _running_node_engines() -> list[EngineChoice]:
    """A Podman of each running node whose API service is up (nodes are not started for
    a cleanup: a node that is not running has nothing running in it)."""
    from profiler.runtime.nodes.live import node_statuses

    choices = []
    for status in node_statuses():
        if not status.running or status.build is None:
            continue
        services = sorted((status.build.state / "run").glob("podman-*.sock"))
        if services:
            runtime = services[0].name.removeprefix("podman-").removesuffix(".sock")
            choices.append(EngineChoice("podman", runtime, status.spec.name))
    return choices
