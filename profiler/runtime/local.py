"""The local backend: a workload as a host process tree, under the kernel's seccomp, no engine.

For machines without a Docker engine (a CI runner, a laptop, a pod built from the user's
Spark image). The job runs with the host's Java and pyspark (this interpreter's), through
``profiler.runtime.launcher``, which switches user, drops capabilities, sets
no_new_privs and loads the very same OCI profile file through libseccomp right before it
execs ``spark-submit``. What a container would add and a host process cannot have without
namespaces is said in every ``RunResult.notes``: the root filesystem stays writable and
the network is the host's.

Each run gets its own directory under the system temp dir, owned by the run user: HOME,
TMPDIR, SPARK_LOCAL_DIRS and a SPARK_HOME link farm (links into the pyspark package and a
writable ``work`` for local-cluster workers), as the image's Dockerfile builds it.

CPU time is the launcher's ``wait4`` rusage: the launcher and every descendant that was
waited for by its parent (the JVM and Python workers are); a process re-parented to init
is not counted.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import sysconfig
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from profiler import proc
from profiler.errors import CommandFailed, EnvironmentProblem, UsageError
from profiler.runtime.cleanup import register_cleanup
from profiler.runtime.interface import (
    Backend,
    ContainerRef,
    ContainerSecurity,
    Role,
    RunObserver,
    RunResult,
    RunSpec,
    SecurityMode,
    Topology,
)
from profiler.runtime.launcher import LauncherError, build_filter, launcher_argv
from profiler.runtime.pod import LOCAL_MASTER
from profiler.runtime.run_dir import write_run_dir
from profiler.seccomp.arch import known_syscalls, native_arch, oci_architectures
from profiler.seccomp.profile import (
    ArgCondition,
    Profile,
    SyscallRule,
    profile_from_dict,
)
from profiler.vocabulary import Note, no_note
from profiler.workloads import Workload, parse_result_line

SCOPE_PROCESS_TREE = "process-tree"
KILL_GRACE = 5.0
_SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_PROBE = "import pyspark, sys; open(sys.argv[1], 'rb').close()"
_EPERM, _ENOSYS = 1, 38
# clone's namespace flags (NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET), which
# Docker's default.json refuses without CAP_SYS_ADMIN.
_CLONE_NAMESPACE_FLAGS = 0x7E020000
_DOCKER_PERSONALITIES = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)


# -- RuntimeDefault without an engine ------------------------------------------------------
@dataclass(frozen=True)
class RuntimeDefaultProfile:
    profile: Profile
    label: str  # which file, and what it describes, for the output


def profile_from_reference(allowed: frozenset[str], arch: str) -> Profile:
    """An enforcing profile from a probed RuntimeDefault reference (the names it allows).

    Denied calls get EPERM, Docker's default. Docker's default.json allows a few calls
    only with argument checks, which a probe calling with invalid arguments cannot see as
    allowed; they get Docker's own rules (for a container without CAP_SYS_ADMIN): clone
    without namespace flags, clone3 failing with ENOSYS so glibc falls back to clone,
    personality with the usual personas.
    """
    native = known_syscalls(arch)
    rules = [SyscallRule(tuple(sorted(allowed & native)), "SCMP_ACT_ALLOW")]
    if "clone" not in allowed:
        condition = ArgCondition(0, _CLONE_NAMESPACE_FLAGS, "SCMP_CMP_MASKED_EQ", 0)
        rules.append(SyscallRule(("clone",), "SCMP_ACT_ALLOW", args=(condition,)))
    if "clone3" not in allowed and "clone3" in native:
        rules.append(SyscallRule(("clone3",), "SCMP_ACT_ERRNO", errno_ret=_ENOSYS))
    if "personality" not in allowed:
        for persona in _DOCKER_PERSONALITIES:
            condition = ArgCondition(0, persona, "SCMP_CMP_EQ", 0)
            rules.append(SyscallRule(("personality",), "SCMP_ACT_ALLOW", args=(condition,)))
    return Profile(
        "SCMP_ACT_ERRNO",
        tuple(rules),
        default_errno_ret=_EPERM,
        architectures=oci_architectures(arch),
    )


def load_runtime_default(path: Path | None, security: ContainerSecurity) -> RuntimeDefaultProfile:
    """RuntimeDefault for the local backend: the user's file, or the measured reference.

    A file may be a reference (``{"name", "source", "arch", "allowed"}``, as
    ``profiler.runtime.probe`` writes), Docker's default.json (its capability conditions
    resolved for this run's capabilities), or a plain OCI profile, enforced as it is.
    """
    from profiler.seccomp.runtime_default import (
        DOCKER_DEFAULT_CAPABILITIES,
        bundled_reference_file,
        is_probed_reference,
    )
    from profiler.seccomp.runtime_default import load_runtime_default as load_reference

    given = path is not None
    if path is None:
        path = bundled_reference_file()
        if path is None:
            raise EnvironmentProblem(
                "runtime-default has no reference profile for the local backend",
                "pass --runtime-default FILE (Docker's default.json or a probed reference)",
            )
    origin = "given with --runtime-default" if given else "measured earlier, kept in profiles/"
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read RuntimeDefault file {path}: {exc}") from exc
    arch = native_arch()
    docker_format = isinstance(data, dict) and any(
        k in data for k in ("archMap", "includes", "excludes")
    )
    if not (is_probed_reference(data) or docker_format):
        profile = profile_from_dict(data, str(path))
        return RuntimeDefaultProfile(profile, f"runtime-default = {path} (OCI profile; {origin})")
    caps = () if "ALL" in security.cap_drop else DOCKER_DEFAULT_CAPABILITIES
    reference = load_reference(Path(path), arch=arch, capabilities=caps)
    name = reference.name if docker_format else data.get("name", path.name)
    profile = profile_from_reference(reference.allowed, arch)
    return RuntimeDefaultProfile(profile, f"runtime-default = {path} ({name}; {origin})")


# -- the run's files -----------------------------------------------------------------------
def pyspark_dir() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("pyspark")
    if spec is None or spec.origin is None:
        raise EnvironmentProblem(
            "pyspark is not installed in this environment",
            "install it next to spark-seccomp (pip install pyspark)",
        )
    return Path(spec.origin).parent


def spark_home_farm(package: Path, target: Path) -> Path:
    """A SPARK_HOME of links into the pyspark package plus a real, writable ``work``."""
    target.mkdir(parents=True, exist_ok=True)
    for entry in sorted(package.iterdir()):
        if entry.name in ("work", "__pycache__"):
            continue
        (target / entry.name).symlink_to(entry)
    (target / "work").mkdir()
    return target


@dataclass(frozen=True)
class Identity:
    """Who the job runs as, and with which Python (uid 185 may not reach this venv)."""

    uid: int | None
    gid: int | None
    python: str
    pythonpath: str | None
    notes: tuple[str, ...] = ()


def run_env(
    *,
    python: str,
    home: Path,
    tmp: Path,
    spark_home: Path,
    pythonpath: str | None,
    user_name: str = "spark",
    extra: Sequence[tuple[str, str]] = (),
    inherit: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The job's environment: the image's variables, with the host's Java (pure)."""
    inherit = os.environ if inherit is None else inherit
    env = {
        "PATH": f"{Path(python).parent}:{_SYSTEM_PATH}",
        "HOME": str(home),
        "TMPDIR": str(tmp),
        "SPARK_HOME": str(spark_home),
        "SPARK_LOCAL_DIRS": str(tmp),
        "PYSPARK_PYTHON": python,
        "PYSPARK_DRIVER_PYTHON": python,
        # Without a container the host's name may not resolve the way Spark expects.
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_LOCAL_HOSTNAME": "localhost",
        "LANG": inherit.get("LANG", "C.UTF-8"),
        # uid 185 usually has no passwd entry on a host: the JVM then takes "?" for
        # user.home (Ivy refuses it) and Hadoop finds no user name.
        "SPARK_SUBMIT_OPTS": f"-Duser.home={home}",
        "HADOOP_USER_NAME": user_name,
        "SPARK_USER": user_name,
    }
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    if inherit.get("JAVA_HOME"):
        env["JAVA_HOME"] = inherit["JAVA_HOME"]
    env.update(dict(extra))
    return env


