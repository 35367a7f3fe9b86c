/* syscall_loop: nanoseconds per call of one cheap syscall, for `spark-seccomp bench`.
 *
 * usage: syscall_loop NAME ITERATIONS
 * NAME is one of the syscalls below: none of them is served by the vDSO, so every call
 * enters the kernel and passes the seccomp filter. Arguments are passed explicitly as
 * zeros so an argument-checked rule (arg0 == 0) sees a known value, not register junk.
 * Prints one JSON line: {"syscall": NAME, "iterations": N, "ns_per_call": X}.
 * Exits 2 when the syscall fails (a denied call would be timed as if it were allowed).
 * Built static (gcc -O2 -static) so it runs in any image, with no shell or libc needed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct candidate {
    const char *name;
    long number;
};

static const struct candidate CANDIDATES[] = {
    {"getppid", SYS_getppid}, {"getpid", SYS_getpid}, {"gettid", SYS_gettid},
    {"getuid", SYS_getuid},   {"geteuid", SYS_geteuid}, {"getgid", SYS_getgid},
    {"getegid", SYS_getegid},
};

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s NAME ITERATIONS\n", argv[0]);
        return 64;
    }
    long number = -1;
    for (size_t i = 0; i < sizeof CANDIDATES / sizeof CANDIDATES[0]; i++) {
        if (strcmp(argv[1], CANDIDATES[i].name) == 0) number = CANDIDATES[i].number;
    }
    long iterations = strtol(argv[2], NULL, 10);
    if (number < 0 || iterations <= 0) {
        fprintf(stderr, "unknown syscall %s or bad iteration count %s\n", argv[1], argv[2]);
        return 64;
    }
    errno = 0;
    if (syscall(number, 0L, 0L, 0L, 0L, 0L, 0L) == -1) {
        fprintf(stderr, "%s failed: %s\n", argv[1], strerror(errno));
        return 2;
    }
    /* Warm-up: fault in the code, settle the CPU frequency a little. */
    for (long i = 0; i < iterations / 10; i++) syscall(number, 0L, 0L, 0L, 0L, 0L, 0L);
    double start = now_ns();
    for (long i = 0; i < iterations; i++) syscall(number, 0L, 0L, 0L, 0L, 0L, 0L);
    double elapsed = now_ns() - start;
    printf("{\"syscall\": \"%s\", \"iterations\": %ld, \"ns_per_call\": %.3f}\n", argv[1],
           iterations, elapsed / (double)iterations);
    return 0;
}
