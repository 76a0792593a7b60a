/*
 * grpc_client.c — the tests' blocking h2c gRPC client (see grpc_client.h). One poll(2) loop per
 * wait: write what nghttp2 has, read what the server sent, until the condition or the deadline.
 */
#include "grpc_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>

#include "nacos_mock/grpc_frame.h"
#include "nacos_mock/grpc_payload.h"

struct gc_msg {
    struct gc_msg *next;
    uint8_t *p;
    size_t n, off;
};

struct gc_call {
    int32_t id;
    bool bidi, done, end_stream_seen, headers_seen;
    struct gc_result r;
    struct grpc_deframer df;
    struct gc_msg *in_head, *in_tail;    /* messages received (bi-stream) */
    struct gc_msg *out_head, *out_tail;  /* request bytes to send */
    bool half_closed;                    /* END_STREAM once out is drained */
    bool waiting;                        /* our data provider answered DEFERRED */
};

struct gc {
    int fd;
    bool raw;
    char authority[64];
    nghttp2_session *h2;
    nghttp2_hd_deflater *def;
    nghttp2_hd_inflater *inf;
    struct gc_call **calls;              /* by (stream id - 1) / 2 */
    size_t n_calls;
    struct gc_call *bi;
    uint8_t *wbuf;
    size_t wlen, woff, wcap;
    uint8_t *rbuf;                       /* raw: bytes of an incomplete frame */
    size_t rlen, rcap;
    bool goaway, eof, settings_seen;
    bool not_reading;                    /* gc_set_reading(false): a peer that never reads */
    uint32_t goaway_code;
    struct gc_raw_stats stats;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void gc_result_free(struct gc_result *r)
{
    if (!r) return;
    free(r->msg);
    free(r->type);
    free(r->json);
    r->msg = NULL;
    r->type = r->json = NULL;
}

static struct gc_call *call_of(struct gc *c, int32_t id)
{
    if (id <= 0 || !(id & 1)) return NULL;
    size_t i = (size_t)(id - 1) / 2;
    return i < c->n_calls ? c->calls[i] : NULL;
}

static int call_put(struct gc *c, struct gc_call *call)
{
    size_t i = (size_t)(call->id - 1) / 2;
    if (i >= c->n_calls) {
        size_t n = c->n_calls ? c->n_calls : 64;
        while (n <= i) n *= 2;
        struct gc_call **nc = realloc(c->calls, n * sizeof *nc);
        if (!nc) return -1;
        memset(nc + c->n_calls, 0, (n - c->n_calls) * sizeof *nc);
        c->calls = nc;
        c->n_calls = n;
    }
    c->calls[i] = call;
    return 0;
}

static void msgs_free(struct gc_msg *m)
{
    while (m) {
        struct gc_msg *next = m->next;
        free(m->p);
        free(m);
        m = next;
    }
}

static void call_free(struct gc_call *call)
{
    if (!call) return;
    gc_result_free(&call->r);
    grpc_deframer_free(&call->df);
    msgs_free(call->in_head);
    msgs_free(call->out_head);
    free(call);
}

static int push_msg(struct gc_msg **head, struct gc_msg **tail, uint8_t *p, size_t n)
{
    struct gc_msg *m = calloc(1, sizeof *m);
    if (!m) {
        free(p);
        return -1;
    }
    m->p = p;
    m->n = n;
    if (*tail) (*tail)->next = m;
    else *head = m;
    *tail = m;
    return 0;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

static void percent_decode(const uint8_t *v, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < cap; i++) {
        int hi, lo;
        if (v[i] == '%' && i + 2 < n && (hi = hexval((char)v[i + 1])) >= 0 && (lo = hexval((char)v[i + 2])) >= 0) {
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = (char)v[i];
        }
    }
    out[o] = '\0';
}

static bool name_is(const uint8_t *p, size_t n, const char *lit)
{
    return n == strlen(lit) && memcmp(p, lit, n) == 0;
}

/* The grpc-status / :status / grpc-message of one header into a result. */
static void take_header(struct gc_result *r, const uint8_t *name, size_t nlen, const uint8_t *value, size_t vlen)
{
    char v[32];
    if (name_is(name, nlen, ":status") || name_is(name, nlen, "grpc-status")) {
        snprintf(v, sizeof v, "%.*s", (int)(vlen < 31 ? vlen : 31), (const char *)value);
        long x = strtol(v, NULL, 10);
        if (name[0] == ':') r->http_status = (int)x;
        else r->grpc_status = (int)x;
    } else if (name_is(name, nlen, "grpc-message")) {
        percent_decode(value, vlen, r->grpc_message, sizeof r->grpc_message);
    }
}

/* ---------------------------------------------------------------- nghttp2 client callbacks */

static int on_header(nghttp2_session *h2, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
    (void)h2;
    (void)flags;
    struct gc_call *call = call_of(ud, frame->hd.stream_id);
    if (call && frame->hd.type == NGHTTP2_HEADERS) take_header(&call->r, name, namelen, value, valuelen);
    return 0;
}

static int on_data_chunk(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *ud)
{
    (void)h2;
    (void)flags;
    struct gc_call *call = call_of(ud, id);
    if (!call) return 0;
    const uint8_t *p = data;
    size_t n = len;
    for (;;) {
        const uint8_t *msg;
        size_t mlen;
        int r = grpc_deframer_next(&call->df, &p, &n, &msg, &mlen);
        if (r <= 0) break;
        uint8_t *copy = malloc(mlen ? mlen : 1);
        if (!copy) break;
        if (mlen) memcpy(copy, msg, mlen);
        call->r.n_msgs++;
        if (call->bidi) {
            push_msg(&call->in_head, &call->in_tail, copy, mlen);
        } else if (!call->r.msg) {
            call->r.msg = copy;
            call->r.len = mlen;
        } else {
            free(copy);
        }
    }
    return 0;
}

static int on_frame_recv(nghttp2_session *h2, const nghttp2_frame *frame, void *ud)
{
    (void)h2;
    struct gc *c = ud;
    if (frame->hd.type == NGHTTP2_GOAWAY) {
        c->goaway = true;
        c->goaway_code = frame->goaway.error_code;
        return 0;
    }
    if (frame->hd.type == NGHTTP2_SETTINGS && !(frame->hd.flags & NGHTTP2_FLAG_ACK)) c->settings_seen = true;
    struct gc_call *call = call_of(c, frame->hd.stream_id);
    if (!call) return 0;
    if (frame->hd.type == NGHTTP2_HEADERS) call->headers_seen = true;
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
        call->end_stream_seen = true;
    return 0;
}

static int on_stream_close(nghttp2_session *h2, int32_t id, uint32_t error_code, void *ud)
{
    (void)h2;
    struct gc_call *call = call_of(ud, id);
    if (!call) return 0;
    call->done = true;
    if (!call->end_stream_seen) {
        call->r.reset = true;
        call->r.rst_code = error_code;
    }
    return 0;
}

static ssize_t provider_read(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
                             nghttp2_data_source *src, void *ud)
{
    (void)h2;
    (void)id;
    (void)ud;
    struct gc_call *call = src->ptr;
    size_t n = 0;
    while (call->out_head && n < length) {
        struct gc_msg *m = call->out_head;
        size_t k = m->n - m->off;
        if (k > length - n) k = length - n;
        memcpy(buf + n, m->p + m->off, k);
        m->off += k;
        n += k;
        if (m->off == m->n) {
            call->out_head = m->next;
            if (!call->out_head) call->out_tail = NULL;
            free(m->p);
            free(m);
        }
    }
    if (!call->out_head && call->half_closed) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        return (ssize_t)n;
    }
    if (n == 0) {
        call->waiting = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    return (ssize_t)n;
}

/* ---------------------------------------------------------------- I/O */

static void raw_feed(struct gc *c, const uint8_t *p, size_t n);

static void feed(struct gc *c, const uint8_t *p, size_t n)
{
    if (c->raw) {
        raw_feed(c, p, n);
    } else if (nghttp2_session_mem_recv(c->h2, p, n) < 0) {
        c->eof = true;   /* the session is broken: as good as closed */
    }
}

static int wbuf_add(struct gc *c, const uint8_t *p, size_t n)
{
    if (c->woff == c->wlen) c->woff = c->wlen = 0;
    if (c->wlen + n > c->wcap) {
        size_t cap = c->wcap ? c->wcap : 65536;
        while (cap < c->wlen + n) cap *= 2;
        uint8_t *nb = realloc(c->wbuf, cap);
        if (!nb) return -1;
        c->wbuf = nb;
        c->wcap = cap;
    }
    memcpy(c->wbuf + c->wlen, p, n);
    c->wlen += n;
    return 0;
}

/* Writes until the socket would block. */
static void flush(struct gc *c)
{
    if (c->eof) return;
    for (;;) {
        while (!c->raw && c->wlen - c->woff < 65536) {
            const uint8_t *d;
            ssize_t k = nghttp2_session_mem_send(c->h2, &d);
            if (k <= 0) break;
            if (wbuf_add(c, d, (size_t)k)) {
                c->eof = true;
                return;
            }
        }
        if (c->wlen == c->woff) return;
        ssize_t w = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) c->eof = true;
            return;
        }
        c->woff += (size_t)w;
    }
}

