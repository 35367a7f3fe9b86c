"""Performance impact of seccomp modes: running benchmarks and judging them honestly.

``stats`` turns samples into medians, spreads and bootstrap intervals; ``microbench``
does the same for the nanoseconds-per-syscall micro-benchmark. Both are pure.
"""
