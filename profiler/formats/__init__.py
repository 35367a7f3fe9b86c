"""Every file format the tool reads, as one validated model per format.

Each input file (an OCI seccomp profile, Docker's default.json, a probed RuntimeDefault
reference, ``recording.json``, a profile summary, ``check.json``, ``bench.json``,
``microbench.json``) is read in two steps: ``jsonfile`` turns bytes into plain JSON values
within fixed bounds (size, nesting depth, number length), then a pydantic model of the
format validates them, and only then are the library's frozen dataclasses built.

Why pydantic v2 rather than hand-written checks:

- typed models: a format is written down once, as the fields it has and their types,
  instead of being scattered over ``isinstance`` checks in every reader;
- error locations as paths: every error carries where it is (``syscalls[3].args[0].op``),
  so a message can point at the one value to fix in a file of thousands of lines;
- strict types: ``"38"`` is not an errno and ``true`` is not an integer. Lax coercion is
  exactly what let such values through before, silently changing what a profile means.

Names that must exist somewhere else (syscalls, architectures) are checked against
libseccomp, through ``profiler.seccomp.arch``, never against a table of our own.
"""