/* One round: write, wait up to timeout_ms for input, read what is there, write again. */
static void io_once(struct gc *c, int timeout_ms)
{
    flush(c);
    if (c->eof) return;
    struct pollfd pfd = {.fd = c->fd, .events = (c->not_reading ? 0 : POLLIN) | (c->wlen > c->woff ? POLLOUT : 0)};
    int r = poll(&pfd, 1, timeout_ms < 0 ? 0 : timeout_ms);
    if (c->not_reading) pfd.revents &= ~(POLLIN | POLLHUP | POLLERR);
    if (r > 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR))) {
        uint8_t buf[65536];
        for (int i = 0; i < 16 && !c->eof; i++) {
            ssize_t n = recv(c->fd, buf, sizeof buf, 0);
            if (n > 0) {
                feed(c, buf, (size_t)n);
            } else if (n == 0) {
                c->eof = true;
            } else {
                if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) c->eof = true;
                break;
            }
        }
    }
    flush(c);
}

void gc_pump(struct gc *c, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    do {
        io_once(c, (int)(end - now_ms()));
    } while (!c->eof && now_ms() < end);
}

/* Pumps until done(c, arg) or the deadline or the end of the connection. */
static bool wait_for(struct gc *c, int timeout_ms, bool (*done)(struct gc *, const void *), const void *arg)
{
    int64_t end = now_ms() + timeout_ms;
    for (;;) {
        if (done(c, arg)) return true;
        if (c->eof) return false;
        int64_t left = end - now_ms();
        if (left <= 0) return false;
        io_once(c, (int)left);
    }
}

