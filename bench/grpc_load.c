/*
 * grpc_load.c — a Nacos 2.x gRPC load generator: nghttp2's client side, one epoll loop thread,
 * non-blocking sockets, many connections with many calls in flight on each (h2load's -c / -m).
 * Unlike h2load it sets every connection up as a real client does — ServerCheckRequest, the
 * bi-stream /BiRequestStream/requestBiStream, ConnectionSetupRequest on it — and answers every
 * NotifySubscriberRequest pushed on the bi-stream with a NotifySubscriberResponse, so a server that
 * (like Nacos) answers 301 on a connection that is not set up can be measured doing the real calls.
 *
 *   nm_bench_grpc_load unary --port P [-c C] [-m M] [-d S [--warmup S] | -n N] --type T --json J --expect E
 *                      [--no-setup] [--save-answer FILE] [--preload SERVICE:N --http-port H]
 *     C connections (default 32), each set up, then M unary calls in flight (default 10) of Payload
 *     {T, J} for S seconds (default 5) after a warm-up (default 0.5 s), or N calls in all (no warm-up;
 *     for instruction counts). Every answer must be
 *     :status 200, grpc-status 0, of Payload type E. --no-setup skips the set-up (ServerCheck alone
 *     needs none; h2load's cross-check). --save-answer writes the JSON body of one answer (for
 *     nm_bench_grpc_body: the reference then answers the same bytes). --preload registers N instances
 *     of SERVICE over v1 HTTP first (POST /nacos/v1/ns/instance on port H), ips 10.9.x.y:8080,
 *     metadata {"version":"1.0"}.
 *
 *   nm_bench_grpc_load clients --port P --http-port H [-c C] [--victims V] [--changes K] [--closes K]
 *                      [--shared-instances N] [--mock-pid PID] [--hold S]
 *     N instances (default 10) of the shared service `bench-shared` over v1 HTTP; then C clients
 *     (default 2000), each set up, registering one instance over gRPC (clients 0..V-1, the victims,
 *     10.251.0.i into bench-shared; the others 10.252.x.y into bench-app-(i % 20)) and subscribing to
 *     bench-shared, so that service has C gRPC subscribers. Then:
 *       - VmRSS of PID (the server) idle before the clients connected and with all of them set up
 *         (--hold S keeps them connected S seconds more, to look at the server);
 *       - K changes, one at a time: a v1 register of a new instance 10.250.0.k into bench-shared;
 *         for each subscriber, the time from just before the register was sent until it received a
 *         NotifySubscriberRequest holding that instance; also the CPU time the server (all threads)
 *         and this generator used per change, from the register until the last subscriber had it;
 *       - K closes, one at a time: a victim's TCP connection is closed (no GOAWAY); the time until
 *         its instance is gone from GET /nacos/v1/ns/instance/list (polled every ms from a second
 *         thread) and until each other subscriber received a push without it.
 *
 * Output: one line `GRPC_LOAD key=value ...` (bench/run.sh reads it); progress on stderr. Exit 0
 * when the run completed with no error (every answer right, every push seen), 1 otherwise.
 * Only 127.0.0.1 is contacted.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>

#include "nacos_mock/grpc_frame.h"
#include "nacos_mock/grpc_payload.h"
#include "nacos_mock/subs.h"

#define PATH_UNARY "/Request/request"
#define PATH_BIDI "/BiRequestStream/requestBiStream"
#define SHARED "bench-shared"
#define APP_SERVICES 20
#define MAX_CONNECTING 64          /* connections being set up at once (the server's backlog is 1024) */
#define STEP_TIMEOUT_US 10000000   /* a change or close not seen by everyone within 10 s: an error */
#define HEAD_KEEP 160              /* bytes of an answer kept to check its Payload type */

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("nm_bench_grpc_load: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* ---------------------------------------------------------------- samples */

struct samples {
    uint32_t *v;                   /* µs */
    size_t n, cap;
};

static void samples_add(struct samples *s, int64_t us)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4096;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v) die("out of memory");
    }
    s->v[s->n++] = us < 0 ? 0 : us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The q-quantile (nearest rank) of the sorted samples, in ms. */
static double quantile_ms(const struct samples *s, double q)
{
    if (!s->n) return 0;
    size_t k = (size_t)(q * (double)s->n + 0.999999);
    if (k < 1) k = 1;
    if (k > s->n) k = s->n;
    return s->v[k - 1] / 1000.0;
}

/* ---------------------------------------------------------------- HTTP/1.1 (blocking, tiny) */

/* One request on its own connection (Connection: close). Returns the status code and the body in
 * *out (malloc'd, NUL-terminated; caller frees), or -1. */
static int http_do(int port, const char *method, const char *target, char **out)
{
    *out = NULL;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a)) {
        if (fd >= 0) close(fd);
        return -1;
    }
    char req[2048];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n%s\r\n", method,
                     target, port, strcmp(method, "GET") ? "Content-Length: 0\r\n" : "");
    if (n < 0 || (size_t)n >= sizeof req || send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        close(fd);
        return -1;
    }
    size_t len = 0, cap = 16384;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) break;
        if (cap - len < 4096) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + len, cap - len - 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        len += (size_t)r;
    }
    close(fd);
    if (!buf) return -1;
    buf[len] = '\0';
    int status = -1;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) status = -1;
    const char *body = strstr(buf, "\r\n\r\n");
    body = body ? body + 4 : buf + len;
    memmove(buf, body, strlen(body) + 1);
    *out = buf;
    return status;
}

/* v1 register of ip:8080 into service (default group, namespace public); instances never fall due
 * (the bench starts nacos-mock with large miss counts). Dies unless answered 200. */
static void v1_register(int port, const char *service, const char *ip, const char *metadata)
{
    char target[1024], *body;
    snprintf(target, sizeof target, "/nacos/v1/ns/instance?serviceName=%s&ip=%s&port=8080%s%s", service, ip,
             metadata ? "&metadata=" : "", metadata ? metadata : "");
    int st = http_do(port, "POST", target, &body);
    if (st != 200) die("v1 register of %s into %s: status %d: %s", ip, service, st, body ? body : "(no answer)");
    free(body);
}

