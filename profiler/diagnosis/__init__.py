"""Denial diagnosis: which syscalls a profile denied a workload, and in which process.

A job that fails under a profile but passes unconfined is rerun under the *complain*
form of the same profile: every deny becomes SCMP_ACT_LOG, allow rules (argument
conditions included) stay, so the job runs through and nothing it asks for is refused.
Two sources say what would have been denied:

- the eBPF tracer counts every syscall of the container's filtered tasks in a BPF map,
  per process role. Counting is in-kernel, so no event is dropped; the would-be denials
  are the recorded names the *original* profile does not allow. eBPF sees no arguments,
  so a name allowed only with argument conditions is reported as "check args".
- the kernel's seccomp audit records (``audit: type=1326 ... pid= comm= syscall=``) for
  the container's pids, read from /dev/kmsg. They show a call only when the complain
  filter really logged it, which settles argument-conditional rules; but printk rate
  limiting drops them, so the rate limit is lifted for the run and restored afterwards,
  and any loss the kernel admits to is reported.

Calls a profile answers with ENOSYS on purpose (clone3, statx...: libc falls back) keep
that answer in complain mode, so the run takes the same fallback paths as the real one.

One module per concern:

- ``complain``: the complain transform and what a profile decides for one name;
- ``audit``: the parser of the kernel's seccomp audit records;
- ``kernel_log``: the reader of /dev/kmsg during one run, rate limit lifted;
- ``findings``: the would-be denials of a complain run, from counts and audit records;
- ``wording``: the lines a user reads under a cell;
- ``reference``: which RuntimeDefault allow list a run is judged against;
- ``diagnoser``: the ``Diagnoser`` seam and the complain run on a real backend.
"""