/* ---------------------------------------------------------------- connecting */

static int dial(const char *host, int port, int timeout_ms)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    if (getaddrinfo(host, ps, &hints, &ai) || !ai) return -1;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) && errno != EINPROGRESS) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd < 0) return -1;
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    int err = 0;
    socklen_t el = sizeof err;
    if (poll(&pfd, 1, timeout_ms) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) || err) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static struct gc *gc_new(const char *host, int port, int timeout_ms, bool raw)
{
    struct gc *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->raw = raw;
    c->fd = dial(host, port, timeout_ms);
    snprintf(c->authority, sizeof c->authority, "%s:%d", host, port);
    if (c->fd < 0 || nghttp2_hd_deflate_new(&c->def, 4096) || nghttp2_hd_inflate_new(&c->inf)) {
        gc_close(c);
        return NULL;
    }
    return c;
}

static bool settings_came(struct gc *c, const void *arg)
{
    (void)arg;
    return c->settings_seen;
}

struct gc *gc_connect(const char *host, int port, int timeout_ms)
{
    struct gc *c = gc_new(host, port, timeout_ms, false);
    if (!c) return NULL;
    nghttp2_session_callbacks *cbs = NULL;
    if (nghttp2_session_callbacks_new(&cbs)) goto fail;
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    int rv = nghttp2_session_client_new(&c->h2, cbs, c);
    nghttp2_session_callbacks_del(cbs);
    if (rv) goto fail;
    nghttp2_settings_entry iv[1] = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 16 << 20}};
    if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, 1)) goto fail;
    if (nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, 64 << 20)) goto fail;
    if (!wait_for(c, timeout_ms, settings_came, NULL)) goto fail;
    return c;
