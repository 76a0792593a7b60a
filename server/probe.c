/*
 * probe.c — `nacos-mock --probe` (see probe.h): one HTTP/1.0 request over a plain socket, so the
 * server needs no HTTP client library (libcurl is a test-only dependency) and the container image needs
 * no shell. Non-blocking connect, send and receive, each waiting in poll() for what is left of one
 * deadline.
 */
#include "nacos_mock/probe.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nacos_mock/clock.h"

#define PROBE_PATH "/nacos/v1/console/health/readiness"

/* The address to ask: a wildcard bind is reachable on loopback of the same family. */
static const char *probe_host(const char *host)
{
    if (!*host || !strcmp(host, "0.0.0.0")) return "127.0.0.1";
    if (!strcmp(host, "::")) return "::1";
    return host;
}

/* Waits until fd is ready for `events` or the deadline passes. 0 ready, -1 timed out or failed. */
static int wait_fd(int fd, short events, int64_t deadline_ms)
{
    for (;;) {
        int64_t left = deadline_ms - clock_mono_ms();
        if (left <= 0) return -1;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)left);
        if (n > 0) return 0;
        if (n < 0 && errno != EINTR) return -1;
    }
}

/* A connected non-blocking socket to ai, or -1 with errno (ETIMEDOUT past the deadline). */
static int connect_by(const struct addrinfo *ai, int64_t deadline_ms)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) return -1;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) return fd;
    int e = errno;
    if (e == EINPROGRESS) {
        socklen_t len = sizeof e;
        if (wait_fd(fd, POLLOUT, deadline_ms)) e = ETIMEDOUT;
        else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len)) e = errno;
        if (e == 0) return fd;
    }
    close(fd);
    errno = e;
    return -1;
}

/* Sends all of buf. 0 ok, -1 with errno. */
static int send_all(int fd, const char *buf, size_t len, int64_t deadline_ms)
{
    while (len) {
        ssize_t k = send(fd, buf, len, MSG_NOSIGNAL);
        if (k > 0) {
            buf += k;
            len -= (size_t)k;
        } else if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (wait_fd(fd, POLLOUT, deadline_ms)) { errno = ETIMEDOUT; return -1; }
        } else {
            return -1;
        }
    }
    return 0;
}

/* Reads until the first line is complete (or EOF); NUL-terminates it without its CR LF. The line
 * length, or -1 with errno (ETIMEDOUT past the deadline, EPROTO on an empty answer). */
static ssize_t read_status_line(int fd, char *line, size_t cap, int64_t deadline_ms)
{
    size_t n = 0;
    for (;;) {
        char *nl = memchr(line, '\n', n);
        if (nl || n + 1 == cap) {
            n = nl ? (size_t)(nl - line) : n;
            break;
        }
        ssize_t k = recv(fd, line + n, cap - 1 - n, 0);
        if (k > 0) {
            n += (size_t)k;
        } else if (k == 0) {
            if (!n) { errno = EPROTO; return -1; }
            break;
        } else if (errno == EAGAIN || errno == EINTR) {
            if (wait_fd(fd, POLLIN, deadline_ms)) { errno = ETIMEDOUT; return -1; }
        } else {
            return -1;
        }
    }
    while (n && (line[n - 1] == '\r' || line[n - 1] == '\n')) n--;
    line[n] = '\0';
    return (ssize_t)n;
}

int probe_readiness(const struct config *cfg, int timeout_ms, char *why, size_t whylen)
{
    int64_t deadline = clock_mono_ms() + timeout_ms;
    const char *host = probe_host(cfg->host);
    bool v6 = strchr(host, ':') != NULL;
    char where[300];
    snprintf(where, sizeof where, "%s%s%s:%d", v6 ? "[" : "", host, v6 ? "]" : "", cfg->port);
    if (cfg->port == 0) {
        snprintf(why, whylen, "--port 0 picks a port at random: give the probe the port the server listens on");
        return -1;
    }

    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", cfg->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int fd = -1, rc = -1;
    int gai = getaddrinfo(host, portstr, &hints, &ai);
    if (gai || !ai) {
        snprintf(why, whylen, "cannot resolve %s: %s", host, gai_strerror(gai));
        goto out;
    }
    int err = 0;
    for (const struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
        fd = connect_by(a, deadline);
        if (fd < 0) err = errno;
    }
    if (fd < 0) {
        if (err == ETIMEDOUT) snprintf(why, whylen, "no connection to %s within %d ms", where, timeout_ms);
        else snprintf(why, whylen, "nothing listening on %s (%s)", where, strerror(err));
        goto out;
    }

    char req[512];
    int len = snprintf(req, sizeof req,
                       "GET " PROBE_PATH " HTTP/1.0\r\nHost: %s\r\nUser-Agent: nacos-mock-probe/%s\r\n\r\n", where,
                       NACOS_MOCK_VERSION);
    if (len < 0 || (size_t)len >= sizeof req || send_all(fd, req, (size_t)len, deadline)) {
        snprintf(why, whylen, "cannot send to %s (%s)", where, strerror(errno));
        goto out;
    }
    char line[256];
    if (read_status_line(fd, line, sizeof line, deadline) < 0) {
        if (errno == ETIMEDOUT) snprintf(why, whylen, "no answer from %s within %d ms", where, timeout_ms);
        else snprintf(why, whylen, "no status line from %s (%s)", where, strerror(errno));
        goto out;
    }
    /* "HTTP/1.x 200 ..." */
    if (strncmp(line, "HTTP/1.", 7) || !line[7] || strncmp(line + 8, " 200", 4) || (line[12] && line[12] != ' ')) {
        snprintf(why, whylen, "%s" PROBE_PATH " answered '%.200s'", where, line);
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0) close(fd);
    if (ai) freeaddrinfo(ai);
    return rc;
}