def _submit_program(spark_home: Path) -> list[str]:
    # The local topology's master, which the Docker backend passes in spark.properties.
    return [str(spark_home / "bin" / "spark-submit"), "--master", LOCAL_MASTER]


# -- the backend ---------------------------------------------------------------------------
class LocalBackend(Backend):
    name = "local"

    def topology_for(self, requested: Topology, note: Callable[[str], None]) -> Topology:
        if requested is Topology.POD:
            note(
                "topology: local, because the local backend has no containers or networks "
                "for a pod topology"
            )
        return Topology.LOCAL

    def __init__(self, runtime_default: Path | None = None, note: Note | None = None) -> None:
        self.runtime_default = runtime_default
        self.note = note or no_note
        self._identities: dict[tuple[int | None, int | None, str], Identity] = {}
        self._live_groups: set[int] = set()
        self._live_dirs: set[Path] = set()
        register_cleanup(self.name, "process group", self.cleanup)

    # -- what a run needs ----------------------------------------------------------------
    def profile_for(self, spec: RunSpec) -> tuple[Profile | None, str | None]:
        """The profile enforced for a spec and a label saying where it came from."""
        if spec.mode is SecurityMode.UNCONFINED:
            if spec.profile_json is not None:
                raise ValueError("a profile is only used in localhost mode")
            return None, "unconfined (no filter)"
        if spec.mode is SecurityMode.LOCALHOST:
            if spec.profile_json is None:
                raise ValueError("localhost mode needs a profile")
            profile = profile_from_dict(
                json.loads(spec.profile_json), spec.profile_label or "profile"
            )
            return profile, f"localhost = {spec.profile_label or 'profile'}"
        resolved = load_runtime_default(self.runtime_default, spec.container_security)
        return resolved.profile, resolved.label

    def identity(self, security: ContainerSecurity, workload: Workload) -> Identity:
        """The user to run as, and a Python that user can run with pyspark importable."""
        key = (security.user, security.group, str(workload.path))
        if key not in self._identities:
            self._identities[key] = self._find_identity(security, workload)
        return self._identities[key]

    def _find_identity(self, security: ContainerSecurity, workload: Workload) -> Identity:
        me = os.getuid()
        uid = security.user
        gid = security.group if security.group is not None else uid
        if uid is None or uid == me:
            return Identity(None, None, sys.executable, None)
        if os.geteuid() != 0:
            return Identity(
                None,
                None,
                sys.executable,
                None,
                (f"runs as uid {me}, not {uid}: switching user needs root",),
            )
        candidates: list[tuple[str, str | None]] = [(sys.executable, None)]
        system = shutil.which(
            f"python{sys.version_info[0]}.{sys.version_info[1]}", path=_SYSTEM_PATH
        )
        if system and os.path.realpath(system) != os.path.realpath(sys.executable):
            paths = dict.fromkeys(
                [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
            )
            candidates.append((system, os.pathsep.join(paths)))
        for python, pythonpath in candidates:
            if self._usable_by(uid, gid, python, pythonpath, workload.path):
                notes: tuple[str, ...] = ()
                if pythonpath:
                    notes = (
                        f"uid {uid} cannot run {sys.executable}; the job uses {python} with "
                        f"this environment's packages ({pythonpath})",
                    )
                return Identity(uid, gid, python, pythonpath, notes)
        return Identity(
            None,
            None,
            sys.executable,
            None,
            (
                f"runs as uid {me}, not {uid}: uid {uid} cannot run {sys.executable} with "
                f"pyspark or read {workload.path} (e.g. a checkout under /root); capabilities "
                "are still dropped",
            ),
        )

    def _usable_by(
        self, uid: int, gid: int | None, python: str, pythonpath: str | None, script: Path
    ) -> bool:
        env = {"PATH": _SYSTEM_PATH, "HOME": "/"}
        if pythonpath:
            env["PYTHONPATH"] = pythonpath
        argv = launcher_argv(
            [python, "-c", _PROBE, str(script)],
            uid=uid,
            gid=gid,
            drop_caps=("ALL",),
            no_new_privs=True,
            cwd=Path("/"),
        )
        try:
            proc.run(argv, env=env, timeout=120)
        except CommandFailed:
            return False
        return True

    # -- running -------------------------------------------------------------------------
    def run(
        self, spec: RunSpec, run_dir: Path | None = None, observer: RunObserver | None = None
    ) -> RunResult:
        observer = observer or RunObserver()
        security = spec.container_security
        profile, label = self.profile_for(spec)
        notes: list[str] = [f"backend: local; seccomp: {label}"]
        if profile is not None:
            try:
                built = build_filter(profile, no_new_privs=security.no_new_privileges)
            except LauncherError as exc:
                raise UsageError(f"the profile cannot be enforced: {exc}") from exc
            notes += built.notes
        notes += self._limits(spec, security)
        identity = self.identity(security, spec.workload)
        notes += identity.notes
        work = Path(tempfile.mkdtemp(prefix="spark-seccomp-local-"))
        self._live_dirs.add(work)
        try:
            return self._run_in(work, spec, run_dir, observer, profile, identity, notes)
        finally:
            shutil.rmtree(work, ignore_errors=True)
            self._live_dirs.discard(work)

    def _limits(self, spec: RunSpec, security: ContainerSecurity) -> list[str]:
        notes = [f"image {spec.image} is not used: the host's Java and pyspark run the job"]
        if security.read_only_root:
            notes.append(
                "read-only root filesystem is not enforced (no mount namespace); the job "
                "gets its own HOME and TMPDIR"
            )
        if not security.network:
            notes.append("network is not isolated: the job shares the host's network")
        if security.cap_add:
            notes.append("added capabilities are not granted by the local backend")
        if spec.memory_limit:
            notes.append("memory limit is not applied by the local backend")
        return notes

    def _run_in(
        self,
        work: Path,
        spec: RunSpec,
        run_dir: Path | None,
        observer: RunObserver,
        profile: Profile | None,
        identity: Identity,
        notes: list[str],
    ) -> RunResult:
        security = spec.container_security
        home, tmp = work / "home", work / "tmp"
        home.mkdir()
        tmp.mkdir()
        spark_home = spark_home_farm(pyspark_dir(), work / "spark-home")
        profile_file = None
        if profile is not None:
            profile_file = work / "profile.json"
            profile_file.write_text(profile.to_json())
        if identity.uid is not None:
            for path in (work, home, tmp, spark_home / "work"):
                os.chown(path, identity.uid, identity.gid if identity.gid is not None else -1)
        os.chmod(work, 0o755)
        env = run_env(
            python=identity.python,
            home=home,
            tmp=tmp,
            spark_home=spark_home,
            pythonpath=identity.pythonpath,
            user_name=_user_name(identity.uid),
            extra=spec.env,
        )
        drop = tuple(security.cap_drop)
        if drop and os.geteuid() != 0:
            drop = ()
            notes.append("no capabilities to drop: not running as root")
        argv = launcher_argv(
            [*_submit_program(spark_home), str(spec.workload.path)],
            profile=profile_file,
            uid=identity.uid,
            gid=identity.gid,
            drop_caps=drop,
            no_new_privs=security.no_new_privileges,
            cwd=tmp,
        )
        # Tracers key the run by this process tree instead of a mount namespace.
        observer.follow_process_tree()
        if spec.hold_until_traced:
            wrap = getattr(observer, "wrap_local_command", None)
            if wrap is None:
                raise EnvironmentProblem("this tracer cannot follow a local run from its start")
            argv = wrap(argv)
        out_path, err_path = work / "stdout", work / "stderr"
        observer.before_start()
        started = time.monotonic()
        exit_code: int | None = None
        timed_out = False
        cpu: float | None = None
        try:
            with open(out_path, "wb") as out, open(err_path, "wb") as err:
                process = proc.start(argv, stdout=out.fileno(), stderr=err.fileno(), env=env)
            self._live_groups.add(process.pid)
            try:
                observer.started(process.pid, ContainerRef(Role.ALL, "local"))
                exit_code, cpu, timed_out = _wait(process, spec.timeout_seconds)
            finally:
                _kill_group(process.pid)
                if process.returncode is None:
                    exit_code, cpu, _ = _wait(process, KILL_GRACE)
                self._live_groups.discard(process.pid)
            wall = time.monotonic() - started
        finally:
            observer.finished()
        stdout = out_path.read_text(errors="replace")
        stderr = err_path.read_text(errors="replace")
        result = RunResult(
            spec=spec,
            exit_code=None if timed_out else exit_code,
            timed_out=timed_out,
            wall_seconds=wall,
            cpu_seconds=cpu,
            stdout=stdout,
            stderr=stderr,
            result=parse_result_line(stdout),
            run_dir=run_dir,
            container_id=f"local-{uuid.uuid4().hex[:12]}",
            notes=tuple(notes),
        )
        if run_dir is not None:
            write_run_dir(result, run_dir)
            (run_dir / "notes.txt").write_text("\n".join(notes) + "\n")
        return result

    def cleanup(self) -> int:
        """Kill process groups and remove run directories this backend left (Ctrl-C)."""
        removed = 0
        for group in list(self._live_groups):
            _kill_group(group)
            self._live_groups.discard(group)
            removed += 1
        for work in list(self._live_dirs):
            shutil.rmtree(work, ignore_errors=True)
            self._live_dirs.discard(work)
        return removed


def _user_name(uid: int | None) -> str:
    import pwd

    try:
        return pwd.getpwuid(os.getuid() if uid is None else uid).pw_name
    except KeyError:
        return "spark"


def _wait(process: object, timeout: float) -> tuple[int | None, float | None, bool]:
    """(exit code as a container reports it, CPU seconds, timed out), reaping with wait4."""
    pid: int = process.pid  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        try:
            reaped, status, usage = os.wait4(pid, os.WNOHANG)
        except ChildProcessError:
            return None, None, False
        if reaped == pid:
            code = os.waitstatus_to_exitcode(status)
            process.returncode = code  # type: ignore[attr-defined]
            cpu = usage.ru_utime + usage.ru_stime
            # A container's exit code for a signal is 128 + signal, as Docker reports it.
            return (128 - code if code < 0 else code), cpu, False
        if time.monotonic() >= deadline:
            return None, None, True
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def _kill_group(group: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signal.SIGKILL)