/* ---------------------------------------------------------------- requests */

struct body {                      /* a framed request message, shared by many streams */
    uint8_t *p;
    size_t n;
};

static struct body make_body(const char *type, const char *json)
{
    size_t pl = 0;
    uint8_t *p = grpc_payload_encode(type, json, strlen(json), &pl);
    struct body b = {0};
    b.p = p ? grpc_frame_encode(p, pl, &b.n) : NULL;
    free(p);
    if (!b.p) die("out of memory");
    return b;
}

/* ---------------------------------------------------------------- connections and streams */

enum mode { MODE_UNARY, MODE_CLIENTS };
enum cstate { CS_CONNECTING, CS_CHECK, CS_SETUP, CS_REGISTER, CS_SUBSCRIBE, CS_READY, CS_DEAD };
enum skind { SK_CALL, SK_CHECK, SK_REGISTER, SK_SUBSCRIBE, SK_BIDI };

struct lconn;

struct outmsg {                    /* a message queued on the bi-stream */
    struct outmsg *next;
    struct body b;
    size_t off;
};

struct lstream {
    struct lstream *prev, *next;   /* the connection's streams; next: the free list */
    struct lconn *c;
    int32_t id;
    enum skind kind;
    int64_t t0;
    const struct body *req;
    size_t off;
    int http_status, grpc_status;
    uint8_t head[HEAD_KEEP];
    size_t head_len, bytes;
    struct grpc_deframer df;       /* SK_BIDI, and a call whose answer is saved */
    bool gather;
    uint8_t *whole;                /* the saved answer message */
    size_t whole_len;
    /* SK_BIDI */
    struct outmsg *q_head, *q_tail;
    bool waiting;
};

struct lconn {
    int idx;
    int fd;
    enum cstate st;
    nghttp2_session *h2;
    uint8_t *wbuf;
    size_t wlen, woff, wcap;
    bool epollout;                 /* EPOLLOUT registered */
    bool dirty;                    /* on the flush list */
    bool doomed;                   /* failed inside an nghttp2 callback: torn down after it returns */
    struct lstream *streams;
    struct lstream *bidi;
    int inflight;                  /* measured calls in flight */
    struct body reg;               /* this client's InstanceRequest (clients mode) */
    uint64_t seen_step;            /* the last change/close step this subscriber has seen */
};

struct opts {
    enum mode mode;
    int port, http_port;
    int conns, streams;
    long total;                    /* -n: this many calls, then stop (0: for --duration) */
    double duration, warmup;
    const char *type, *json, *expect, *save;
    bool setup;
    const char *preload_service;
    int preload_n;
    int victims, changes, closes, shared_n;
    int mock_pid;
    double hold;
};

static struct {
    struct opts o;
    int epfd;
    nghttp2_session_callbacks *cbs;
    struct lconn *c;
    int n_connecting, next_to_open, n_ready, n_dead;
    struct lstream *free_streams;
    struct body check, setup, call, subscribe;
    /* unary */
    bool running;
    int64_t t_measure, t_end;
    uint64_t calls, errors, answers_seen, issued;
    struct samples lat;
    bool saved, gathering;
    /* clients */
    uint64_t step;                 /* the current change or close, numbered from 1 */
    bool step_on;                  /* a step is being watched */
    const char *marker;            /* "\"ip\"" text a push must (want_present) or must not hold */
    bool want_present;
    int64_t step_t0;
    int step_expected, step_got;
    struct samples step_lat;
    uint64_t pushes, acks;
    char errmsg[256];
} g;

static void err_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void err_note(const char *fmt, ...)
{
    g.errors++;
    if (g.errmsg[0]) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g.errmsg, sizeof g.errmsg, fmt, ap);
    va_end(ap);
}

static struct lstream *stream_get(struct lconn *c, enum skind kind, const struct body *req)
{
    struct lstream *s = g.free_streams;
    if (s) g.free_streams = s->next;
    else if (!(s = malloc(sizeof *s))) die("out of memory");
    memset(s, 0, sizeof *s);
    s->c = c;
    s->kind = kind;
    s->req = req;
    s->http_status = 0;
    s->grpc_status = -1;
    s->next = c->streams;
    if (c->streams) c->streams->prev = s;
    c->streams = s;
    return s;
}

static void stream_put(struct lstream *s)
{
    struct lconn *c = s->c;
    if (s->prev) s->prev->next = s->next;
    else c->streams = s->next;
    if (s->next) s->next->prev = s->prev;
    if (c->bidi == s) c->bidi = NULL;
    grpc_deframer_free(&s->df);
    free(s->whole);
    for (struct outmsg *m = s->q_head, *n; m; m = n) {
        n = m->next;
        free(m->b.p);
        free(m);
    }
    s->next = g.free_streams;
    g.free_streams = s;
}

static ssize_t read_body(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
                         nghttp2_data_source *src, void *ud)
{
    (void)h2;
    (void)id;
    (void)ud;
    struct lstream *s = src->ptr;
    size_t k = s->req->n - s->off;
    if (k > length) k = length;
    memcpy(buf, s->req->p + s->off, k);
    s->off += k;
    if (s->off == s->req->n) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)k;
}

