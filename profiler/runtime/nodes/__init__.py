"""Nodes: Debian releases' container stacks (Podman, runc, crun, containerd) run beside
the host's, so profiles are verified under the runtime versions clusters run now.

``catalogue`` says which nodes exist (data), ``rootfs`` builds them offline, ``live`` runs
them, ``podman`` is the engine adapter for a node's Podman.
"""
