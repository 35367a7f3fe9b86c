"""Bringing a CRI node up: its containerd, pod network, sandbox image and cluster DNS.

``NodeDaemons(node).ensure()`` leaves the node ready for pods, doing only what is missing:
it writes containerd's ``config.toml`` and the CNI network list, creates the pod bridge with
the gateway address (so the cluster DNS can listen there before the first pod exists),
starts containerd with that config (restarting it when the config it runs is not the one
wanted; containerd's shims keep running pods alive across a restart), imports the sandbox
image into the CRI's namespace, starts dnsmasq, and asks the CRI whether the runtime and
its network are ready. Like ``dockerd`` and Podman's service, the daemons outlive the
process that started them; ``stop()`` ends them. A lock file keeps two tool processes from
starting them at once.

``ctr`` is used for the one thing the CRI cannot do: loading an image without a registry
(``ctr images import`` into ``k8s.io``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from profiler import proc
from profiler.errors import EnvironmentProblem
from profiler.runtime.cluster_dns import ClusterDns
from profiler.runtime.cri.client import CriClient, CriUnavailable
from profiler.runtime.cri.node import (
    CRI_NAMESPACE,
    CriNode,
    forward_rules,
    render_cni_conflist,
    render_containerd_config,
)
from profiler.runtime.cri.pause import pause_binary, pause_image

CONFIG_RUNNING = "config.running.toml"
PID_FILE = "containerd.pid"
LOG_FILE = "containerd.log"
LOCK_FILE = "lock"
CNI_FILE = "10-spark-seccomp.conflist"
START_SECONDS = 60.0
_CAP_SYS_RESOURCE = 24


def can_lower_oom_score() -> bool:
    """Whether this process holds CAP_SYS_RESOURCE, which lowering oom_score_adj needs
    (some machines take it even from root)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> _CAP_SYS_RESOURCE & 1)
    return False


def with_sandbox_image(node: CriNode) -> tuple[CriNode, bytes]:
    """The node with its sandbox image named (built here from ``pause.c``), and the image
    archive to import."""
    image = pause_image(pause_binary().read_bytes())
    return (
        replace(
            node,
            sandbox_image=image.reference,
            restrict_oom_score_adj=node.restrict_oom_score_adj or not can_lower_oom_score(),
        ),
        image.archive,
    )