/* The bi-stream's data provider: queued messages, DEFERRED when there are none (never END_STREAM). */
static ssize_t read_bidi(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
                         nghttp2_data_source *src, void *ud)
{
    (void)h2;
    (void)id;
    (void)flags;
    (void)ud;
    struct lstream *s = src->ptr;
    size_t n = 0;
    while (s->q_head && n < length) {
        struct outmsg *m = s->q_head;
        size_t k = m->b.n - m->off;
        if (k > length - n) k = length - n;
        memcpy(buf + n, m->b.p + m->off, k);
        m->off += k;
        n += k;
        if (m->off < m->b.n) break;
        s->q_head = m->next;
        if (!s->q_head) s->q_tail = NULL;
        free(m->b.p);
        free(m);
    }
    if (n == 0) {
        s->waiting = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    return (ssize_t)n;
}

static void mark_out(struct lconn *c);

static int submit(struct lconn *c, struct lstream *s, const char *path)
{
    char auth[32];
    snprintf(auth, sizeof auth, "127.0.0.1:%d", g.o.port);
    nghttp2_nv nva[] = {
        {(uint8_t *)":method", (uint8_t *)"POST", 7, 4, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)":path", (uint8_t *)path, 5, strlen(path), NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)":authority", (uint8_t *)auth, 10, strlen(auth), NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"te", (uint8_t *)"trailers", 2, 8, NGHTTP2_NV_FLAG_NONE},
    };
    nghttp2_data_provider prd = {.source = {.ptr = s}, .read_callback = s->kind == SK_BIDI ? read_bidi : read_body};
    s->t0 = mono_us();
    int32_t id = nghttp2_submit_request(c->h2, NULL, nva, sizeof nva / sizeof nva[0], &prd, s);
    if (id < 0) {
        stream_put(s);
        return -1;
    }
    s->id = id;
    mark_out(c);
    return 0;
}

static void start_call(struct lconn *c, enum skind kind, const struct body *b)
{
    struct lstream *s = stream_get(c, kind, b);
    if (kind == SK_CALL) {
        c->inflight++;
        g.issued++;
    }
    if (kind == SK_CALL && g.o.save && !g.gathering && g.running && mono_us() >= g.t_measure) {
        g.gathering = true;   /* this call's answer is the one saved */
        s->gather = true;
        grpc_deframer_init(&s->df, GRPC_MESSAGE_MAX);
    }
    if (submit(c, s, PATH_UNARY)) {
        if (kind == SK_CALL) c->inflight--;
        err_note("cannot submit a call on connection %d", c->idx);
    }
}

static void bidi_send(struct lconn *c, struct body b)
{
    struct lstream *s = c->bidi;
    struct outmsg *m = malloc(sizeof *m);
    if (!s || !m) {
        free(m);
        free(b.p);
        return;
    }
    *m = (struct outmsg){.b = b};
    if (s->q_tail) s->q_tail->next = m;
    else s->q_head = m;
    s->q_tail = m;
    if (s->waiting) {
        s->waiting = false;
        nghttp2_session_resume_data(c->h2, s->id);
    }
    mark_out(c);
}

/* ---------------------------------------------------------------- connection life */

static void conn_ready(struct lconn *c)
{
    c->st = CS_READY;
    g.n_ready++;
    g.n_connecting--;
    if (g.o.mode == MODE_UNARY && g.running)
        for (int i = 0; i < g.o.streams; i++) start_call(c, SK_CALL, &g.call);
}

static void conn_dead(struct lconn *c, const char *why)
{
    if (c->st == CS_DEAD) return;
    if (c->st == CS_READY) g.n_ready--;
    else g.n_connecting--;
    if (why) err_note("connection %d: %s", c->idx, why);
    c->st = CS_DEAD;
    g.n_dead++;
    while (c->streams) stream_put(c->streams);
    nghttp2_session_del(c->h2);
    c->h2 = NULL;
    close(c->fd);
    c->fd = -1;
    free(c->wbuf);
    c->wbuf = NULL;
    c->wlen = c->woff = c->wcap = 0;
}

/* From inside an nghttp2 callback: the session must outlive the callback, so the connection is
 * torn down once nghttp2 has returned (conn_event, conn_flush). */
static void conn_fail(struct lconn *c, const char *why)
{
    if (why) err_note("connection %d: %s", c->idx, why);
    c->doomed = true;
}

/* The connection's set-up, after ServerCheck: the bi-stream and ConnectionSetupRequest on it. The
 * next step waits until that message's DATA frame has gone out (on_frame_send): nghttp2 sends HEADERS
 * before queued DATA, so a unary call submitted earlier could reach the server before the set-up. */
static void open_bidi(struct lconn *c)
{
    c->st = CS_SETUP;
    struct lstream *s = stream_get(c, SK_BIDI, NULL);
    grpc_deframer_init(&s->df, GRPC_MESSAGE_MAX);
    c->bidi = s;
    if (submit(c, s, PATH_BIDI)) {
        conn_fail(c, "cannot open the bi-stream");
        return;
    }
    struct body b = {malloc(g.setup.n), g.setup.n};
    if (!b.p) die("out of memory");
    memcpy(b.p, g.setup.p, g.setup.n);
    bidi_send(c, b);
}

static void setup_sent(struct lconn *c)
{
    if (g.o.mode == MODE_UNARY) {
        conn_ready(c);
        return;
    }
    c->st = CS_REGISTER;
    start_call(c, SK_REGISTER, &c->reg);
}

static void conn_start(struct lconn *c)
{
    if (!g.o.setup) {
        conn_ready(c);
        return;
    }
    c->st = CS_CHECK;
    start_call(c, SK_CHECK, &g.check);
}

static void open_one(int idx)
{
    struct lconn *c = &g.c[idx];
    memset(c, 0, sizeof *c);
    c->idx = idx;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) die("socket: %s", strerror(errno));
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g.o.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) && errno != EINPROGRESS) die("connect: %s", strerror(errno));
    if (nghttp2_session_client_new(&c->h2, g.cbs, c)) die("nghttp2_session_client_new");
    nghttp2_settings_entry iv[2] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                    {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 16 << 20}};
    if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, 2) ||
        nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, 64 << 20))
        die("nghttp2 settings");
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    if (epoll_ctl(g.epfd, EPOLL_CTL_ADD, c->fd, &ev)) die("epoll_ctl: %s", strerror(errno));
    c->epollout = true;
    c->st = CS_CONNECTING;
    g.n_connecting++;
    if (g.o.mode == MODE_CLIENTS) {
        char json[768], ip[32];
        const char *svc = idx < g.o.victims ? SHARED : NULL;
        char app[32];
        if (svc) {
            snprintf(ip, sizeof ip, "10.251.%d.%d", idx / 256, idx % 256);
        } else {
            snprintf(app, sizeof app, "bench-app-%d", idx % APP_SERVICES);
            svc = app;
            snprintf(ip, sizeof ip, "10.252.%d.%d", idx / 256, idx % 256);
        }
        snprintf(json, sizeof json,
                 "{\"headers\":{},\"requestId\":\"1\",\"namespace\":\"public\",\"serviceName\":\"%s\","
                 "\"groupName\":\"DEFAULT_GROUP\",\"module\":\"naming\",\"type\":\"registerInstance\","
                 "\"instance\":{\"ip\":\"%s\",\"port\":8080,\"weight\":1.0,\"healthy\":true,\"enabled\":true,"
                 "\"ephemeral\":true,\"clusterName\":\"DEFAULT\",\"metadata\":{}}}",
                 svc, ip);
        c->reg = make_body("InstanceRequest", json);
    }
}