fail:
    gc_close(c);
    return NULL;
}

struct gc *gc_connect_raw(const char *host, int port, int timeout_ms)
{
    return gc_new(host, port, timeout_ms, true);
}

void gc_close(struct gc *c)
{
    if (!c) return;
    if (c->fd >= 0) close(c->fd);
    if (c->h2) nghttp2_session_del(c->h2);
    if (c->def) nghttp2_hd_deflate_del(c->def);
    if (c->inf) nghttp2_hd_inflate_del(c->inf);
    for (size_t i = 0; i < c->n_calls; i++) call_free(c->calls[i]);
    free(c->calls);
    free(c->wbuf);
    free(c->rbuf);
    free(c);
}

/* ---------------------------------------------------------------- calls */

#define REQUEST_NV 6

/* The request headers of a gRPC call to path, as grpc-java sends them, into nva[REQUEST_NV]. */
static size_t request_nva(const struct gc *c, const char *path, nghttp2_nv *nva)
{
    const char *const kv[REQUEST_NV][2] = {{":method", "POST"}, {":scheme", "http"}, {":path", path},
                                           {":authority", c->authority}, {"content-type", "application/grpc"},
                                           {"te", "trailers"}};
    for (size_t i = 0; i < REQUEST_NV; i++)
        nva[i] = (nghttp2_nv){(uint8_t *)kv[i][0], (uint8_t *)kv[i][1], strlen(kv[i][0]), strlen(kv[i][1]),
                              NGHTTP2_NV_FLAG_NONE};
    return REQUEST_NV;
}

static int32_t start_call(struct gc *c, const char *path, bool bidi, uint8_t *body, size_t len, bool end_stream)
{
    if (c->raw || c->eof) {
        free(body);
        return -1;
    }
    struct gc_call *call = calloc(1, sizeof *call);
    if (!call) {
        free(body);
        return -1;
    }
    call->bidi = bidi;
    call->half_closed = end_stream;
    call->r.grpc_status = -1;
    grpc_deframer_init(&call->df, (size_t)1 << 30);
    if (body && push_msg(&call->out_head, &call->out_tail, body, len)) {
        call_free(call);
        return -1;
    }
    nghttp2_nv nva[REQUEST_NV + 1];
    size_t nv = request_nva(c, path, nva);
    nghttp2_data_provider prd = {.source = {.ptr = call}, .read_callback = provider_read};
    int32_t id = nghttp2_submit_request(c->h2, NULL, nva, nv, &prd, call);
    if (id < 0) {
        call_free(call);
        return -1;
    }
    call->id = id;
    if (call_put(c, call)) {   /* nghttp2 keeps the stream; it finds no call and is ignored */
        call_free(call);
        return -1;
    }
    flush(c);
    return id;
}

int32_t gc_start_body(struct gc *c, const char *path, const uint8_t *body, size_t len, bool end_stream)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) return -1;
    if (len) memcpy(copy, body, len);
    return start_call(c, path, false, copy, len, end_stream);
}

/* Payload {type, json}, framed. Caller frees. */
static uint8_t *framed_payload(const char *type, const char *json, size_t *out_len)
{
    size_t plen = 0;
    uint8_t *pl = grpc_payload_encode(type, json, strlen(json), &plen);
    if (!pl) return NULL;
    uint8_t *framed = grpc_frame_encode(pl, plen, out_len);
    free(pl);
    return framed;
}

int32_t gc_start(struct gc *c, const char *type, const char *json)
{
    size_t n = 0;
    uint8_t *framed = framed_payload(type, json, &n);
    if (!framed) return -1;
    return start_call(c, GC_PATH_UNARY, false, framed, n, true);
}

static bool call_ended(struct gc *c, const void *arg)
{
    const struct gc_call *call = call_of(c, *(const int32_t *)arg);
    return !call || call->done;
}

