"""Throughput and memory of the strace parser on large synthetic traces.

Writes a realistic ``strace -f -q -X verbose`` trace (a JVM with many threads, forked
python workers, unfinished/resumed pairs, exits and signals) to a temporary file, parses
it in a fresh child process per size, and prints lines per second and peak RSS. Peak RSS
staying flat from 1M to 4M lines shows the parser's memory does not grow with the trace.

    .venv/bin/python benchmarks/strace_parse.py            # 1M and 4M lines
    .venv/bin/python benchmarks/strace_parse.py 1000000 8000000
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

JAVA = (
    '["/usr/lib/jvm/java-17-openjdk-amd64/bin/java", "-cp", "/opt/spark/jars/*", '
    '"org.apache.spark.executor.CoarseGrainedExecutorBackend", "--driver-url", '
    '"spark://CoarseGrainedScheduler@localhost:40123"]'
)
COMPLETE = [
    'read(0x3, "\\x00\\x00\\x00\\x0c\\x01\\x02"..., 0x1000) = 4096',
    'write(0x4, "PAR1\\x15\\x00\\x15"..., 0x2000) = 8192',
    'openat(0xffffff9c /* AT_FDCWD */, "/tmp/spark-1/blockmgr/0c/shuffle_0_1_0.data", 0x80000 /* O_RDONLY|O_CLOEXEC */) = 7',
    "close(0x7)                              = 0",
    "mmap(NULL, 0x21000, 0x3 /* PROT_READ|PROT_WRITE */, 0x22 /* MAP_PRIVATE|MAP_ANONYMOUS */, -1, 0) = 0x7f1c5c000000",
    'newfstatat(0x7, "", {st_mode=S_IFREG|0644, st_size=1048576, ...}, 0x1000 /* AT_EMPTY_PATH */) = 0',
    "lseek(0x7, 0, 0x1 /* SEEK_CUR */)       = 0",
    "getrusage(0x1 /* RUSAGE_THREAD */, {ru_utime={tv_sec=0, tv_usec=412000}, ...}) = 0",
    "sched_yield()                           = 0",
    "clock_nanosleep(0 /* CLOCK_REALTIME */, 0, {tv_sec=0, tv_nsec=1000000}, NULL) = 0",
]
UNFINISHED = [
    (
        "futex(0x7f1c6400b4c8, 0x189 /* FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME */, 0, NULL, 0xffffffff <unfinished ...>",
        "futex",
        ")       = 0",
    ),
    (
        "epoll_wait(0xb, [{events=EPOLLIN, data={u32=12, u64=12}}], 0x2000, 0x3e8 <unfinished ...>",
        "epoll_wait",
        ") = 1",
    ),
    (
        "poll([{fd=0x2d, events=0x1 /* POLLIN */}], 1, 0x1f4 <unfinished ...>",
        "poll",
        ") = 0 (Timeout)",
    ),
]


def generate(path: Path, lines: int, seed: int = 7) -> None:
    rnd = random.Random(seed)
    written = 0
    next_pid = 1000
    threads = list(range(next_pid, next_pid + 64))
    next_pid += 64
    pending: dict[int, tuple[str, str]] = {}
    with path.open("w", encoding="ascii") as out:
        out.write(
            f'{threads[0]} execve("/usr/lib/jvm/java-17-openjdk-amd64/bin/java", {JAVA}, 0x7ffd /* 24 vars */) = 0\n'
        )
        written += 1
        while written < lines:
            pid = rnd.choice(threads)
            roll = rnd.random()
            if pid in pending:
                name, tail = pending.pop(pid)
                out.write(f"{pid} <... {name} resumed>{tail}\n")
            elif roll < 0.25:
                start, name, tail = rnd.choice(UNFINISHED)
                pending[pid] = (name, tail)
                out.write(f"{pid} {start}\n")
            elif roll < 0.2502:
                # a short-lived python worker: forked, runs, exits
                child = next_pid
                next_pid += 1
                out.write(
                    f"{pid} clone(child_stack=NULL, flags=0x1200000 /* CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID */|0x11 /* SIGCHLD */ <unfinished ...>\n"
                )
                out.write(
                    f'{child} execve("/opt/venv/bin/python3", ["/opt/venv/bin/python3", "-m", "pyspark.daemon"], 0x7f1c /* 24 vars */) = 0\n'
                )
                out.write(f"{pid} <... clone resumed>, child_tidptr=0x7f3d11e4ea10) = {child}\n")
                out.write(
                    f"{child} socket(0x1 /* AF_UNIX */, 0x80001 /* SOCK_STREAM|SOCK_CLOEXEC */, 0) = 3\n"
                )
                out.write(
                    f"{child} exit_group(0)                     = ?\n{child} +++ exited with 0 +++\n"
                )
                out.write(
                    f"{pid} --- SIGCHLD {{si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid={child}}} ---\n"
                )
                written += 7
                continue
            else:
                out.write(f"{pid} {rnd.choice(COMPLETE)}\n")
            written += 1


def measure(path: Path) -> dict[str, float]:
    from profiler.tracing.strace_parser import parse_strace

    start = time.perf_counter()
    result = parse_strace(path, workload="bench", arch="x86_64")
    elapsed = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "lines": result.lines,
        "seconds": round(elapsed, 2),
        "lines_per_second": round(result.lines / elapsed),
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "syscalls": len(result.recording.counts),
        "unparsed": result.unparsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[1_000_000, 4_000_000])
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    with tempfile.TemporaryDirectory(prefix="strace-bench-") as tmp:
        for size in args.sizes:
            trace = Path(tmp) / f"trace-{size}.txt"
            generate(trace, size)
            mib = trace.stat().st_size / 2**20
            # A fresh interpreter per size, so peak RSS is this parse's alone.
            out = subprocess.run(
                [sys.executable, __file__, "--measure", str(trace)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            data = json.loads(out)
            print(
                f"{data['lines']:>10,} lines ({mib:,.0f} MiB): {data['seconds']:6.2f} s, "
                f"{data['lines_per_second']:>9,} lines/s, peak RSS {data['peak_rss_mib']} MiB, "
                f"{data['syscalls']} syscalls, {data['unparsed']} unparsed"
            )
            trace.unlink()


if __name__ == "__main__":
    main()