/* Opens connections while fewer than MAX_CONNECTING are being set up. */
static void open_more(void)
{
    while (g.next_to_open < g.o.conns && g.n_connecting < MAX_CONNECTING) open_one(g.next_to_open++);
}

/* ---------------------------------------------------------------- answers and pushes */

static bool head_has(const struct lstream *s, const char *type)
{
    size_t tl = strlen(type);
    return s->head_len >= tl && memmem(s->head, s->head_len, type, tl) != NULL;
}

static void save_answer(const struct lstream *s)
{
    struct grpc_payload p;
    char err[128];
    if (!s->whole || grpc_payload_decode(s->whole, s->whole_len, &p, err, sizeof err)) {
        err_note("the answer to save is not a Payload");
        return;
    }
    FILE *f = fopen(g.o.save, "wb");
    if (!f || fwrite(p.body, 1, p.body_len, f) != p.body_len || fclose(f)) err_note("cannot write %s", g.o.save);
    grpc_payload_free(&p);
    g.saved = true;
}

/* A unary call ended (stream closed). */
static void call_done(struct lstream *s, uint32_t code)
{
    struct lconn *c = s->c;
    int64_t now = mono_us();
    bool ok = code == 0 && s->http_status == 200 && s->grpc_status == 0;
    const char *want = s->kind == SK_CALL ? g.o.expect
                     : s->kind == SK_CHECK ? (g.o.mode == MODE_UNARY ? NULL : "ServerCheckResponse")
                     : s->kind == SK_REGISTER ? "InstanceResponse"
                                              : "SubscribeServiceResponse";
    if (ok && want && !head_has(s, want)) {
        ok = false;
        char seen[48] = "";
        for (size_t i = 5; i < s->head_len && i - 5 < sizeof seen - 1; i++)
            seen[i - 5] = s->head[i] >= 0x20 && s->head[i] < 0x7f ? (char)s->head[i] : '.';
        err_note("expected a %s, got a Payload starting \"%s\" (%zu bytes)", want, seen, s->bytes);
    } else if (!ok) {
        err_note("call ended with HTTP/2 code %u, :status %d, grpc-status %d", code, s->http_status, s->grpc_status);
    }
    enum skind kind = s->kind;
    if (kind == SK_CALL) {
        c->inflight--;
        if (g.running && now >= g.t_measure) {
            g.answers_seen++;
            if (ok) {
                g.calls++;
                samples_add(&g.lat, now - s->t0);
            }
            if (s->gather && ok) save_answer(s);
        }
        stream_put(s);
        if (g.running && c->st == CS_READY && (!g.o.total || g.issued < (uint64_t)g.o.total))
            start_call(c, SK_CALL, &g.call);
        return;
    }
    stream_put(s);
    if (!ok) {
        conn_fail(c, NULL);
        return;
    }
    if (kind == SK_CHECK) open_bidi(c);
    else if (kind == SK_REGISTER) {
        c->st = CS_SUBSCRIBE;
        start_call(c, SK_SUBSCRIBE, &g.subscribe);
    } else if (kind == SK_SUBSCRIBE) {
        conn_ready(c);
    }
}

/* A message from the server on the bi-stream: pushes are answered and matched to the current step.
 * The Payload is not decoded (a push to 2,000 subscribers is 2,000 of them, on the CPUs the server
 * uses too): the type sits in its first bytes and the JSON body is in it verbatim. The framed ack
 * is reused while the requestId repeats (nacos-mock gives one push the same id for everyone). */
static void bidi_message(struct lconn *c, const uint8_t *msg, size_t len)
{
    static char ack_id[32];
    static struct body ack;
    int64_t now = mono_us();
    static const char type[] = "NotifySubscriberRequest", rid_key[] = "\"requestId\":\"";
    if (!memmem(msg, len < 64 ? len : 64, type, sizeof type - 1)) return;   /* other requests: no ack needed */
    g.pushes++;
    const char *rid = memmem(msg, len, rid_key, sizeof rid_key - 1);
    char id[32] = "";
    if (rid) {
        rid += sizeof rid_key - 1;
        size_t k = 0;
        while (k < sizeof id - 1 && (const uint8_t *)rid + k < msg + len && rid[k] != '"') k++;
        memcpy(id, rid, k);
        id[k] = '\0';
    }
    if (!ack.p || strcmp(id, ack_id)) {
        char json[160];
        snprintf(json, sizeof json,
                 "{\"headers\":{},\"requestId\":\"%s\",\"resultCode\":200,\"errorCode\":0,\"success\":true,"
                 "\"message\":\"\"}",
                 id);
        free(ack.p);
        ack = make_body("NotifySubscriberResponse", json);
        snprintf(ack_id, sizeof ack_id, "%s", id);
    }
    struct body b = {malloc(ack.n), ack.n};
    if (!b.p) die("out of memory");
    memcpy(b.p, ack.p, ack.n);
    bidi_send(c, b);
    g.acks++;
    if (g.step_on && c->seen_step != g.step) {
        bool present = memmem(msg, len, g.marker, strlen(g.marker)) != NULL;
        if (present == g.want_present) {
            c->seen_step = g.step;
            g.step_got++;
            samples_add(&g.step_lat, now - g.step_t0);
        }
    }
}

/* ---------------------------------------------------------------- nghttp2 callbacks */

