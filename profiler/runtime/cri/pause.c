/*
 * The first process of a pod sandbox, written for spark-seccomp: the job the Kubernetes
 * "pause" container does, for a machine that has no registry to pull that image from.
 *
 * It holds the pod's namespaces by staying alive, reaps children re-parented to it (it is
 * PID 1 when the pod shares one PID namespace), and exits 0 on SIGTERM or SIGINT, which
 * is how StopPodSandbox ends it. It asks the kernel for what the Kubernetes pause asks:
 * rt_sigaction, pause, wait4 and exit_group (after a static binary's start-up). A pod's
 * seccomp profile applies to the sandbox too; where it denies pause(2), the Kubernetes
 * pause spins on it, while this one says so once and sleeps in clock_nanosleep(2)
 * instead, so a test machine keeps its CPU.
 *
 * Built static (gcc -O2 -static): the sandbox image holds this one file and nothing else.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void say(const char *text) {
    ssize_t ignored = write(STDERR_FILENO, text, strlen(text));
    (void)ignored;
}

static void stop(int signal_number) {
    (void)signal_number;
    _exit(0);
}

static void reap(int signal_number) {
    (void)signal_number;
    int saved = errno;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    errno = saved;
}

static void on(int signal_number, void (*handler)(int), int flags) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = handler;
    action.sa_flags = flags;
    sigemptyset(&action.sa_mask);
    if (sigaction(signal_number, &action, NULL) != 0) {
        say("pause: sigaction failed\n");
        _exit(1);
    }
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "-v") == 0) {
        say("spark-seccomp pause 1\n");
        return 0;
    }
    if (getpid() != 1) {
        say("pause: warning: not PID 1, children of others are not reaped here\n");
    }
    on(SIGTERM, stop, 0);
    on(SIGINT, stop, 0);
    on(SIGCHLD, reap, SA_NOCLDSTOP | SA_RESTART);
    int told = 0;
    for (;;) {
        if (pause() < 0 && errno != EINTR) {
            if (!told) {
                say("pause: pause(2) is denied; sleeping instead\n");
                told = 1;
            }
            struct timespec second = {1, 0};
            clock_nanosleep(CLOCK_MONOTONIC, 0, &second, NULL);
        }
    }
}
