/*
 * startup.c — start-up latency for bench/run.sh: how long from spawning a server until it has
 * answered its first request.
 *
 * Each run: fork + exec the command (which must take --port 0 and print one line ending in
 * "http://HOST:PORT" on stdout), read that line for the port, then poll: connect to 127.0.0.1:PORT,
 * send GET PATH, until a complete "HTTP/1.x 200" status line comes back. The clock runs from just
 * before fork() to that status line. Then SIGTERM, and the child is reaped (SIGKILL after 2 s).
 * Prints one line per run and a last line `median_ms=… min_ms=… max_ms=…`. A shell loop with curl
 * cannot do this: spawning curl alone costs several milliseconds.
 *
 * Usage: nm_bench_startup [-n RUNS] [-p PATH] -- COMMAND [ARGS...]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <poll.h>
#include <fcntl.h>

#include "timing.h"

/* Reads one line from fd within deadline; 0 ok. */
static int read_line(int fd, char *buf, size_t cap, double deadline)
{
    size_t n = 0;
    while (n + 1 < cap) {
        int left = (int)(deadline - now_ms());
        if (left <= 0) return -1;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, left) <= 0) return -1;
        ssize_t r = read(fd, buf + n, 1);
        if (r <= 0) return -1;
        if (buf[n] == '\n') break;
        n++;
    }
    buf[n] = '\0';
    return 0;
}

/* One attempt: 1 when a 200 status line came back, 0 not (yet), -1 hard error. */
static int try_request(int port, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = 0;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
        char req[512];
        int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n", path,
                         port);
        if (write(fd, req, (size_t)n) == n) {
            char resp[64];
            size_t got = 0;
            while (got < 12) {
                ssize_t r = read(fd, resp + got, sizeof resp - 1 - got);
                if (r <= 0) break;
                got += (size_t)r;
            }
            resp[got] = '\0';
            ok = got >= 12 && strncmp(resp, "HTTP/1.", 7) == 0 && strncmp(resp + 9, "200", 3) == 0;
        }
    }
    close(fd);
    return ok;
}

static void reap(pid_t pid)
{
    kill(pid, SIGTERM);
    for (int i = 0; i < 400; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid) return;
        usleep(5000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* One run; returns milliseconds or a negative number on failure. */
static double one_run(char **cmd, const char *path)
{
    int pfd[2];
    if (pipe(pfd)) return -1;
    double t0 = now_ms();
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);   /* never outlive the bench */
        dup2(pfd[1], STDOUT_FILENO);
        int dn = open("/dev/null", O_WRONLY);
        if (dn >= 0) dup2(dn, STDERR_FILENO);
        close(pfd[0]);
        close(pfd[1]);
        execvp(cmd[0], cmd);
        _exit(127);
    }
    close(pfd[1]);
    double deadline = t0 + 5000, result = -1;
    char line[512];
    if (read_line(pfd[0], line, sizeof line, deadline) == 0) {
        const char *colon = strrchr(line, ':');
        int port = colon ? atoi(colon + 1) : 0;
        while (port > 0 && now_ms() < deadline) {
            int r = try_request(port, path);
            if (r == 1) { result = now_ms() - t0; break; }
            if (r < 0) break;
            usleep(200);
        }
    } else {
        fprintf(stderr, "nm_bench_startup: no listening line from %s\n", cmd[0]);
    }
    reap(pid);
    close(pfd[0]);
    return result;
}

int main(int argc, char **argv)
{
    int runs = 10, i = 1;
    const char *path = "/nacos/v1/console/health/liveness";
    for (; i < argc && strcmp(argv[i], "--"); i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc) runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-p") && i + 1 < argc) path = argv[++i];
        else break;
    }
    if (i >= argc || strcmp(argv[i], "--") || i + 1 >= argc || runs < 1 || runs > 10000) {
        fprintf(stderr, "Usage: nm_bench_startup [-n RUNS] [-p PATH] -- COMMAND [ARGS...]\n");
        return 2;
    }
    char **cmd = argv + i + 1;
    signal(SIGPIPE, SIG_IGN);
    double *ms = calloc((size_t)runs, sizeof *ms);
    if (!ms) return 1;
    for (int r = 0; r < runs; r++) {
        ms[r] = one_run(cmd, path);
        if (ms[r] < 0) {
            fprintf(stderr, "nm_bench_startup: run %d failed\n", r + 1);
            free(ms);
            return 1;
        }
        printf("run %d: %.2f ms\n", r + 1, ms[r]);
    }
    double median = median_sorted(ms, runs);
    printf("median_ms=%.2f min_ms=%.2f max_ms=%.2f\n", median, ms[0], ms[runs - 1]);
    free(ms);
    return 0;
}