static int on_header(nghttp2_session *h2, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
    (void)flags;
    (void)ud;
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    struct lstream *s = nghttp2_session_get_stream_user_data(h2, frame->hd.stream_id);
    if (!s) return 0;
    if (namelen == 7 && !memcmp(name, ":status", 7)) {
        s->http_status = (int)strtol((const char *)value, NULL, 10);   /* nghttp2 NUL-terminates values */
    } else if (namelen == 11 && !memcmp(name, "grpc-status", 11)) {
        s->grpc_status = (int)strtol((const char *)value, NULL, 10);
    }
    (void)valuelen;
    return 0;
}

static int on_data_chunk(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *ud)
{
    (void)flags;
    struct lconn *c = ud;
    struct lstream *s = nghttp2_session_get_stream_user_data(h2, id);
    if (!s) return 0;
    if (s->kind != SK_BIDI) {
        if (s->head_len < HEAD_KEEP) {
            size_t k = HEAD_KEEP - s->head_len < len ? HEAD_KEEP - s->head_len : len;
            memcpy(s->head + s->head_len, data, k);
            s->head_len += k;
        }
        s->bytes += len;
        if (s->gather) {
            const uint8_t *p = data, *msg;
            size_t n = len, mlen;
            if (grpc_deframer_next(&s->df, &p, &n, &msg, &mlen) == 1 && !s->whole) {
                s->whole = malloc(mlen ? mlen : 1);
                if (s->whole) memcpy(s->whole, msg, mlen);
                s->whole_len = mlen;
            }
        }
        return 0;
    }
    const uint8_t *p = data;
    size_t n = len;
    for (;;) {
        const uint8_t *msg;
        size_t mlen;
        int r = grpc_deframer_next(&s->df, &p, &n, &msg, &mlen);
        if (r == 0) break;
        if (r < 0) {
            err_note("bad message framing on the bi-stream of connection %d", c->idx);
            return 0;
        }
        bidi_message(c, msg, mlen);
    }
    return 0;
}

static int on_frame_send(nghttp2_session *h2, const nghttp2_frame *frame, void *ud)
{
    struct lconn *c = ud;
    if (frame->hd.type != NGHTTP2_DATA || c->st != CS_SETUP || !c->bidi || frame->hd.stream_id != c->bidi->id)
        return 0;
    (void)h2;
    setup_sent(c);
    return 0;
}

static int on_stream_close(nghttp2_session *h2, int32_t id, uint32_t code, void *ud)
{
    struct lconn *c = ud;
    struct lstream *s = nghttp2_session_get_stream_user_data(h2, id);
    if (!s) return 0;
    if (s->kind == SK_BIDI) {
        stream_put(s);
        if (c->st != CS_DEAD) err_note("the server ended the bi-stream of connection %d", c->idx);
        return 0;
    }
    call_done(s, code);
    return 0;
}

/* ---------------------------------------------------------------- the loop */

static struct lconn **g_dirty;
static size_t g_n_dirty;

static void mark_out(struct lconn *c)
{
    if (c->dirty) return;
    g_dirty[g_n_dirty++] = c;
    c->dirty = true;
}

static void conn_flush(struct lconn *c)
{
    if (c->st == CS_DEAD) return;
    for (;;) {
        while (c->wlen - c->woff < (64 << 10)) {
            const uint8_t *d;
            ssize_t k = nghttp2_session_mem_send(c->h2, &d);
            if (k < 0) {
                conn_dead(c, "nghttp2_session_mem_send failed");
                return;
            }
            if (k == 0) break;
            if (c->woff == c->wlen) c->woff = c->wlen = 0;
            if (c->wlen + (size_t)k > c->wcap) {
                size_t cap = c->wcap ? c->wcap * 2 : 16384;
                while (cap < c->wlen + (size_t)k) cap *= 2;
                uint8_t *nb = realloc(c->wbuf, cap);
                if (!nb) die("out of memory");
                c->wbuf = nb;
                c->wcap = cap;
            }
            memcpy(c->wbuf + c->wlen, d, (size_t)k);
            c->wlen += (size_t)k;
        }
        if (c->doomed) {
            conn_dead(c, NULL);
            return;
        }
        if (c->wlen == c->woff) break;
        ssize_t w = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOTCONN) break;
            if (errno == EINTR) continue;
            conn_dead(c, strerror(errno));
            return;
        }
        c->woff += (size_t)w;
    }
    bool out = c->wlen > c->woff || c->st == CS_CONNECTING;
    if (out != c->epollout) {
        struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
        epoll_ctl(g.epfd, EPOLL_CTL_MOD, c->fd, &ev);
        c->epollout = out;
    }
}

static void flush_all(void)
{
    /* A connection stays marked during its own flush: what its callbacks submit meanwhile goes out
     * in the same flush (mem_send runs until nothing is left), and the list holds each one once. */
    for (size_t i = 0; i < g_n_dirty; i++) {
        struct lconn *c = g_dirty[i];
        conn_flush(c);
        c->dirty = false;
    }
    g_n_dirty = 0;
}

static void conn_event(struct lconn *c, uint32_t events)
{
    if (c->st == CS_DEAD) return;
    if (c->st == CS_CONNECTING && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int e = 0;
        socklen_t l = sizeof e;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &l);
        if (e) {
            conn_dead(c, strerror(e));
            return;
        }
        conn_start(c);
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        static uint8_t buf[64 << 10];
        for (int i = 0; i < 4 && c->st != CS_DEAD; i++) {
            ssize_t n = read(c->fd, buf, sizeof buf);
            if (n > 0) {
                if (nghttp2_session_mem_recv(c->h2, buf, (size_t)n) < 0) conn_dead(c, "protocol error");
                else if (c->doomed) conn_dead(c, NULL);
                if ((size_t)n < sizeof buf) break;
                continue;
            }
            if (n == 0) conn_dead(c, g.running || g.o.mode == MODE_CLIENTS ? "closed by the server" : NULL);
            else if (errno != EAGAIN && errno != EINTR) conn_dead(c, strerror(errno));
            break;
        }
    }
    if (c->st != CS_DEAD) mark_out(c);
}

