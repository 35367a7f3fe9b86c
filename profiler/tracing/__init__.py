"""Syscall tracers: what a workload's processes asked the kernel for, per process role."""
