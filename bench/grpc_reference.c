/*
 * grpc_reference.c — the yardstick for the gRPC transport: the least an nghttp2 server with the
 * transport's threading can do per unary call.
 *
 * One epoll loop thread (the main thread only waits for SIGINT/SIGTERM), non-blocking sockets, one
 * nghttp2 server session per connection fed with nghttp2_session_mem_recv and written from
 * nghttp2_session_mem_send, the same SETTINGS as server/grpc_server.c. Every request, once it has
 * ended, is answered `:status 200`, `content-type: application/grpc`, a fixed gRPC message (the
 * framed bytes of --response FILE, e.g. written by nm_bench_grpc_body), trailers `grpc-status: 0`.
 * Request bytes are not even deframed. Whatever server/grpc_server.c does above that — deframing,
 * per-call state, handlers, timers, budgets — is what bench/grpc.sh's ratio measures.
 *
 *   nm_bench_grpc_reference --response FILE [--port N]
 * Listens on 127.0.0.1 only; --port 0 (the default) picks a free port, printed on stdout as
 * `grpc reference listening on 127.0.0.1:PORT`.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>

struct conn {
    int fd;
    nghttp2_session *h2;
    uint8_t *wbuf;
    size_t wlen, woff, wcap;
    bool want_out;
};

struct answer {                  /* per stream: how much of the response message is sent */
    size_t off;
};

static const uint8_t *g_resp;
static size_t g_resp_len;

static ssize_t read_resp(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
                         nghttp2_data_source *src, void *ud)
{
    (void)ud;
    struct answer *a = src->ptr;
    size_t k = g_resp_len - a->off;
    if (k > length) k = length;
    memcpy(buf, g_resp + a->off, k);
    a->off += k;
    if (a->off == g_resp_len) {
        *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        nghttp2_nv tr[1] = {{(uint8_t *)"grpc-status", (uint8_t *)"0", 11, 1, NGHTTP2_NV_FLAG_NONE}};
        nghttp2_submit_trailer(h2, id, tr, 1);
    }
    return (ssize_t)k;
}

static int on_frame_recv(nghttp2_session *h2, const nghttp2_frame *frame, void *ud)
{
    (void)ud;
    if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
        !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    struct answer *a = calloc(1, sizeof *a);
    if (!a) return NGHTTP2_ERR_CALLBACK_FAILURE;
    nghttp2_session_set_stream_user_data(h2, frame->hd.stream_id, a);
    nghttp2_nv nva[2] = {{(uint8_t *)":status", (uint8_t *)"200", 7, 3, NGHTTP2_NV_FLAG_NONE},
                         {(uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16, NGHTTP2_NV_FLAG_NONE}};
    nghttp2_data_provider prd = {.source = {.ptr = a}, .read_callback = read_resp};
    return nghttp2_submit_response(h2, frame->hd.stream_id, nva, 2, &prd) ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
}

static int on_stream_close(nghttp2_session *h2, int32_t id, uint32_t code, void *ud)
{
    (void)code;
    (void)ud;
    free(nghttp2_session_get_stream_user_data(h2, id));
    return 0;
}

static int g_epfd, g_lfd;
static nghttp2_session_callbacks *g_cbs;
static volatile sig_atomic_t g_stop;

static void conn_free(struct conn *c)
{
    nghttp2_session_del(c->h2);   /* (answers of streams still open are not freed: a bench tool) */
    close(c->fd);
    free(c->wbuf);
    free(c);
}

/* Writes what nghttp2 has; false when the connection is done. */
static bool conn_flush(struct conn *c)
{
    for (;;) {
        while (c->wlen - c->woff < 65536) {
            const uint8_t *d;
            ssize_t k = nghttp2_session_mem_send(c->h2, &d);
            if (k < 0) return false;
            if (k == 0) break;
            if (c->woff == c->wlen) c->woff = c->wlen = 0;
            if (c->wlen + (size_t)k > c->wcap) {
                size_t cap = c->wcap ? c->wcap * 2 : 131072;
                while (cap < c->wlen + (size_t)k) cap *= 2;
                uint8_t *nb = realloc(c->wbuf, cap);
                if (!nb) return false;
                c->wbuf = nb;
                c->wcap = cap;
            }
            memcpy(c->wbuf + c->wlen, d, (size_t)k);
            c->wlen += (size_t)k;
        }
        if (c->wlen == c->woff) break;
        ssize_t w = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            if (errno == EINTR) continue;
            return false;
        }
        c->woff += (size_t)w;
    }
    bool out = c->wlen > c->woff;
    if (out != c->want_out) {
        struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
        if (epoll_ctl(g_epfd, EPOLL_CTL_MOD, c->fd, &ev)) return false;
        c->want_out = out;
    }
    return out || nghttp2_session_want_read(c->h2) || nghttp2_session_want_write(c->h2);
}

