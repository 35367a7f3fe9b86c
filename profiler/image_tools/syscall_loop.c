/* syscall_loop: nanoseconds per call of one syscall, for `spark-seccomp bench`.
 *
 * usage: syscall_loop NAME ITERATIONS
 *        syscall_loop --cases ARCH ITERATIONS CASE...
 *
 * The first form times NAME, one of the cheap calls below: none of them is served by the
 * vDSO, so every call enters the kernel and passes the seccomp filter. Arguments are
 * passed explicitly as zeros so an argument-checked rule (arg0 == 0) sees a known value,
 * not register junk. Prints {"syscall": NAME, "iterations": N, "ns_per_call": X}.
 * Exits 2 when the syscall fails (a denied call would be timed as if it were allowed).
 *
 * The second form times each CASE in a child process of its own (forked from this one,
 * so it runs under the container's filter) and prints one JSON line per case:
 * {"case": CASE, "nr": NR, "iterations": N, "ns_per_call": X, "wall_ns_per_call": Y,
 * "errno": E}, X by the thread's CPU clock (time preempted by other tasks left out), Y
 * by the wall clock.
 *   plain:NR  syscall NR with zero arguments; it must succeed.
 *   stub:NR   syscall NR with zero arguments, after the child stacked a filter of its own
 *             that answers NR, and only NR, with errno STUB_ERRNO. The kernel caches no
 *             number a filter denies, and it runs every filter of the stack on an uncached
 *             call, so each call runs the container's program for NR (and the stub's few
 *             instructions) and is then refused by the stub: the call itself never runs,
 *             whatever it is. The same case without the container's filter times the rest.
 * ARCH is the native audit arch token (from libseccomp) the stub compares with. A case
 * whose first call does not give the expected result ends the run with exit 2.
 * Built static (gcc -O2 -static) so it runs in any image, with no shell or libc needed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STUB_ERRNO 1023 /* no real errno: a refusal by the stub cannot be mistaken */

struct candidate {
    const char *name;
    long number;
};

static const struct candidate CANDIDATES[] = {
    {"getppid", SYS_getppid}, {"getpid", SYS_getpid}, {"gettid", SYS_gettid},
    {"getuid", SYS_getuid},   {"geteuid", SYS_geteuid}, {"getgid", SYS_getgid},
    {"getegid", SYS_getegid},
};

/* A clock the filter refuses would time nothing: say so and stop (exit 3), rather than
 * print a figure made of whatever the timespec held. The thread's CPU clock has no vDSO
 * path, so it always enters the kernel; the monotonic one does where the clock source
 * has no vDSO path either. */
static double clock_ns(clockid_t clock) {
    struct timespec ts;
    if (clock_gettime(clock, &ts) != 0) {
        fprintf(stderr, "clock_gettime(%d) failed: %s: the filter must allow clock_gettime\n",
                (int)clock, strerror(errno));
        exit(3);
    }
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double now_ns(void) { return clock_ns(CLOCK_MONOTONIC); }

/* ns per call of `number` with zero arguments, by the wall clock, and by this thread's
 * CPU clock in *cpu_ns (time the thread ran, in user space and in the kernel: on a busy
 * machine, time spent preempted by other tasks stays out of it). */
static double time_calls(long number, long iterations, double *cpu_ns) {
    /* Warm-up: fault in the code, settle the CPU frequency a little. */
    for (long i = 0; i < iterations / 10; i++) syscall(number, 0L, 0L, 0L, 0L, 0L, 0L);
    double cpu_start = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    double start = now_ns();
    for (long i = 0; i < iterations; i++) syscall(number, 0L, 0L, 0L, 0L, 0L, 0L);
    double elapsed = now_ns() - start;
    if (cpu_ns) *cpu_ns = (clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu_start) / (double)iterations;
    return elapsed / (double)iterations;
}

static int stack_stub(unsigned int arch, unsigned int number) {
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, number, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | STUB_ERRNO),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog program = {sizeof code / sizeof code[0], code};
    /* Without no_new_privs an unprivileged process may not add a filter; a restricted
     * container has it already. */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) != 0) return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program, 0L, 0L);
}

/* One case in this (child) process: 0 on success, 2 when the call does not behave. */
static int run_case(const char *spec, unsigned int arch, long iterations) {
    int stub = strncmp(spec, "stub:", 5) == 0;
    if (!stub && strncmp(spec, "plain:", 6) != 0) {
        fprintf(stderr, "unknown case %s (plain:NR or stub:NR)\n", spec);
        return 64;
    }
    char *end = NULL;
    long number = strtol(strchr(spec, ':') + 1, &end, 10);
    if (number < 0 || end == NULL || *end != '\0') {
        fprintf(stderr, "bad syscall number in %s\n", spec);
        return 64;
    }
    if (stub && stack_stub(arch, (unsigned int)number) != 0) {
        fprintf(stderr, "%s: stacking the stub filter failed: %s\n", spec, strerror(errno));
        return 2;
    }
    errno = 0;
    long first = syscall(number, 0L, 0L, 0L, 0L, 0L, 0L);
    int error = first == -1 ? errno : 0;
    if (stub ? error != STUB_ERRNO : first == -1) {
        fprintf(stderr, "%s: the first call gave %ld (%s), not what the case expects\n", spec,
                first, error ? strerror(error) : "no error");
        return 2;
    }
    double cpu_ns = 0;
    double wall_ns = time_calls(number, iterations, &cpu_ns);
    printf("{\"case\": \"%s\", \"nr\": %ld, \"iterations\": %ld, \"ns_per_call\": %.3f, "
           "\"wall_ns_per_call\": %.3f, \"errno\": %d}\n",
           spec, number, iterations, cpu_ns, wall_ns, error);
    fflush(stdout);
    return 0;
}

static int run_cases(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s --cases ARCH ITERATIONS CASE...\n", argv[0]);
        return 64;
    }
    unsigned int arch = (unsigned int)strtoul(argv[2], NULL, 0);
    long iterations = strtol(argv[3], NULL, 10);
    if (arch == 0 || iterations <= 0) {
        fprintf(stderr, "bad arch %s or iteration count %s\n", argv[2], argv[3]);
        return 64;
    }
    fflush(stdout);
    for (int i = 4; i < argc; i++) {
        pid_t child = fork();
        if (child < 0) {
            fprintf(stderr, "fork failed: %s\n", strerror(errno));
            return 2;
        }
        if (child == 0) _exit(run_case(argv[i], arch, iterations));
        int status = 0;
        if (waitpid(child, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            return WIFEXITED(status) ? WEXITSTATUS(status) : 2;
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "--cases") == 0) return run_cases(argc, argv);
    if (argc != 3) {
        fprintf(stderr, "usage: %s NAME ITERATIONS | --cases ARCH ITERATIONS CASE...\n",
                argv[0]);
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
    double ns = time_calls(number, iterations, NULL);
    printf("{\"syscall\": \"%s\", \"iterations\": %ld, \"ns_per_call\": %.3f}\n", argv[1],
           iterations, ns);
    return 0;
}
