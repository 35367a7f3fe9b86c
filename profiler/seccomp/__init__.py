"""Seccomp profiles: the OCI model, generation from recordings, merge/diff, architectures."""