/* One round of the loop: wait up to timeout_ms, handle events, write. */
static void loop_once(int timeout_ms)
{
    struct epoll_event evs[256];
    int n = epoll_wait(g.epfd, evs, 256, timeout_ms);
    for (int i = 0; i < n; i++) conn_event(evs[i].data.ptr, evs[i].events);
    flush_all();
    open_more();
    flush_all();
}

/* ---------------------------------------------------------------- unary mode */

static void run_unary(void)
{
    if (g.o.preload_service) {
        for (int i = 0; i < g.o.preload_n; i++) {
            char ip[32];
            snprintf(ip, sizeof ip, "10.9.%d.%d", i / 256, i % 256);
            v1_register(g.o.http_port, g.o.preload_service, ip, "%7B%22version%22%3A%221.0%22%7D");
        }
    }
    int64_t t0 = mono_us();
    while (g.n_ready + g.n_dead < g.o.conns) {
        loop_once(100);
        if (mono_us() - t0 > STEP_TIMEOUT_US) die("connections not set up within 10 s (%d of %d)", g.n_ready, g.o.conns);
    }
    if (g.n_dead) die("%d connection(s) failed during set-up: %s", g.n_dead, g.errmsg);
    g.running = true;
    int64_t start = mono_us();
    g.t_measure = start + (int64_t)(g.o.warmup * 1e6);
    g.t_end = g.t_measure + (int64_t)(g.o.duration * 1e6);
    for (int i = 0; i < g.o.conns; i++)
        for (int k = 0; k < g.o.streams && (!g.o.total || g.issued < (uint64_t)g.o.total); k++)
            start_call(&g.c[i], SK_CALL, &g.call);
    flush_all();
    if (g.o.total) {   /* a fixed number of calls (no warm-up): e.g. for instruction counts under callgrind */
        while (g.answers_seen < (uint64_t)g.o.total && g.n_dead == 0 && mono_us() - start < 600 * 1000000LL)
            loop_once(10);
        g.t_end = mono_us();
        if (g.answers_seen < (uint64_t)g.o.total) err_note("%llu of %ld calls answered", (unsigned long long)g.answers_seen, g.o.total);
    } else {
        while (mono_us() < g.t_end && g.n_dead == 0) loop_once(10);
    }
    g.running = false;
    double secs = (double)(mono_us() < g.t_end ? mono_us() - g.t_measure : g.t_end - g.t_measure) / 1e6;
    qsort(g.lat.v, g.lat.n, sizeof *g.lat.v, cmp_u32);
    if (g.o.save && !g.saved) err_note("no answer was saved");
    printf("GRPC_LOAD mode=unary type=%s conns=%d streams=%d setup=%d calls=%llu secs=%.3f rps=%.1f p50_ms=%.3f "
           "p99_ms=%.3f max_ms=%.3f errors=%llu\n",
           g.o.type, g.o.conns, g.o.streams, g.o.setup, (unsigned long long)g.calls, secs, (double)g.calls / secs,
           quantile_ms(&g.lat, 0.5), quantile_ms(&g.lat, 0.99), g.lat.n ? g.lat.v[g.lat.n - 1] / 1000.0 : 0,
           (unsigned long long)g.errors);
    if (g.errors) fprintf(stderr, "nm_bench_grpc_load: first error: %s\n", g.errmsg);
}

/* ---------------------------------------------------------------- clients mode */

static long rss_kb(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) break;
    if (f) fclose(f);
    return kb;
}

/* CPU time (ns) the process has used, all threads: the first field of each thread's schedstat. */
static int64_t proc_cpu_ns(int pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *d = opendir(path);
    int64_t sum = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char f[320];
        snprintf(f, sizeof f, "/proc/%d/task/%s/schedstat", pid, e->d_name);
        FILE *fp = fopen(f, "r");
        long long ns = 0;
        if (fp && fscanf(fp, "%lld", &ns) == 1) sum += ns;
        if (fp) fclose(fp);
    }
    if (d) closedir(d);
    return sum;
}

static int64_t self_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Runs the loop for ms milliseconds (pushes are answered meanwhile). */
static void loop_for(int ms)
{
    int64_t end = mono_us() + (int64_t)ms * 1000;
    for (int64_t now; (now = mono_us()) < end;) loop_once((int)((end - now + 999) / 1000));
}

/* Waits until every live subscriber has seen the current step (or the step times out). */
static void wait_step(void)
{
    while (g.step_got < g.step_expected) {
        loop_once(5);
        if (mono_us() - g.step_t0 > STEP_TIMEOUT_US) {
            err_note("step %llu: %d of %d subscribers saw it within 10 s", (unsigned long long)g.step, g.step_got,
                     g.step_expected);
            break;
        }
    }
}

struct poller {                    /* GET instance/list until an ip is gone: "gone" time */
    pthread_t t;
    int port;
    char marker[48];
    int64_t t0, gone_us;
    atomic_bool stop;
};

static void *poller_main(void *arg)
{
    struct poller *p = arg;
    const char *target = "/nacos/v1/ns/instance/list?serviceName=" SHARED;
    while (!atomic_load(&p->stop)) {
        char *body = NULL;
        int st = http_do(p->port, "GET", target, &body);
        int64_t now = mono_us();
        bool gone = st == 200 && body && !strstr(body, p->marker);
        free(body);
        if (gone) {
            p->gone_us = now - p->t0;
            return NULL;
        }
        usleep(500);
    }
    return NULL;
}

static void print_lat(const char *name, struct samples *s)
{
    qsort(s->v, s->n, sizeof *s->v, cmp_u32);
    printf(" %s_n=%zu %s_min_ms=%.2f %s_p50_ms=%.2f %s_p99_ms=%.2f %s_max_ms=%.2f", name, s->n, name,
           s->n ? s->v[0] / 1000.0 : 0, name, quantile_ms(s, 0.5), name, quantile_ms(s, 0.99), name,
           s->n ? s->v[s->n - 1] / 1000.0 : 0);
}