class NodeDaemons:
    """The long-lived processes of one CRI node."""

    def __init__(self, node: CriNode) -> None:
        self.node = node
        self.run_dir = Path(node.host_path(node.run_dir))
        self.dns = ClusterDns(
            Path(node.host_path(node.dns_dir)),
            node.dns_server,
            command_prefix=node.netns_prefix,
            dnsmasq_binary=node.dnsmasq_binary,
        )

    # -- the whole node ---------------------------------------------------------------
    def ensure(self, pause_archive: bytes) -> None:
        if os.geteuid() != 0:
            raise EnvironmentProblem(
                "containerd's CRI, its pod network and the cluster DNS need root",
                "run as root, or choose --runtime docker",
            )
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with self._locked():
            self._write_files()
            self._ensure_bridge()
            self._ensure_forwarding()
            self._ensure_containerd()
            self._ensure_sandbox_image(pause_archive)
            self.dns.ensure()
            self._require_ready()

    def stop(self) -> None:
        """Stop dnsmasq and containerd (pods still running keep their shims)."""
        self.dns.stop()
        pid = self._containerd_pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            _wait_gone(pid, 20.0)

    # -- ctr, for the one thing the CRI cannot do -------------------------------------
    def import_image(self, archive: bytes) -> None:
        done = subprocess.run(self.import_argv(), input=archive, capture_output=True, timeout=300)
        if done.returncode != 0:
            said = (done.stderr.decode(errors="replace").strip().splitlines() or ["?"])[-1]
            raise EnvironmentProblem(f"ctr could not import an image into containerd: {said}")

    def import_argv(self) -> list[str]:
        """``ctr images import -`` for images streamed from ``docker save``."""
        node = self.node
        return [
            *node.command_prefix,
            node.ctr_binary,
            "--address",
            str(node.socket),
            "--namespace",
            CRI_NAMESPACE,
            "images",
            "import",
            "-",
        ]

    # -- the parts ----------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.run_dir / LOCK_FILE, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _write_files(self) -> None:
        node = self.node
        for directory in (node.cni_conf_dir, node.ipam_dir, node.pods_dir, node.dns_dir):
            Path(node.host_path(directory)).mkdir(parents=True, exist_ok=True)
        pods = Path(node.host_path(node.pods_dir))
        pods.chmod(0o755)
        seccomp = Path(node.host_path(node.kubelet_root)) / "seccomp"
        seccomp.mkdir(parents=True, exist_ok=True)
        _write_if_changed(Path(node.host_path(node.config_file)), render_containerd_config(node))
        _write_if_changed(
            Path(node.host_path(node.cni_conf_dir)) / CNI_FILE, render_cni_conflist(node)
        )

    def _ensure_bridge(self) -> None:
        """The pods' bridge with the gateway address on it, before any pod exists, so the
        cluster DNS can listen there (the bridge plugin keeps an existing bridge)."""
        node = self.node
        ip = [*node.netns_prefix, "ip"]
        shown = subprocess.run([*ip, "link", "show", node.bridge], capture_output=True)
        if shown.returncode != 0:
            proc.run([*ip, "link", "add", node.bridge, "type", "bridge"])
        prefix = node.subnet.split("/")[1]
        addresses = subprocess.run(
            [*ip, "-o", "addr", "show", "dev", node.bridge], capture_output=True, text=True
        ).stdout
        if f" {node.gateway}/{prefix} " not in addresses:
            proc.run([*ip, "addr", "add", f"{node.gateway}/{prefix}", "dev", node.bridge])
        proc.run([*ip, "link", "set", node.bridge, "up"])

    def _ensure_forwarding(self) -> None:
        """Our own chain, first in FORWARD, holding ``forward_rules`` (rewritten whole, so
        a change of ``egress`` takes effect)."""
        node = self.node
        iptables = [*node.netns_prefix, "iptables", "-w", "-t", "filter"]
        chain = node.forward_chain
        if subprocess.run([*iptables, "-L", chain, "-n"], capture_output=True).returncode != 0:
            proc.run([*iptables, "-N", chain])
        proc.run([*iptables, "-F", chain])
        for rule in forward_rules(node):
            proc.run([*iptables, "-A", chain, *rule])
        jump = ["FORWARD", "-j", chain]
        if subprocess.run([*iptables, "-C", *jump], capture_output=True).returncode != 0:
            proc.run([*iptables, "-I", *jump[:1], "1", *jump[1:]])

    def _containerd_pid(self) -> int | None:
        with contextlib.suppress(OSError, ValueError):
            pid = int((self.run_dir / PID_FILE).read_text().strip())
            if Path(f"/proc/{pid}").exists():
                return pid
        return None

    def _answers(self) -> bool:
        client = CriClient(str(self.node.host_path(self.node.socket)))
        try:
            client.version()
            return True
        except CriUnavailable:
            return False
        finally:
            client.close()

    def _ensure_containerd(self) -> None:
        node = self.node
        wanted = render_containerd_config(node)
        running = self.run_dir / CONFIG_RUNNING
        current = running.read_text() if running.exists() else None
        pid = self._containerd_pid()
        if pid is not None and current == wanted and self._answers():
            return
        if pid is not None:
            # Another config, or it stopped answering: restart it. Running pods keep their
            # shims, and the new containerd finds them again.
            os.kill(pid, signal.SIGTERM)
            _wait_gone(pid, 30.0)
        running.write_text(wanted)
        log = open(self.run_dir / LOG_FILE, "ab")  # noqa: SIM115 - the child keeps it
        with log:
            started = subprocess.Popen(
                [*node.command_prefix, node.containerd_binary, "--config", str(node.config_file)],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # it outlives this process, as dockerd does
            )
        (self.run_dir / PID_FILE).write_text(f"{started.pid}\n")
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if started.poll() is not None:
                break
            if self._answers():
                return
            time.sleep(0.2)
        raise EnvironmentProblem(
            f"containerd for the CRI did not start: {_last_line(self.run_dir / LOG_FILE)}",
            f"see {self.run_dir / LOG_FILE}",
        )

    def _ensure_sandbox_image(self, archive: bytes) -> None:
        client = CriClient(str(self.node.host_path(self.node.socket)))
        try:
            if client.image(self.node.sandbox_image) is None:
                self.import_image(archive)
        finally:
            client.close()

    def _require_ready(self) -> None:
        client = CriClient(str(self.node.host_path(self.node.socket)))
        try:
            deadline = time.monotonic() + 20.0
            while True:
                conditions = client.conditions()
                missing = {
                    name: message
                    for name, (ready, message) in conditions.items()
                    if name in ("RuntimeReady", "NetworkReady") and not ready
                }
                if not missing:
                    return
                if time.monotonic() > deadline:
                    said = "; ".join(f"{k}: {v}" for k, v in sorted(missing.items()))
                    raise EnvironmentProblem(
                        f"containerd's CRI is not ready: {said}",
                        f"see {self.run_dir / LOG_FILE}",
                    )
                time.sleep(0.5)
        finally:
            client.close()


def _write_if_changed(path: Path, text: str) -> None:
    if path.exists() and path.read_text() == text:
        return
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    partial.replace(path)


def _wait_gone(pid: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.1)


def _last_line(path: Path) -> str:
    with contextlib.suppress(OSError):
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
        if lines:
            return lines[-1][-300:]
    return "no log"