static void accept_some(void)
{
    for (int i = 0; i < 64; i++) {
        int fd = accept4(g_lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = calloc(1, sizeof *c);
        nghttp2_settings_entry iv[3] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 128},
                                        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, 16384},
                                        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20}};
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (!c || nghttp2_session_server_new(&c->h2, g_cbs, c) || nghttp2_submit_settings(c->h2, 0, iv, 3) ||
            nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, 8 << 20) ||
            epoll_ctl(g_epfd, EPOLL_CTL_ADD, fd, &ev)) {
            close(fd);
            if (c && c->h2) nghttp2_session_del(c->h2);
            free(c);
            continue;
        }
        c->fd = fd;
        if (!conn_flush(c)) conn_free(c);
    }
}

static void *loop_main(void *arg)
{
    (void)arg;
    struct epoll_event evs[128];
    uint8_t buf[65536];
    while (!g_stop) {
        int n = epoll_wait(g_epfd, evs, 128, 200);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == &g_lfd) {
                accept_some();
                continue;
            }
            struct conn *c = evs[i].data.ptr;
            bool ok = true;
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                ssize_t r = read(c->fd, buf, sizeof buf);
                if (r > 0) ok = nghttp2_session_mem_recv(c->h2, buf, (size_t)r) >= 0;
                else if (r == 0 || (errno != EAGAIN && errno != EINTR)) ok = false;
            }
            if (!ok || !conn_flush(c)) conn_free(c);   /* conn_free closes fd: epoll forgets it */
        }
    }
    return NULL;
}

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t *b = malloc(1 << 20);
    *len = b ? fread(b, 1, 1 << 20, f) : 0;
    fclose(f);
    return b;
}

int main(int argc, char **argv)
{
    long port = 0;
    const char *resp = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        char *end = NULL;
        if (!strcmp(argv[i], "--port")) {
            port = strtol(argv[i + 1], &end, 10);
            if (*end || port < 0 || port > 65535) port = -1;
        } else if (!strcmp(argv[i], "--response")) {
            resp = argv[i + 1];
        }
    }
    uint8_t *r = resp ? read_file(resp, &g_resp_len) : NULL;
    if (!r || !g_resp_len || port < 0) {
        fprintf(stderr, "usage: nm_bench_grpc_reference --response FILE [--port N]\n"
                        "FILE: one framed gRPC message, the answer to every call (nm_bench_grpc_body writes one)\n");
        return 2;
    }
    g_resp = r;
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    nghttp2_session_callbacks_new(&g_cbs);
    nghttp2_session_callbacks_set_on_frame_recv_callback(g_cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(g_cbs, on_stream_close);

    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    g_lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(g_lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    socklen_t al = sizeof a;
    if (bind(g_lfd, (struct sockaddr *)&a, sizeof a) || listen(g_lfd, 1024) ||
        getsockname(g_lfd, (struct sockaddr *)&a, &al)) {
        perror("listen");
        return 1;
    }
    g_epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &g_lfd};
    epoll_ctl(g_epfd, EPOLL_CTL_ADD, g_lfd, &ev);
    pthread_t t;
    pthread_create(&t, NULL, loop_main, NULL);
    printf("grpc reference listening on 127.0.0.1:%d\n", ntohs(a.sin_port));
    fflush(stdout);
    pthread_join(t, NULL);
    close(g_lfd);
    close(g_epfd);
    nghttp2_session_callbacks_del(g_cbs);
    free(r);
    return 0;
}