bool gc_done(struct gc *c, int32_t id)
{
    return call_ended(c, &id);
}

/* Moves the call's result into *r (decoding the first message as a Payload). */
static void take_result(struct gc_call *call, struct gc_result *r)
{
    *r = call->r;
    memset(&call->r, 0, sizeof call->r);
    call->r.grpc_status = r->grpc_status;
    if (r->msg) {
        struct grpc_payload p;
        char err[128];
        if (grpc_payload_decode(r->msg, r->len, &p, err, sizeof err) == 0) {
            r->type = strdup(p.type);
            r->json = strdup(p.body);
            grpc_payload_free(&p);
        }
    }
}

int gc_wait(struct gc *c, int32_t id, int timeout_ms, struct gc_result *r)
{
    memset(r, 0, sizeof *r);
    r->grpc_status = -1;
    struct gc_call *call = call_of(c, id);
    if (!call) return -1;
    bool ok = wait_for(c, timeout_ms, call_ended, &id);
    take_result(call, r);
    return ok ? 0 : -1;
}

int gc_unary(struct gc *c, const char *type, const char *json, int timeout_ms, struct gc_result *r)
{
    int32_t id = gc_start(c, type, json);
    if (id < 0) {
        memset(r, 0, sizeof *r);
        r->grpc_status = -1;
        return -1;
    }
    return gc_wait(c, id, timeout_ms, r);
}

int gc_cancel(struct gc *c, int32_t id)
{
    if (c->raw || nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL)) return -1;
    flush(c);
    return 0;
}

/* ---------------------------------------------------------------- the bi-stream */

static bool bi_headers(struct gc *c, const void *arg)
{
    (void)arg;
    return c->bi && (c->bi->headers_seen || c->bi->done);
}

int gc_bi_open(struct gc *c, int timeout_ms)
{
    int32_t id = start_call(c, GC_PATH_BIDI, true, NULL, 0, false);
    if (id < 0) return -1;
    c->bi = call_of(c, id);
    if (!wait_for(c, timeout_ms, bi_headers, NULL)) return -1;
    return c->bi->done || c->bi->r.http_status != 200 ? -1 : 0;
}

static void wake_provider(struct gc *c, struct gc_call *call)
{
    if (call->waiting) {
        call->waiting = false;
        nghttp2_session_resume_data(c->h2, call->id);
    }
    flush(c);
}

int gc_bi_send(struct gc *c, const char *type, const char *json)
{
    if (!c->bi || c->bi->done || c->bi->half_closed) return -1;
    size_t n = 0;
    uint8_t *framed = framed_payload(type, json, &n);
    if (!framed || push_msg(&c->bi->out_head, &c->bi->out_tail, framed, n)) return -1;
    wake_provider(c, c->bi);
    return 0;
}

static bool bi_ready(struct gc *c, const void *arg)
{
    (void)arg;
    return !c->bi || c->bi->in_head || c->bi->done;
}

int gc_bi_recv(struct gc *c, int timeout_ms, char **type, char **json)
{
    *type = *json = NULL;
    if (!c->bi) return -1;
    wait_for(c, timeout_ms, bi_ready, NULL);
    struct gc_call *call = c->bi;
    struct gc_msg *m = call->in_head;
    if (!m) return call->done ? 1 : -1;
    call->in_head = m->next;
    if (!call->in_head) call->in_tail = NULL;
    struct grpc_payload p;
    char err[128];
    if (grpc_payload_decode(m->p, m->n, &p, err, sizeof err) == 0) {
        *type = strdup(p.type);
        *json = strdup(p.body);
        grpc_payload_free(&p);
    } else {
        *type = strdup("");
        *json = strdup("");
    }
    free(m->p);
    free(m);
    return 0;
}

int gc_bi_half_close(struct gc *c)
{
    if (!c->bi || c->bi->done) return -1;
    c->bi->half_closed = true;
    wake_provider(c, c->bi);
    return 0;
}

int gc_bi_reset(struct gc *c)
{
    if (!c->bi) return -1;
    return gc_cancel(c, c->bi->id);
}