static void run_clients(void)
{
    if (g.o.http_port <= 0) die("clients mode needs --http-port");
    for (int i = 0; i < g.o.shared_n; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "10.249.%d.%d", i / 256, i % 256);
        v1_register(g.o.http_port, SHARED, ip, NULL);
    }
    long rss_idle = g.o.mock_pid > 0 ? rss_kb(g.o.mock_pid) : -1;
    int64_t t0 = mono_us();
    while (g.n_ready + g.n_dead < g.o.conns) {
        loop_once(100);
        if (mono_us() - t0 > 60 * 1000000LL) die("clients not set up within 60 s (%d of %d)", g.n_ready, g.o.conns);
    }
    double setup_s = (double)(mono_us() - t0) / 1e6;
    if (g.n_dead) die("%d client(s) failed during set-up: %s", g.n_dead, g.errmsg);
    fprintf(stderr, "[grpc_load] %d clients set up in %.2f s\n", g.o.conns, setup_s);
    loop_for(SUBS_COALESCE_MS * 4);   /* the victims' registrations are pushed: let that settle */
    long rss = g.o.mock_pid > 0 ? rss_kb(g.o.mock_pid) : -1;
    if (g.o.hold > 0) {   /* time to look at the server with every client connected */
        fprintf(stderr, "[grpc_load] holding %d clients for %.1f s\n", g.n_ready, g.o.hold);
        loop_for((int)(g.o.hold * 1000));
    }

    /* one change at a time: a v1 register into the shared service */
    struct samples fan = {0};
    int64_t cpu_srv = 0, cpu_self = 0;   /* CPU used while changes were pushed (ns) */
    for (int k = 1; k <= g.o.changes; k++) {
        int64_t srv0 = g.o.mock_pid > 0 ? proc_cpu_ns(g.o.mock_pid) : 0, self0 = self_cpu_ns();
        char ip[32], marker[40];
        snprintf(ip, sizeof ip, "10.250.0.%d", k);
        snprintf(marker, sizeof marker, "\"%s\"", ip);
        g.step++;
        g.step_on = true;
        g.marker = marker;
        g.want_present = true;
        g.step_expected = g.n_ready;
        g.step_got = 0;
        g.step_lat.n = 0;
        g.step_t0 = mono_us();
        v1_register(g.o.http_port, SHARED, ip, NULL);
        wait_step();
        cpu_srv += g.o.mock_pid > 0 ? proc_cpu_ns(g.o.mock_pid) - srv0 : 0;
        cpu_self += self_cpu_ns() - self0;
        qsort(g.step_lat.v, g.step_lat.n, sizeof *g.step_lat.v, cmp_u32);
        fprintf(stderr, "[grpc_load] change %d: %d subscribers pushed, p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", k,
                g.step_got, quantile_ms(&g.step_lat, 0.5), quantile_ms(&g.step_lat, 0.99),
                g.step_lat.n ? g.step_lat.v[g.step_lat.n - 1] / 1000.0 : 0);
        for (size_t i = 0; i < g.step_lat.n; i++) samples_add(&fan, g.step_lat.v[i]);
        g.step_on = false;
        loop_for(SUBS_COALESCE_MS * 2);
    }

    /* one close at a time: a victim's TCP connection */
    struct samples gone = {0}, pushed = {0};
    int closes = g.o.closes < g.o.victims ? g.o.closes : g.o.victims;
    for (int v = 0; v < closes; v++) {
        struct lconn *c = &g.c[v];
        if (c->st != CS_READY) continue;
        struct poller p = {.port = g.o.http_port};
        snprintf(p.marker, sizeof p.marker, "\"10.251.%d.%d\"", v / 256, v % 256);
        g.step++;
        g.step_on = true;
        g.marker = p.marker;
        g.want_present = false;
        g.step_got = 0;
        g.step_lat.n = 0;
        c->seen_step = g.step;   /* it is the one going */
        g.step_t0 = p.t0 = mono_us();
        conn_dead(c, NULL);      /* close(2): no GOAWAY, as a crashed client */
        g.n_dead--;
        g.step_expected = g.n_ready;
        if (pthread_create(&p.t, NULL, poller_main, &p)) die("pthread_create");
        wait_step();
        int64_t wait_end = mono_us() + STEP_TIMEOUT_US;
        while (!p.gone_us && mono_us() < wait_end) loop_once(5);
        atomic_store(&p.stop, true);
        pthread_join(p.t, NULL);
        if (!p.gone_us) err_note("close %d: the instance was still listed after 10 s", v);
        else samples_add(&gone, p.gone_us);
        qsort(g.step_lat.v, g.step_lat.n, sizeof *g.step_lat.v, cmp_u32);
        fprintf(stderr, "[grpc_load] close %d: gone from the list after %.2f ms; %d subscribers pushed, p99 %.2f ms\n",
                v, p.gone_us / 1000.0, g.step_got, quantile_ms(&g.step_lat, 0.99));
        for (size_t i = 0; i < g.step_lat.n; i++) samples_add(&pushed, g.step_lat.v[i]);
        g.step_on = false;
        loop_for(SUBS_COALESCE_MS * 2);
    }
    printf("GRPC_LOAD mode=clients clients=%d ready=%d setup_s=%.2f rss_idle_kb=%ld rss_kb=%ld coalesce_ms=%d "
           "pushes=%llu acks=%llu",
           g.o.conns, g.n_ready, setup_s, rss_idle, rss, SUBS_COALESCE_MS, (unsigned long long)g.pushes,
           (unsigned long long)g.acks);
    print_lat("fanout", &fan);
    printf(" fanout_cpu_server_ms=%.2f fanout_cpu_load_ms=%.2f", g.o.changes ? cpu_srv / 1e6 / g.o.changes : 0,
           g.o.changes ? cpu_self / 1e6 / g.o.changes : 0);
    print_lat("gone", &gone);
    print_lat("closepush", &pushed);
    printf(" errors=%llu\n", (unsigned long long)g.errors);
    if (g.errors) fprintf(stderr, "nm_bench_grpc_load: first error: %s\n", g.errmsg);
    free(fan.v);
    free(gone.v);
    free(pushed.v);
}

/* ---------------------------------------------------------------- main */

