/*
 * holdpolls.c — N config long polls held open against a server, for bench/run.sh ("listeners"):
 * opens N connections to 127.0.0.1:PORT, sends on each the npm client's poll
 * (POST /nacos/v1/cs/configs/listener, Long-Pulling-Timeout 600000) for one key whose md5 is current,
 * prints "sent N" and then keeps the connections open, reading and discarding what comes back, until
 * SIGTERM. The caller checks on /__mock/metrics that the server holds them. A shell cannot keep
 * 1,000 sockets open; curl would be 1,000 processes.
 *
 * Usage: nm_bench_holdpolls -p PORT -n N -d DATAID -m MD5
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t g_stop;
static void on_term(int sig) { (void)sig; g_stop = 1; }

int main(int argc, char **argv)
{
    long port = 0, n = 0;
    const char *data_id = "bench-listen", *md5 = "";
    int c;
    while ((c = getopt(argc, argv, "p:n:d:m:")) != -1) {
        if (c == 'p') port = strtol(optarg, NULL, 10);
        else if (c == 'n') n = strtol(optarg, NULL, 10);
        else if (c == 'd') data_id = optarg;
        else if (c == 'm') md5 = optarg;
        else return 2;
    }
    if (port <= 0 || port > 65535 || n <= 0 || n > 100000) {
        fprintf(stderr, "usage: nm_bench_holdpolls -p PORT -n N -d DATAID -m MD5\n");
        return 2;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)n + 64) {
        rl.rlim_cur = rl.rlim_max < (rlim_t)n + 64 ? rl.rlim_max : (rlim_t)n + 64;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    char form[512], req[1024];
    int fl = snprintf(form, sizeof form, "Listening-Configs=%s%%02DEFAULT_GROUP%%02%s%%01", data_id, md5);
    int rl_ = snprintf(req, sizeof req,
                       "POST /nacos/v1/cs/configs/listener HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       "Long-Pulling-Timeout: 600000\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                       "Content-Length: %d\r\n\r\n%s", fl, form);
    struct pollfd *fds = calloc((size_t)n, sizeof *fds);
    if (!fds) return 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (long i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) || write(fd, req, (size_t)rl_) != rl_) {
            fprintf(stderr, "holdpolls: connection %ld: %s\n", i, strerror(errno));
            return 1;
        }
        fds[i] = (struct pollfd){.fd = fd, .events = POLLIN};
    }
    printf("sent %ld\n", n);
    fflush(stdout);
    char buf[4096];
    while (!g_stop) {
        if (poll(fds, (nfds_t)n, 200) <= 0) continue;
        for (long i = 0; i < n; i++)
            if (fds[i].revents && read(fds[i].fd, buf, sizeof buf) <= 0) fds[i].fd = -1;   /* answered and closed */
    }
    for (long i = 0; i < n; i++)
        if (fds[i].fd >= 0) close(fds[i].fd);
    free(fds);
    return 0;
}