const struct gc_result *gc_bi_result(struct gc *c)
{
    return c->bi ? &c->bi->r : NULL;
}

/* ---------------------------------------------------------------- closure */

static bool closed(struct gc *c, const void *arg)
{
    (void)arg;
    return c->goaway || c->eof;
}

bool gc_wait_closed(struct gc *c, int timeout_ms)
{
    return wait_for(c, timeout_ms, closed, NULL) || c->eof;
}

void gc_set_reading(struct gc *c, bool on) { c->not_reading = !on; }

bool gc_goaway(const struct gc *c) { return c->goaway; }
uint32_t gc_goaway_code(const struct gc *c) { return c->goaway_code; }
bool gc_eof(const struct gc *c) { return c->eof; }

/* ---------------------------------------------------------------- raw connections */

int gc_send_raw(struct gc *c, const void *p, size_t n)
{
    if (c->eof || wbuf_add(c, p, n)) return -1;
    int64_t end = now_ms() + 10000;
    flush(c);
    while (c->wlen > c->woff && !c->eof && now_ms() < end) io_once(c, 50);
    return c->wlen == c->woff ? 0 : -1;   /* all written (the peer may have closed since) */
}

size_t gc_raw_frame(uint8_t *out, uint8_t type, uint8_t flags, uint32_t stream, const void *payload, size_t len)
{
    out[0] = (uint8_t)(len >> 16);
    out[1] = (uint8_t)(len >> 8);
    out[2] = (uint8_t)len;
    out[3] = type;
    out[4] = flags;
    out[5] = (uint8_t)(stream >> 24 & 0x7f);
    out[6] = (uint8_t)(stream >> 16);
    out[7] = (uint8_t)(stream >> 8);
    out[8] = (uint8_t)stream;
    if (payload) memcpy(out + 9, payload, len);
    else memset(out + 9, 0, len);
    return 9 + len;
}

size_t gc_raw_preface(uint8_t *out)
{
    memcpy(out, NGHTTP2_CLIENT_MAGIC, NGHTTP2_CLIENT_MAGIC_LEN);
    return NGHTTP2_CLIENT_MAGIC_LEN + gc_raw_frame(out + NGHTTP2_CLIENT_MAGIC_LEN, NGHTTP2_SETTINGS, 0, 0, NULL, 0);
}

size_t gc_raw_hpack(struct gc *c, const char *path, const char *extra_name, const char *extra_value, uint8_t *out,
                    size_t cap)
{
    nghttp2_nv nva[REQUEST_NV + 1];
    size_t n = request_nva(c, path, nva);
    if (extra_name)
        nva[n++] = (nghttp2_nv){(uint8_t *)extra_name, (uint8_t *)extra_value, strlen(extra_name),
                                extra_value ? strlen(extra_value) : 0, NGHTTP2_NV_FLAG_NO_INDEX};
    ssize_t k = nghttp2_hd_deflate_hd(c->def, out, cap, nva, n);
    return k < 0 ? 0 : (size_t)k;
}