static void usage(void)
{
    fprintf(stderr,
            "usage: nm_bench_grpc_load unary --port P -c C -m M (-d S [--warmup S] | -n CALLS) --type T --json J --expect E\n"
            "                          [--no-setup] [--save-answer FILE] [--preload SERVICE:N --http-port H]\n"
            "       nm_bench_grpc_load clients --port P --http-port H [-c C] [--victims V] [--changes K]\n"
            "                          [--closes K] [--shared-instances N] [--mock-pid PID] [--hold S]\n");
    exit(2);
}

static int int_arg(const char *v)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (*end || n < 0 || n > 1000000) usage();
    return (int)n;
}

int main(int argc, char **argv)
{
    if (argc < 2) usage();
    struct opts *o = &g.o;
    *o = (struct opts){.conns = 32, .streams = 10, .duration = 5, .warmup = 0.5, .setup = true, .victims = 5,
                       .changes = 5, .closes = 5, .shared_n = 10};
    if (!strcmp(argv[1], "unary")) o->mode = MODE_UNARY;
    else if (!strcmp(argv[1], "clients")) (o->mode = MODE_CLIENTS), o->conns = 2000;
    else usage();
    static const struct option lo[] = {
        {"port", 1, 0, 'p'}, {"http-port", 1, 0, 'H'}, {"duration", 1, 0, 'd'}, {"warmup", 1, 0, 'w'},
        {"type", 1, 0, 't'}, {"json", 1, 0, 'j'}, {"expect", 1, 0, 'e'}, {"no-setup", 0, 0, 'N'},
        {"save-answer", 1, 0, 's'}, {"preload", 1, 0, 'P'}, {"victims", 1, 0, 'v'}, {"changes", 1, 0, 'k'},
        {"closes", 1, 0, 'x'}, {"shared-instances", 1, 0, 'i'}, {"mock-pid", 1, 0, 'M'}, {"hold", 1, 0, 'h'},
        {0, 0, 0, 0}};
    int ch;
    optind = 2;
    while ((ch = getopt_long(argc, argv, "c:m:d:n:", lo, NULL)) != -1) {
        switch (ch) {
        case 'p': o->port = int_arg(optarg); break;
        case 'H': o->http_port = int_arg(optarg); break;
        case 'c': o->conns = int_arg(optarg); break;
        case 'm': o->streams = int_arg(optarg); break;
        case 'd': o->duration = atof(optarg); break;
        case 'n': o->total = int_arg(optarg); break;
        case 'w': o->warmup = atof(optarg); break;
        case 't': o->type = optarg; break;
        case 'j': o->json = optarg; break;
        case 'e': o->expect = optarg; break;
        case 'N': o->setup = false; break;
        case 's': o->save = optarg; break;
        case 'P': {
            char *colon = strrchr(optarg, ':');
            if (!colon) usage();
            *colon = '\0';
            o->preload_service = optarg;
            o->preload_n = int_arg(colon + 1);
            break;
        }
        case 'v': o->victims = int_arg(optarg); break;
        case 'k': o->changes = int_arg(optarg); break;
        case 'x': o->closes = int_arg(optarg); break;
        case 'i': o->shared_n = int_arg(optarg); break;
        case 'M': o->mock_pid = int_arg(optarg); break;
        case 'h': o->hold = atof(optarg); break;
        default: usage();
        }
    }
    if (optind != argc || o->port <= 0 || o->conns < 1 || o->duration <= 0 || o->warmup < 0) usage();
    if (o->mode == MODE_UNARY && (!o->type || !o->json || !o->expect || o->streams < 1)) usage();
    if (o->preload_service && o->http_port <= 0) usage();
    if (o->mode == MODE_CLIENTS) o->setup = true;
    if (o->total) o->warmup = 0;
    if (o->victims > o->conns) o->victims = o->conns;

    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;   /* room for the connections */
    if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    g.check = make_body("ServerCheckRequest", "{\"headers\":{},\"requestId\":\"0\",\"module\":\"internal\"}");
    g.setup = make_body("ConnectionSetupRequest",
                        "{\"clientVersion\":\"Nacos-Java-Client:v2.3.0\",\"abilityTable\":{},\"tenant\":\"\","
                        "\"labels\":{\"source\":\"sdk\",\"module\":\"naming\",\"AppName\":\"bench\"},"
                        "\"headers\":{},\"requestId\":\"\",\"module\":\"internal\"}");
    g.subscribe = make_body("SubscribeServiceRequest",
                            "{\"headers\":{},\"requestId\":\"2\",\"namespace\":\"public\",\"serviceName\":\"" SHARED
                            "\",\"groupName\":\"DEFAULT_GROUP\",\"module\":\"naming\",\"subscribe\":true,"
                            "\"clusters\":\"\"}");
    if (o->mode == MODE_UNARY) g.call = make_body(o->type, o->json);

    nghttp2_session_callbacks_new(&g.cbs);
    nghttp2_session_callbacks_set_on_header_callback(g.cbs, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(g.cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_send_callback(g.cbs, on_frame_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(g.cbs, on_stream_close);
    g.epfd = epoll_create1(EPOLL_CLOEXEC);
    g.c = calloc((size_t)o->conns, sizeof *g.c);
    g_dirty = calloc((size_t)o->conns, sizeof *g_dirty);
    if (g.epfd < 0 || !g.c || !g_dirty) die("out of memory");
    open_more();

    if (o->mode == MODE_UNARY) run_unary();
    else run_clients();

    for (int i = 0; i < g.next_to_open; i++) {
        if (g.c[i].st != CS_DEAD) conn_dead(&g.c[i], NULL);
        free(g.c[i].reg.p);
    }
    while (g.free_streams) {
        struct lstream *s = g.free_streams;
        g.free_streams = s->next;
        free(s);
    }
    free(g.check.p);
    free(g.setup.p);
    free(g.subscribe.p);
    free(g.call.p);
    free(g.lat.v);
    free(g.step_lat.v);
    free(g.c);
    free(g_dirty);
    close(g.epfd);
    nghttp2_session_callbacks_del(g.cbs);
    return g.errors ? 1 : 0;
}
