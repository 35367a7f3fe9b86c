"""Calls each syscall number given on the command line with invalid arguments, each in a
child process with a timeout, and prints one JSON object: number -> outcome.

Outcomes: an errno number (0 for success), "timeout", or "signal:N". Run it under
runtime-default and under unconfined with the same capabilities: the numbers whose
outcome differs are the ones the default profile filters. All arguments are -1, so a
call that gets through the filter fails its own argument checks and does nothing.
"""

import ctypes
import json
import os
import select
import sys

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.syscall.argtypes = [ctypes.c_long] * 7


def probe(number: int, timeout: float) -> object:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            ctypes.set_errno(0)
            result = libc.syscall(number, -1, -1, -1, -1, -1, -1)
            error = ctypes.get_errno() if result == -1 else 0
            os.write(write_end, str(error).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    ready, _, _ = select.select([read_end], [], [], timeout)
    outcome: object
    if ready:
        data = os.read(read_end, 32)
        outcome = int(data) if data else None
    else:
        outcome = "timeout"
        os.kill(pid, 9)
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    if outcome is None:
        outcome = f"signal:{os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else "exited"
    return outcome


def main() -> None:
    timeout = float(sys.argv[1])
    numbers = [int(n) for n in sys.argv[2:]]
    print(json.dumps({str(n): probe(n, timeout) for n in numbers}, sort_keys=True))


main()
