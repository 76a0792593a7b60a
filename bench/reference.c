/*
 * reference.c — the yardstick for bench/run.sh: the least a libmicrohttpd server can do per request.
 *
 * It starts libmicrohttpd with exactly the daemon options of server/http.c (internal thread pool of
 * --threads workers, epoll, suspend/resume allowed, same connection limit and timeout), follows the
 * same access-handler protocol (first call, body chunks consumed, answer on the last call, one
 * response object created per request) and answers every request with a fixed beat-sized JSON body.
 * Whatever nacos-mock does above that — parsing, routing, SQLite, cJSON, journal — is what the bench
 * ratios measure. Listens on 127.0.0.1 only; `--port 0` picks a free port and the line
 * `reference listening on http://127.0.0.1:PORT` on stdout says which.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char BODY[] = "{\"clientBeatInterval\":5000,\"code\":10200,\"lightBeatEnabled\":true}";

static volatile sig_atomic_t g_stop = 0;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

/* Non-NULL per-request marker: the request has been seen once (no allocation needed). */
static int g_seen;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    (void)upload_data;
    if (!*con_cls) {
        *con_cls = &g_seen;
        return MHD_YES;
    }
    if (*upload_size) {   /* consume the body, as nacos-mock does (without keeping it) */
        *upload_size = 0;
        return MHD_YES;
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(sizeof BODY - 1, (void *)BODY, MHD_RESPMEM_PERSISTENT);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    enum MHD_Result r = MHD_queue_response(c, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return r;
}

static int parse_int(const char *s, long min, long max, long *out)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < min || v > max) return -1;
    *out = v;
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: nm_bench_reference [--port N] [--threads N] [--conn-memory BYTES]\n"
               "A minimal libmicrohttpd server with nacos-mock's threading options; answers every request\n"
               "with %s. --port 0 (the default) picks a free port.\n"
               "--conn-memory sets MHD_OPTION_CONNECTION_MEMORY_LIMIT (default: libmicrohttpd's, 32 KiB).\n", BODY);
}

int main(int argc, char **argv)
{
    long port = 0, threads = 2, conn_memory = 0;
    for (int i = 1; i < argc; i += 2) {   /* flag, value */
        const char *a = argv[i];
        long *dst = !strcmp(a, "--port") ? &port : !strcmp(a, "--threads") ? &threads
                  : !strcmp(a, "--conn-memory") ? &conn_memory : NULL;
        if (!strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        long min = dst == &threads ? 1 : 0, max = dst == &port ? 65535 : dst == &threads ? 64 : 64L * 1024 * 1024;
        if (!dst || i + 1 >= argc || parse_int(argv[i + 1], min, max, dst)) {
            fprintf(stderr, "nm_bench_reference: bad argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    sigset_t block, orig;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &orig);   /* workers inherit the mask; main waits in sigsuspend */

    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    /* the flags, threading and connection options of server/http.c's http_start(); not its connection
     * memory pool, which is nacos-mock's own choice and cost (--conn-memory reproduces it) */
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads, MHD_OPTION_CONNECTION_LIMIT, (unsigned)4096,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
        /* only when asked: otherwise the list ends here and libmicrohttpd keeps its default */
        conn_memory ? MHD_OPTION_CONNECTION_MEMORY_LIMIT : MHD_OPTION_END, (size_t)conn_memory, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "nm_bench_reference: cannot listen on 127.0.0.1:%ld\n", port);
        return 1;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("reference listening on http://127.0.0.1:%u\n", di ? (unsigned)di->port : (unsigned)port);
    fflush(stdout);

    while (!g_stop) sigsuspend(&orig);
    MHD_stop_daemon(d);
    return 0;
}
