"""spark-seccomp-profiler: seccomp profiles for PySpark jobs, recorded, verified and measured."""

__version__ = "0.1.0"