/* grpc-status values of one complete HEADERS block. */
static void raw_headers(struct gc *c, const uint8_t *in, size_t n)
{
    for (;;) {
        nghttp2_nv nv;
        int fl = 0;
        ssize_t k = nghttp2_hd_inflate_hd2(c->inf, &nv, &fl, in, n, 1);
        if (k < 0) return;
        in += k;
        n -= (size_t)k;
        if ((fl & NGHTTP2_HD_INFLATE_EMIT) && name_is(nv.name, nv.namelen, "grpc-status")) {
            struct gc_result r = {.grpc_status = -1};
            take_header(&r, nv.name, nv.namelen, nv.value, nv.valuelen);
            if (r.grpc_status >= 0 && r.grpc_status < 17) c->stats.grpc_status[r.grpc_status]++;
        }
        if (fl & NGHTTP2_HD_INFLATE_FINAL) {
            nghttp2_hd_inflate_end_headers(c->inf);
            return;
        }
        if (!(fl & NGHTTP2_HD_INFLATE_EMIT) && n == 0) return;
    }
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void raw_frame(struct gc *c, uint8_t type, uint8_t flags, const uint8_t *p, size_t len)
{
    struct gc_raw_stats *st = &c->stats;
    st->frames++;
    if ((type == NGHTTP2_DATA || type == NGHTTP2_HEADERS) && (flags & NGHTTP2_FLAG_END_STREAM)) st->end_streams++;
    switch (type) {
    case NGHTTP2_DATA:
        st->data_bytes += len;
        break;
    case NGHTTP2_HEADERS: {
        st->headers++;
        size_t pad = 0;
        if ((flags & NGHTTP2_FLAG_PADDED) && len) {
            pad = p[0];
            p++;
            len--;
        }
        if ((flags & NGHTTP2_FLAG_PRIORITY) && len >= 5) {
            p += 5;
            len -= 5;
        }
        if (pad <= len) raw_headers(c, p, len - pad);
        break;
    }
    case NGHTTP2_RST_STREAM:
        st->rst++;
        if (len >= 4 && be32(p) == NGHTTP2_REFUSED_STREAM) st->rst_refused++;
        break;
    case NGHTTP2_SETTINGS:
        if (!(flags & NGHTTP2_FLAG_ACK)) st->settings++;
        break;
    case NGHTTP2_GOAWAY:
        st->goaway++;
        c->goaway = true;
        if (len >= 8) c->goaway_code = be32(p + 4);
        break;
    default:
        break;
    }
}

static void raw_feed(struct gc *c, const uint8_t *p, size_t n)
{
    if (c->rlen + n > c->rcap) {
        size_t cap = c->rcap ? c->rcap : 65536;
        while (cap < c->rlen + n) cap *= 2;
        uint8_t *nb = realloc(c->rbuf, cap);
        if (!nb) {
            c->eof = true;
            return;
        }
        c->rbuf = nb;
        c->rcap = cap;
    }
    memcpy(c->rbuf + c->rlen, p, n);
    c->rlen += n;
    size_t off = 0;
    while (c->rlen - off >= 9) {
        const uint8_t *h = c->rbuf + off;
        size_t len = (size_t)h[0] << 16 | (size_t)h[1] << 8 | h[2];
        if (c->rlen - off < 9 + len) break;
        raw_frame(c, h[3], h[4], h + 9, len);
        off += 9 + len;
    }
    memmove(c->rbuf, c->rbuf + off, c->rlen - off);
    c->rlen -= off;
}

const struct gc_raw_stats *gc_raw_stats(const struct gc *c)
{
    return &c->stats;
}

struct gc *gc_connect_setup(const char *host, int port, const char *labels_json, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    struct gc *c = gc_connect(host, port, timeout_ms);
    if (!c) return NULL;
    struct gc_result r;
    bool ok = gc_unary(c, "ServerCheckRequest", "{\"requestId\":\"1\",\"headers\":{}}", timeout_ms, &r) == 0 &&
              r.type && !strcmp(r.type, "ServerCheckResponse");
    gc_result_free(&r);
    char setup[1024];
    snprintf(setup, sizeof setup,
             "{\"clientVersion\":\"Nacos-Java-Client:v2.3.2\",\"tenant\":\"\",\"labels\":%s,\"abilityTable\":{},"
             "\"headers\":{}}", labels_json);
    ok = ok && gc_bi_open(c, timeout_ms) == 0 && gc_bi_send(c, "ConnectionSetupRequest", setup) == 0;
    while (ok) {   /* set up once a health check is no longer refused with 301 */
        int64_t left = deadline - now_ms();
        if (left <= 0 || gc_unary(c, "HealthCheckRequest", "{\"requestId\":\"2\",\"headers\":{}}", (int)left, &r)) {
            ok = false;
            break;
        }
        bool done = r.type && !strcmp(r.type, "HealthCheckResponse");
        bool refused = r.json && strstr(r.json, "\"errorCode\":301");
        gc_result_free(&r);
        if (done) return c;
        if (!refused) ok = false;   /* anything but "not set up yet" */
        else gc_pump(c, 5);
    }
    gc_close(c);
    return NULL;
}
