/*
 * grpc_server.c — the gRPC transport on nghttp2 (see grpc_server.h for the contract).
 *
 * The shape of nghttp2's examples/libevent-server.c without libevent: one loop thread waits in
 * epoll on the listener, an eventfd (commands from other threads) and every connection. A readable
 * connection's bytes go to nghttp2_session_mem_recv, whose callbacks build streams (struct stream,
 * kept in the stream user data), run each stream's bytes through a grpc_frame deframer and call the
 * handlers; what nghttp2_session_mem_send produces is written to the socket. Responses are nghttp2
 * data providers reading from a per-stream queue of messages; trailers are submitted from the
 * provider once the queue is drained. Timers (deferred and delayed answers) are a binary min-heap of
 * streams; the epoll timeout is the earliest.
 *
 * Connections whose peer has not completed the HTTP/2 preface wait in a FIFO by accept time (they
 * all have the same timeout, so it is ordered by deadline too).
 *
 * One iteration: socket events → queued commands → due timers and preface deadlines → flush every
 * connection that has something to write → destroy the connections that ended in this iteration. A connection is never
 * freed while an event, a command or an nghttp2 callback may still refer to it: ending one marks it
 * and puts it on a list destroyed at the end of the iteration.
 *
 * The mutex guards only the command queue, the stop flag and the table of live connections (serial
 * → connection, has a bi-stream), so that other threads can answer "is it there?" at once. The loop
 * is that table's only writer, so it reads it without the lock. No lock is held while calling a
 * handler or touching a socket.
 */
#include "nacos_mock/grpc_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>

#include "nacos_mock/grpc_frame.h"
#include "nacos_mock/log.h"

#define PATH_UNARY "/Request/request"
#define PATH_BIDI "/BiRequestStream/requestBiStream"
#define READ_CHUNK ((size_t)64 << 10)
#define WRITE_HIGH ((size_t)64 << 10)   /* stop pulling frames from nghttp2 past this much unsent */
#define GATHER_CAP (WRITE_HIGH + 16384 + 64)   /* the loop's output buffer: WRITE_HIGH + a default-size frame */
#define STREAM_WINDOW (1 << 20)
#define CONN_WINDOW (8 << 20)
#define ACCEPT_BURST 64
#define MAX_EVENTS 128

/* Connection serials are unique in the process (grpc_server.h), across servers: the one mutable
 * global here, an atomic counter that no server's behaviour depends on. */
static _Atomic uint64_t g_next_serial = 1;

struct shared {                  /* one message queued on many streams (grpc_server_send_many) */
    size_t refs;                 /* queued copies + the command carrying it; loop thread only */
    uint8_t *p;
    size_t len;
};

struct outmsg {                  /* one message queued on a stream, framed on the fly */
    struct outmsg *next;
    uint8_t prefix[GRPC_FRAME_PREFIX];
    uint8_t *msg;                /* owned; NULL for an empty message or a shared one */
    struct shared *sh;           /* a reference, or NULL */
    size_t len;
    size_t off;                  /* bytes of prefix + msg already given to nghttp2 */
};

enum path_kind { PATH_OTHER, PATH_IS_UNARY, PATH_IS_BIDI };
enum stream_kind { SK_NEW, SK_UNARY, SK_BIDI, SK_REJECTED };
enum timer_kind { TIMER_NONE, TIMER_DEFER, TIMER_ACT };

struct conn;

struct stream {
    struct stream *prev, *next;  /* the connection's streams */
    struct conn *c;
    int32_t id;
    enum stream_kind kind;
    enum path_kind path;
    bool post;
    size_t header_bytes;
    struct grpc_deframer df;
    size_t held;                 /* bytes of this stream counted in its connection's input_held */
    /* unary */
    uint8_t *req;                /* the request message, owned */
    size_t req_len;
    int n_msgs;
    struct grpc_call call;
    bool call_started, call_ended, answered;
    struct grpc_answer pending;  /* a delayed verdict (TIMER_ACT) */
    enum timer_kind timer;
    int64_t due_us;
    size_t heap_idx;
    /* bi-stream */
    bool bidi_open;              /* on_stream_open ran, on_stream_close owed */
    /* response */
    bool remote_closed;          /* the peer sent END_STREAM */
    bool headers_sent;           /* response HEADERS submitted (trailers needed, not trailers-only) */
    bool ended_local;            /* trailers, trailers-only or RST_STREAM submitted */
    bool finishing;              /* send trailers once the queue is drained */
    bool provider_waiting;       /* the data provider answered DEFERRED: resume it on new data */
    int status;
    char *message;               /* percent-encoded grpc-message, owned; NULL for none */
    struct outmsg *q_head, *q_tail;
    size_t q_bytes;
    struct outmsg first;         /* the stream's first message (a unary call's only one): no allocation */
    bool first_used;
};

struct conn {
    struct conn *prev, *next;    /* the server's connections */
    struct grpc_server *s;
    int fd;                      /* -1 for the feed connection */
    nghttp2_session *h2;
    struct grpc_conn_info info;
    struct stream *streams;
    struct stream *bidi;
    struct stream *in_headers;   /* the stream whose request header block is being received */
    uint8_t *wbuf;               /* bytes the socket did not take yet (NULL while it takes everything) */
    size_t wlen, woff, wcap;
    size_t input_held, output_queued;
    bool want_out;               /* EPOLLOUT registered */
    bool closing;                /* ends at the end of this iteration */
    bool awaiting_preface;       /* on the server's preface FIFO (no SETTINGS from the peer yet) */
    int64_t preface_due_us;
    struct conn *pf_prev, *pf_next;
    bool dirty;                  /* on the flush list */
    struct conn *dirty_next, *dead_next;
};

struct live {                    /* the table other threads consult */
    uint64_t serial;
    struct conn *c;
    bool bi;
};

enum cmd_kind { CMD_SEND, CMD_SEND_MANY, CMD_CLOSE, CMD_CLOSE_ALL };

struct cmd {
    struct cmd *next;
    enum cmd_kind kind;
    uint64_t serial;
    uint8_t *msg;
    size_t len;
    uint64_t *serials;           /* CMD_SEND_MANY: n connections, one shared message */
    size_t n;
    struct shared *sh;
    int64_t due_us;              /* CMD_SEND: not before this (monotonic µs); 0 = at once */
};

struct grpc_server {
    struct grpc_handlers h;
    int port;
    int lfd, epfd, evfd;         /* -1 when absent (feed server) */
    pthread_t thread;
    bool threaded;
    nghttp2_session_callbacks *cbs;
    /* loop-owned */
    struct conn *conns;
    struct conn *dirty_head, *dead_head;
    struct stream **heap;
    size_t n_heap, cap_heap;
    bool listener_paused;
    struct conn *pf_head, *pf_tail;   /* connections awaiting the peer's preface, oldest first */
    _Atomic int64_t preface_timeout_ms;
    uint8_t *gather;             /* GATHER_CAP bytes: a connection's frames on their way to its socket */
    void (*sink)(void *arg, const uint8_t *out, size_t n);
    void *sink_arg;
    /* loop-owned: sends whose time has not come (grpc_server_send_after), soonest first */
    struct cmd *later;
    /* under mu (written by the loop only, so the loop reads without it) */
    pthread_mutex_t mu;
    struct live *live;
    size_t n_live, cap_live;
    struct cmd *cmd_head, *cmd_tail;
    bool stop;
    /* statistics */
    atomic_size_t st_streams, st_input, st_output;
    atomic_uint_least64_t st_accepted, st_closed, st_calls, st_refused;
};

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void wake(struct grpc_server *s)
{
    if (s->evfd < 0) return;
    uint64_t one = 1;
    ssize_t w = write(s->evfd, &one, sizeof one);
    (void)w;   /* a full counter already wakes the loop */
}

/* ---------------------------------------------------------------- the table of live connections */

/* Index of serial in the table (sorted: serials only grow), or -1. Loop thread, or under mu. */
static ssize_t live_find(const struct grpc_server *s, uint64_t serial)
{
    size_t lo = 0, hi = s->n_live;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->live[mid].serial == serial) return (ssize_t)mid;
        if (s->live[mid].serial < serial) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

static int live_add(struct grpc_server *s, struct conn *c)
{
    int rc = -1;
    pthread_mutex_lock(&s->mu);
    if (s->n_live == s->cap_live) {
        size_t cap = s->cap_live ? s->cap_live * 2 : 64;
        struct live *nl = realloc(s->live, cap * sizeof *nl);
        if (!nl) goto out;
        s->live = nl;
        s->cap_live = cap;
    }
    s->live[s->n_live++] = (struct live){.serial = c->info.serial, .c = c, .bi = false};
    rc = 0;
out:
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static void live_remove(struct grpc_server *s, uint64_t serial)
{
    pthread_mutex_lock(&s->mu);
    ssize_t i = live_find(s, serial);
    if (i >= 0) {
        memmove(&s->live[i], &s->live[i + 1], (s->n_live - (size_t)i - 1) * sizeof *s->live);
        s->n_live--;
    }
    pthread_mutex_unlock(&s->mu);
}

static void live_set_bi(struct grpc_server *s, uint64_t serial, bool bi)
{
    pthread_mutex_lock(&s->mu);
    ssize_t i = live_find(s, serial);
    if (i >= 0) s->live[i].bi = bi;
    pthread_mutex_unlock(&s->mu);
}

/* ---------------------------------------------------------------- timers: a min-heap of streams */

static bool heap_less(struct stream *const *h, size_t a, size_t b) { return h[a]->due_us < h[b]->due_us; }

static void heap_swap(struct stream **h, size_t a, size_t b)
{
    struct stream *t = h[a];
    h[a] = h[b];
    h[b] = t;
    h[a]->heap_idx = a;
    h[b]->heap_idx = b;
}

static void heap_up(struct stream **h, size_t i)
{
    while (i > 0 && heap_less(h, i, (i - 1) / 2)) {
        heap_swap(h, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void heap_down(struct stream **h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && heap_less(h, l, m)) m = l;
        if (r < n && heap_less(h, r, m)) m = r;
        if (m == i) return;
        heap_swap(h, i, m);
        i = m;
    }
}

static void timer_cancel(struct grpc_server *s, struct stream *st)
{
    if (st->timer == TIMER_NONE) return;
    size_t i = st->heap_idx, last = --s->n_heap;
    if (i != last) {
        s->heap[i] = s->heap[last];
        s->heap[i]->heap_idx = i;
        heap_down(s->heap, s->n_heap, i);
        heap_up(s->heap, i);
    }
    st->timer = TIMER_NONE;
}

static int timer_set(struct grpc_server *s, struct stream *st, enum timer_kind kind, int64_t delay_ms)
{
    timer_cancel(s, st);
    if (s->n_heap == s->cap_heap) {
        size_t cap = s->cap_heap ? s->cap_heap * 2 : 64;
        struct stream **nh = realloc(s->heap, cap * sizeof *nh);
        if (!nh) return -1;
        s->heap = nh;
        s->cap_heap = cap;
    }
    st->timer = kind;
    st->due_us = mono_us() + (delay_ms > 0 ? delay_ms : 0) * 1000;
    st->heap_idx = s->n_heap;
    s->heap[s->n_heap++] = st;
    heap_up(s->heap, st->heap_idx);
    return 0;
}

/* ---------------------------------------------------------------- connection bookkeeping */

static void conn_mark_dirty(struct conn *c)
{
    if (c->dirty || c->closing) return;
    c->dirty = true;
    c->dirty_next = c->s->dirty_head;
    c->s->dirty_head = c;
}

/* Ends the connection at the end of this iteration (socket closed without GOAWAY). */
static void conn_close(struct conn *c)
{
    if (c->closing) return;
    c->closing = true;
    c->dead_next = c->s->dead_head;
    c->s->dead_head = c;
}

static void preface_unlink(struct conn *c)
{
    if (!c->awaiting_preface) return;
    struct grpc_server *s = c->s;
    if (c->pf_prev) c->pf_prev->pf_next = c->pf_next;
    else s->pf_head = c->pf_next;
    if (c->pf_next) c->pf_next->pf_prev = c->pf_prev;
    else s->pf_tail = c->pf_prev;
    c->pf_prev = c->pf_next = NULL;
    c->awaiting_preface = false;
}

static void preface_arm(struct conn *c)
{
    struct grpc_server *s = c->s;
    c->awaiting_preface = true;
    c->preface_due_us = mono_us() + atomic_load(&s->preface_timeout_ms) * 1000;
    c->pf_prev = s->pf_tail;
    if (s->pf_tail) s->pf_tail->pf_next = c;
    else s->pf_head = c;
    s->pf_tail = c;
}

/* Closes the connections whose preface deadline has passed. */
static void preface_expire(struct grpc_server *s)
{
    if (!s->pf_head) return;
    int64_t now = mono_us();
    while (s->pf_head && s->pf_head->preface_due_us <= now) {
        struct conn *c = s->pf_head;
        preface_unlink(c);
        log_info("grpc: closing connection %s: no HTTP/2 preface within %lld ms", c->info.id,
                 (long long)atomic_load(&s->preface_timeout_ms));
        conn_close(c);
    }
}

static void input_adjust(struct stream *st, size_t now_held)
{
    struct conn *c = st->c;
    if (now_held >= st->held) {
        c->input_held += now_held - st->held;
        atomic_fetch_add(&c->s->st_input, now_held - st->held);
    } else {
        c->input_held -= st->held - now_held;
        atomic_fetch_sub(&c->s->st_input, st->held - now_held);
    }
    st->held = now_held;
}

static void output_add(struct stream *st, size_t n)
{
    st->q_bytes += n;
    st->c->output_queued += n;
    atomic_fetch_add(&st->c->s->st_output, n);
}

static void output_sub(struct conn *c, struct stream *st, size_t n)
{
    if (st) st->q_bytes -= n;
    c->output_queued -= n;
    atomic_fetch_sub(&c->s->st_output, n);
}

/* ---------------------------------------------------------------- responses */

#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NO_COPY_NAME}

/* gRPC's grpc-message encoding (bytes outside 0x20-0x7E, and '%', as %XX) in a malloc'd string;
 * NULL for an empty message (or out of memory: the status still goes out). */
static char *percent_encode(const char *in)
{
    static const char hex[] = "0123456789ABCDEF";
    if (!in || !*in) return NULL;
    char *out = malloc(strlen(in) * 3 + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        if (*p >= 0x20 && *p <= 0x7e && *p != '%') {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = '\0';
    return out;
}

/* A status code as text, without printf (this is on every call's path). Points into buf. */
static const char *status_text(int status, char buf[16])
{
    unsigned v = status < 0 ? 0u - (unsigned)status : (unsigned)status;
    char *p = buf + 15;
    *p = '\0';
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (status < 0) *--p = '-';
    return p;
}

static ssize_t provider_read(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
                             nghttp2_data_source *src, void *ud);

static int submit_trailers(struct stream *st)
{
    char code[16];
    nghttp2_nv nva[2] = {NV("grpc-status", status_text(st->status, code)),
                         NV("grpc-message", st->message ? st->message : "")};
    return nghttp2_submit_trailer(st->c->h2, st->id, nva, st->message ? 2 : 1);
}

/* Response HEADERS with a data provider reading from the stream's queue. */
static void respond_headers(struct stream *st)
{
    if (st->headers_sent) return;
    st->headers_sent = true;
    nghttp2_nv nva[2] = {NV(":status", "200"), NV("content-type", "application/grpc")};
    nghttp2_data_provider prd = {.source = {.ptr = st}, .read_callback = provider_read};
    if (nghttp2_submit_response(st->c->h2, st->id, nva, 2, &prd)) conn_close(st->c);
    conn_mark_dirty(st->c);
}

static void provider_resume(struct stream *st)
{
    if (!st->provider_waiting) return;
    st->provider_waiting = false;
    nghttp2_session_resume_data(st->c->h2, st->id);
}

/* Ends our side: trailers after the queued messages, or trailers-only when nothing was sent. */
static void stream_finish(struct stream *st, int status, const char *message)
{
    if (st->ended_local) return;
    st->ended_local = true;
    st->status = status;
    st->message = percent_encode(message);
    conn_mark_dirty(st->c);
    if (st->headers_sent) {
        st->finishing = true;
        provider_resume(st);
        return;
    }
    char code[16];
    nghttp2_nv nva[4] = {NV(":status", "200"), NV("content-type", "application/grpc"),
                         NV("grpc-status", status_text(status, code)), NV("grpc-message", st->message ? st->message : "")};
    st->headers_sent = true;
    if (nghttp2_submit_response(st->c->h2, st->id, nva, st->message ? 4 : 3, NULL)) conn_close(st->c);
}

static void stream_reset(struct stream *st, uint32_t code)
{
    if (st->ended_local) return;
    st->ended_local = true;
    if (nghttp2_submit_rst_stream(st->c->h2, NGHTTP2_FLAG_NONE, st->id, code)) conn_close(st->c);
    conn_mark_dirty(st->c);
}

/* The transport ends a stream itself (bad input or a limit). */
static void stream_refuse(struct stream *st, int status, const char *message)
{
    atomic_fetch_add(&st->c->s->st_refused, 1);
    grpc_deframer_free(&st->df);
    input_adjust(st, st->req_len);
    stream_finish(st, status, message);
}

static void shared_release(struct shared *sh)
{
    if (sh && --sh->refs == 0) {
        free(sh->p);
        free(sh);
    }
}

static void outmsg_free(struct stream *st, struct outmsg *m)
{
    if (m->sh) shared_release(m->sh);
    else free(m->msg);
    if (m != &st->first) free(m);
}

/* Queues one message on the stream: msg (taken), or a reference to sh (msg NULL). */
static void stream_queue(struct stream *st, uint8_t *msg, size_t len, struct shared *sh)
{
    struct conn *c = st->c;
    struct outmsg *m = st->first_used ? calloc(1, sizeof *m) : &st->first;
    if (!m || len > UINT32_MAX) {
        if (m != &st->first) free(m);
        free(msg);
        conn_close(c);
        return;
    }
    if (m == &st->first) {
        memset(m, 0, sizeof *m);
        st->first_used = true;
    }
    grpc_frame_prefix(m->prefix, len);
    m->msg = msg;
    m->sh = sh;
    if (sh) sh->refs++;
    m->len = len;
    if (st->q_tail) st->q_tail->next = m;
    else st->q_head = m;
    st->q_tail = m;
    output_add(st, GRPC_FRAME_PREFIX + len);
    if (c->output_queued > GRPC_CONN_OUTPUT_MAX) {
        log_warn("grpc: closing connection %s: %zu bytes queued for a peer that does not read", c->info.id,
                 c->output_queued);
        conn_close(c);
        return;
    }
    provider_resume(st);
    conn_mark_dirty(c);
}

static ssize_t provider_read(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
                             nghttp2_data_source *src, void *ud)
{
    (void)h2;
    (void)id;
    (void)ud;
    struct stream *st = src->ptr;
    size_t n = 0;
    while (st->q_head && n < length) {
        struct outmsg *m = st->q_head;
        size_t total = GRPC_FRAME_PREFIX + m->len;
        while (m->off < total && n < length) {
            size_t k;
            if (m->off < GRPC_FRAME_PREFIX) {
                k = GRPC_FRAME_PREFIX - m->off;
                if (k > length - n) k = length - n;
                memcpy(buf + n, m->prefix + m->off, k);
            } else {
                size_t at = m->off - GRPC_FRAME_PREFIX;
                k = m->len - at;
                if (k > length - n) k = length - n;
                memcpy(buf + n, (m->sh ? m->sh->p : m->msg) + at, k);
            }
            m->off += k;
            n += k;
        }
        if (m->off < total) break;
        st->q_head = m->next;
        if (!st->q_head) st->q_tail = NULL;
        output_sub(st->c, st, total);
        outmsg_free(st, m);
    }
    if (!st->q_head && st->finishing) {
        *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        if (submit_trailers(st)) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        return (ssize_t)n;
    }
    if (n == 0) {
        st->provider_waiting = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    return (ssize_t)n;
}

/* ---------------------------------------------------------------- calls */

static void apply_answer(struct stream *st, struct grpc_answer *a);

static void call_dispatch(struct stream *st)
{
    struct conn *c = st->c;
    struct grpc_server *s = c->s;
    if (!st->call_started) {
        st->call_started = true;
        st->call.conn = &c->info;
        st->call.msg = st->req ? st->req : (const uint8_t *)"";
        st->call.len = st->req_len;
        st->call.t0_us = mono_us();
        atomic_fetch_add(&s->st_calls, 1);
    }
    struct grpc_answer a;
    memset(&a, 0, sizeof a);
    if (s->h.on_unary) {
        s->h.on_unary(s->h.ctx, &st->call, &a);
    } else {
        a.v = GRPC_STATUS;
        a.status = GRPC_UNIMPLEMENTED;
    }
    apply_answer(st, &a);
}

static void apply_answer(struct stream *st, struct grpc_answer *a)
{
    struct conn *c = st->c;
    if (c->closing || st->ended_local) {
        free(a->msg);
        return;
    }
    if (a->delay_ms > 0 && a->v != GRPC_DEFER && a->v != GRPC_HANG) {
        st->pending = *a;
        st->pending.delay_ms = 0;
        if (timer_set(c->s, st, TIMER_ACT, a->delay_ms)) {
            free(st->pending.msg);
            st->pending.msg = NULL;
            conn_close(c);
        }
        return;
    }
    a->message[sizeof a->message - 1] = '\0';
    switch (a->v) {
    case GRPC_ANSWER:
        respond_headers(st);
        stream_queue(st, a->msg, a->msg ? a->len : 0, NULL);
        stream_finish(st, GRPC_OK, NULL);
        break;
    case GRPC_STATUS:
        free(a->msg);
        stream_finish(st, a->status, a->message);
        break;
    case GRPC_DEFER:
        free(a->msg);
        if (timer_set(c->s, st, TIMER_DEFER, a->delay_ms)) conn_close(c);
        break;
    case GRPC_HANG:
        free(a->msg);
        break;
    case GRPC_RESET:
        free(a->msg);
        stream_reset(st, a->status > 0 ? (uint32_t)a->status : NGHTTP2_CANCEL);
        break;
    case GRPC_CLOSE:
        free(a->msg);
        st->answered = true;
        conn_close(c);
        break;
    default:
        free(a->msg);
        stream_finish(st, GRPC_INTERNAL, "invalid handler verdict");
        break;
    }
}

static void timer_fire(struct stream *st)
{
    enum timer_kind kind = st->timer;
    timer_cancel(st->c->s, st);
    if (kind == TIMER_DEFER) {
        call_dispatch(st);
    } else {
        struct grpc_answer a = st->pending;
        memset(&st->pending, 0, sizeof st->pending);
        apply_answer(st, &a);
    }
    conn_mark_dirty(st->c);
}

/* ---------------------------------------------------------------- streams */

static struct stream *stream_new(struct conn *c, int32_t id)
{
    struct stream *st = calloc(1, sizeof *st);
    if (!st) return NULL;
    st->c = c;
    st->id = id;
    grpc_deframer_init(&st->df, GRPC_MESSAGE_MAX);
    st->next = c->streams;
    if (c->streams) c->streams->prev = st;
    c->streams = st;
    atomic_fetch_add(&c->s->st_streams, 1);
    return st;
}

/* Runs the stream's last callbacks and frees it. The nghttp2 stream is closed or being deleted. */
static void stream_free(struct stream *st)
{
    struct conn *c = st->c;
    struct grpc_server *s = c->s;
    timer_cancel(s, st);
    if (st->call_started && !st->call_ended) {
        st->call_ended = true;
        if (s->h.on_call_end) s->h.on_call_end(s->h.ctx, &st->call, st->answered);
    }
    if (st->bidi_open) {
        st->bidi_open = false;
        live_set_bi(s, c->info.serial, false);
        if (s->h.on_stream_close) s->h.on_stream_close(s->h.ctx, &c->info);
    }
    if (c->bidi == st) c->bidi = NULL;
    if (c->in_headers == st) c->in_headers = NULL;
    free(st->pending.msg);
    free(st->message);
    for (struct outmsg *m = st->q_head, *next; m; m = next) {
        next = m->next;
        outmsg_free(st, m);
    }
    output_sub(c, st, st->q_bytes);
    grpc_deframer_free(&st->df);
    free(st->req);
    input_adjust(st, 0);
    if (st->prev) st->prev->next = st->next;
    else c->streams = st->next;
    if (st->next) st->next->prev = st->prev;
    atomic_fetch_sub(&s->st_streams, 1);
    free(st);
}

/* The request HEADERS are complete: route by path. */
static void stream_start(struct stream *st)
{
    struct conn *c = st->c;
    struct grpc_server *s = c->s;
    if (!st->post || st->path == PATH_OTHER) {
        st->kind = SK_REJECTED;
        stream_refuse(st, GRPC_UNIMPLEMENTED, "unknown method");
        return;
    }
    if (st->path == PATH_IS_UNARY) {
        st->kind = SK_UNARY;
        return;
    }
    if (c->bidi) {
        st->kind = SK_REJECTED;
        stream_refuse(st, GRPC_ALREADY_EXISTS, "a bi-stream is already open on this connection");
        return;
    }
    st->kind = SK_BIDI;
    c->bidi = st;
    st->bidi_open = true;
    live_set_bi(s, c->info.serial, true);
    respond_headers(st);
    if (s->h.on_stream_open) s->h.on_stream_open(s->h.ctx, &c->info);
}

/* The peer sent END_STREAM. */
static void stream_remote_end(struct stream *st)
{
    struct conn *c = st->c;
    struct grpc_server *s = c->s;
    st->remote_closed = true;
    if (st->ended_local) return;
    if (st->kind == SK_UNARY) {
        if (grpc_deframer_partial(&st->df)) stream_refuse(st, GRPC_INTERNAL, "request message cut short");
        else if (st->n_msgs == 0) stream_refuse(st, GRPC_INTERNAL, "no request message");
        else call_dispatch(st);
    } else if (st->kind == SK_BIDI) {
        if (grpc_deframer_partial(&st->df)) stream_refuse(st, GRPC_INTERNAL, "message cut short");
        else stream_finish(st, GRPC_OK, NULL);
        if (st->bidi_open) {
            st->bidi_open = false;
            live_set_bi(s, c->info.serial, false);
            if (s->h.on_stream_close) s->h.on_stream_close(s->h.ctx, &c->info);
        }
    }
}

static void stream_message(struct stream *st, const uint8_t *msg, size_t len)
{
    struct conn *c = st->c;
    struct grpc_server *s = c->s;
    if (st->kind == SK_UNARY) {
        if (st->n_msgs++) {
            stream_refuse(st, GRPC_INTERNAL, "more than one request message in a unary call");
            return;
        }
        st->req = malloc(len ? len : 1);
        if (!st->req) {
            stream_refuse(st, GRPC_RESOURCE_EXHAUSTED, "out of memory");
            return;
        }
        if (len) memcpy(st->req, msg, len);
        st->req_len = len;
    } else if (st->kind == SK_BIDI && s->h.on_stream_msg) {
        s->h.on_stream_msg(s->h.ctx, &c->info, msg, len);
    }
}

/* ---------------------------------------------------------------- nghttp2 callbacks */

static int on_begin_headers(nghttp2_session *h2, const nghttp2_frame *frame, void *ud)
{
    struct conn *c = ud;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    struct stream *st = stream_new(c, frame->hd.stream_id);
    if (!st) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    nghttp2_session_set_stream_user_data(h2, frame->hd.stream_id, st);
    c->in_headers = st;
    return 0;
}

static bool equals(const uint8_t *p, size_t n, const char *lit)
{
    return n == strlen(lit) && memcmp(p, lit, n) == 0;
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
    (void)flags;
    struct conn *c = ud;
    struct stream *st = c->in_headers && c->in_headers->id == frame->hd.stream_id
                            ? c->in_headers
                            : nghttp2_session_get_stream_user_data(h2, frame->hd.stream_id);
    if (!st || frame->hd.type != NGHTTP2_HEADERS) return 0;
    st->header_bytes += namelen + valuelen + 32;   /* RFC 9113's accounting of a header list */
    if (st->header_bytes > GRPC_MAX_HEADER_LIST) {
        atomic_fetch_add(&st->c->s->st_refused, 1);
        st->ended_local = true;
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;   /* RST_STREAM(INTERNAL_ERROR) */
    }
    if (frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;   /* the peer's trailers: ignored */
    if (equals(name, namelen, ":path")) {
        st->path = equals(value, valuelen, PATH_UNARY) ? PATH_IS_UNARY
                 : equals(value, valuelen, PATH_BIDI)  ? PATH_IS_BIDI
                                                       : PATH_OTHER;
    } else if (equals(name, namelen, ":method")) {
        st->post = equals(value, valuelen, "POST");
    }
    return 0;
}

static int on_frame_recv(nghttp2_session *h2, const nghttp2_frame *frame, void *ud)
{
    struct conn *c = ud;
    if (c->closing) return 0;
    /* the peer's first SETTINGS completes its preface (nghttp2 has checked the magic before it) */
    if (frame->hd.type == NGHTTP2_SETTINGS && !(frame->hd.flags & NGHTTP2_FLAG_ACK)) preface_unlink(c);
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
    struct stream *st = nghttp2_session_get_stream_user_data(h2, frame->hd.stream_id);
    if (!st) return 0;
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST && !st->ended_local)
        stream_start(st);
    if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) && !c->closing) stream_remote_end(st);
    return 0;
}

static int on_data_chunk(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *ud)
{
    (void)flags;
    struct conn *c = ud;
    struct stream *st = nghttp2_session_get_stream_user_data(h2, id);
    if (!st || c->closing || st->ended_local || (st->kind != SK_UNARY && st->kind != SK_BIDI)) return 0;
    const uint8_t *p = data;
    size_t n = len;
    for (;;) {
        const uint8_t *msg;
        size_t mlen;
        int r = grpc_deframer_next(&st->df, &p, &n, &msg, &mlen);
        if (r == 0) break;
        if (r < 0) {
            char m[128];
            if (r == GRPC_FRAME_TOO_LARGE) {
                snprintf(m, sizeof m, "message of %zu bytes is larger than the limit of %zu bytes", st->df.need,
                         (size_t)GRPC_MESSAGE_MAX);
                stream_refuse(st, GRPC_RESOURCE_EXHAUSTED, m);
            } else if (r == GRPC_FRAME_NOMEM) {
                stream_refuse(st, GRPC_RESOURCE_EXHAUSTED, "out of memory");
            } else {
                snprintf(m, sizeof m, "%s messages are not supported", grpc_frame_strerror(r));
                stream_refuse(st, GRPC_UNIMPLEMENTED, m);
            }
            return 0;
        }
        stream_message(st, msg, mlen);
        if (c->closing || st->ended_local) return 0;
    }
    size_t held = grpc_deframer_held(&st->df) + st->req_len;
    if (c->input_held - st->held + held > GRPC_CONN_INPUT_MAX)
        stream_refuse(st, GRPC_RESOURCE_EXHAUSTED, "too many bytes of requests held on this connection");
    else
        input_adjust(st, held);
    return 0;
}

static int on_stream_close(nghttp2_session *h2, int32_t id, uint32_t error_code, void *ud)
{
    (void)error_code;
    (void)ud;
    struct stream *st = nghttp2_session_get_stream_user_data(h2, id);
    if (st) stream_free(st);
    return 0;
}

static int on_frame_send(nghttp2_session *h2, const nghttp2_frame *frame, void *ud)
{
    (void)ud;
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA && frame->hd.type != NGHTTP2_RST_STREAM)
        return 0;
    struct stream *st = nghttp2_session_get_stream_user_data(h2, frame->hd.stream_id);
    if (!st) return 0;
    if (frame->hd.type == NGHTTP2_RST_STREAM) {
        if (st->ended_local) st->answered = true;   /* ours (GRPC_RESET), not nghttp2's for a peer error */
    } else if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
        st->answered = true;
        /* ended before the peer did: tell it to stop sending, as gRPC servers do */
        if (!st->remote_closed) nghttp2_submit_rst_stream(h2, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_NO_ERROR);
    }
    return 0;
}

static nghttp2_session_callbacks *callbacks_new(void)
{
    nghttp2_session_callbacks *cbs;
    if (nghttp2_session_callbacks_new(&cbs)) return NULL;
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
    return cbs;
}

/* ---------------------------------------------------------------- connections */

static void format_id(struct conn *c)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    const struct sockaddr_storage *ss = &c->info.peer;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
        port = ntohs(in->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], ip, sizeof ip);
        else inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
        port = ntohs(in6->sin6_port);
    }
    snprintf(c->info.id, sizeof c->info.id, "%lld_%s_%d", (long long)c->info.opened_ms, ip, port);
}

/* A new connection on fd (-1 for the feed connection): session, SETTINGS, table, on_open. NULL on
 * failure (fd is then the caller's to close). */
static struct conn *conn_open(struct grpc_server *s, int fd, const struct sockaddr_storage *peer)
{
    struct conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->s = s;
    c->fd = fd;
    c->info.serial = atomic_fetch_add(&g_next_serial, 1);
    c->info.peer = *peer;
    c->info.opened_ms = real_ms();
    format_id(c);
    nghttp2_settings_entry iv[3] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, GRPC_MAX_CONCURRENT_STREAMS},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, GRPC_MAX_HEADER_LIST},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW},
    };
    if (nghttp2_session_server_new(&c->h2, s->cbs, c)) goto fail;
    if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, 3)) goto fail;
    if (nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, CONN_WINDOW)) goto fail;
    if (fd >= 0) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev)) goto fail;
    }
    if (live_add(s, c)) goto fail;
    if (fd >= 0) preface_arm(c);   /* the feed connection is no network peer */
    c->next = s->conns;
    if (s->conns) s->conns->prev = c;
    s->conns = c;
    atomic_fetch_add(&s->st_accepted, 1);
    if (s->h.on_open) s->h.on_open(s->h.ctx, &c->info);
    conn_mark_dirty(c);
    return c;
fail:
    if (c->h2) nghttp2_session_del(c->h2);
    free(c);
    return NULL;
}

/* Last callbacks (calls, bi-stream, on_close), socket closed, memory freed. */
static void conn_destroy(struct conn *c)
{
    struct grpc_server *s = c->s;
    live_remove(s, c->info.serial);
    preface_unlink(c);
    while (c->streams) stream_free(c->streams);
    nghttp2_session_del(c->h2);
    if (c->fd >= 0) close(c->fd);
    if (s->h.on_close) s->h.on_close(s->h.ctx, &c->info);
    output_sub(c, NULL, c->wlen - c->woff);
    free(c->wbuf);
    if (c->prev) c->prev->next = c->next;
    else s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    atomic_fetch_add(&s->st_closed, 1);
    free(c);
    if (s->listener_paused && s->lfd >= 0) {   /* a descriptor is free again */
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &s->lfd};
        if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->lfd, &ev) == 0) s->listener_paused = false;
    }
}

static void conn_recv(struct conn *c, const uint8_t *data, size_t len)
{
    ssize_t r = nghttp2_session_mem_recv(c->h2, data, len);
    if (r < 0) conn_close(c);   /* bad preface, flood, out of memory: nghttp2 gives up on the session */
    conn_mark_dirty(c);
}

static void conn_read(struct conn *c)
{
    uint8_t buf[READ_CHUNK];
    ssize_t n = read(c->fd, buf, sizeof buf);
    if (n > 0) conn_recv(c, buf, (size_t)n);
    else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) conn_close(c);
}

/* Keeps bytes the socket did not take in the connection's own buffer (grown as needed). */
static int wbuf_append(struct conn *c, const uint8_t *p, size_t n)
{
    if (!n) return 0;
    if (c->woff && c->woff == c->wlen) c->woff = c->wlen = 0;
    if (c->wlen + n > c->wcap) {
        if (c->woff) {   /* slide the unsent bytes to the front first */
            memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff);
            c->wlen -= c->woff;
            c->woff = 0;
        }
        if (c->wlen + n > c->wcap) {
            size_t cap = c->wcap ? c->wcap : 16384;
            while (cap < c->wlen + n) cap *= 2;
            uint8_t *nb = realloc(c->wbuf, cap);
            if (!nb) return -1;
            c->wbuf = nb;
            c->wcap = cap;
        }
    }
    memcpy(c->wbuf + c->wlen, p, n);
    c->wlen += n;
    c->output_queued += n;
    atomic_fetch_add(&c->s->st_output, n);
    return 0;
}

/* Writes n bytes to the peer (the feed connection: to the sink). Bytes written (fewer when the
 * socket would block), -1 when the connection failed. */
static ssize_t conn_write(struct conn *c, const uint8_t *p, size_t n)
{
    if (c->fd < 0) {
        if (c->s->sink) c->s->sink(c->s->sink_arg, p, n);
        return (ssize_t)n;
    }
    for (;;) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w >= 0) return w;
        if (errno == EINTR) continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    }
}

/* Writes what nghttp2 has for the peer until the socket would block; keeps the epoll interest in
 * step; ends the connection once nghttp2 wants neither to read nor to write (after a GOAWAY).
 * Frames are gathered in the loop's buffer and sent from there; only what the socket does not take
 * is copied to the connection's own buffer, which goes once drained: an idle connection holds no
 * output buffer (with 2,000 connections that was 64 KiB each, a few pages of them resident). */
static void conn_flush(struct conn *c)
{
    struct grpc_server *s = c->s;
    for (;;) {
        size_t pending = c->wlen - c->woff;
        if (pending) {   /* what the socket did not take before goes first */
            ssize_t w = conn_write(c, c->wbuf + c->woff, pending);
            if (w < 0) {
                conn_close(c);
                return;
            }
            c->woff += (size_t)w;
            output_sub(c, NULL, (size_t)w);
            if ((size_t)w < pending) break;
            free(c->wbuf);
            c->wbuf = NULL;
            c->wlen = c->woff = c->wcap = 0;
        }
        size_t n = 0;
        bool spilled = false;
        while (n < WRITE_HIGH) {
            const uint8_t *d;
            ssize_t k = nghttp2_session_mem_send(c->h2, &d);
            if (k < 0) {
                conn_close(c);
                return;
            }
            if (k == 0) break;
            if (n + (size_t)k > GATHER_CAP) {   /* a frame larger than a default one (the peer allows them) */
                if (wbuf_append(c, s->gather, n) || wbuf_append(c, d, (size_t)k)) {
                    conn_close(c);
                    return;
                }
                spilled = true;
                break;
            }
            memcpy(s->gather + n, d, (size_t)k);
            n += (size_t)k;
        }
        if (spilled) continue;
        if (!n) break;
        ssize_t w = conn_write(c, s->gather, n);
        if (w < 0) {
            conn_close(c);
            return;
        }
        if ((size_t)w < n) {
            if (wbuf_append(c, s->gather + w, n - (size_t)w)) conn_close(c);
            break;
        }
    }
    if (c->closing) return;
    bool out = c->wlen > c->woff;
    if (c->fd >= 0 && out != c->want_out) {
        struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
        if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev)) {
            conn_close(c);
            return;
        }
        c->want_out = out;
    }
    if (!out && !nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2)) conn_close(c);
}

/* ---------------------------------------------------------------- the loop */

static void accept_some(struct grpc_server *s)
{
    for (int i = 0; i < ACCEPT_BURST; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        memset(&ss, 0, sizeof ss);
        int fd = accept4(s->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* stop listening until a connection ends, instead of spinning on a full table */
                log_warn("grpc: accept: %s; not accepting until a connection closes", strerror(errno));
                if (epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->lfd, NULL) == 0) s->listener_paused = true;
            }
            return;
        }
        if (s->n_live >= GRPC_MAX_CONNECTIONS) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (!conn_open(s, fd, &ss)) close(fd);
    }
}

/* Keeps a send for later, in due order. */
static void later_add(struct grpc_server *s, struct cmd *cm)
{
    struct cmd **l = &s->later;
    while (*l && (*l)->due_us <= cm->due_us) l = &(*l)->next;
    cm->next = *l;
    *l = cm;
}

/* The sends whose time has come, in order (taken off the later list). */
static struct cmd *later_due(struct grpc_server *s)
{
    int64_t now = mono_us();
    struct cmd *head = NULL, **tail = &head;
    while (s->later && s->later->due_us <= now) {
        struct cmd *cm = s->later;
        s->later = cm->next;
        cm->next = NULL;
        *tail = cm;
        tail = &cm->next;
    }
    return head;
}

static struct cmd *take_commands(struct grpc_server *s, bool *stop)
{
    pthread_mutex_lock(&s->mu);
    struct cmd *list = s->cmd_head;
    s->cmd_head = s->cmd_tail = NULL;
    if (stop) *stop = s->stop;
    pthread_mutex_unlock(&s->mu);
    return list;
}

static void run_commands(struct grpc_server *s, struct cmd *list)
{
    while (list) {
        struct cmd *cm = list;
        list = cm->next;
        if (cm->kind == CMD_SEND && cm->due_us > mono_us()) {
            later_add(s, cm);
            continue;
        }
        if (cm->kind == CMD_CLOSE_ALL) {
            for (struct conn *c = s->conns; c; c = c->next) conn_close(c);
        } else if (cm->kind == CMD_SEND_MANY) {
            for (size_t k = 0; k < cm->n; k++) {
                ssize_t i = live_find(s, cm->serials[k]);
                struct conn *c = i >= 0 ? s->live[i].c : NULL;
                if (c && !c->closing && c->bidi && !c->bidi->ended_local)
                    stream_queue(c->bidi, NULL, cm->sh->len, cm->sh);
            }
            shared_release(cm->sh);   /* the command's reference */
            free(cm->serials);
        } else {
            ssize_t i = live_find(s, cm->serial);
            struct conn *c = i >= 0 ? s->live[i].c : NULL;
            if (c && !c->closing && cm->kind == CMD_CLOSE) {
                conn_close(c);
            } else if (c && !c->closing && cm->kind == CMD_SEND && c->bidi && !c->bidi->ended_local) {
                stream_queue(c->bidi, cm->msg, cm->len, NULL);
                cm->msg = NULL;
            }
        }
        free(cm->msg);
        free(cm);
    }
}

static void run_timers(struct grpc_server *s)
{
    int64_t now = mono_us();
    while (s->n_heap && s->heap[0]->due_us <= now) {
        struct stream *st = s->heap[0];
        if (st->c->closing) timer_cancel(s, st);
        else timer_fire(st);
    }
}

static void flush_dirty(struct grpc_server *s)
{
    while (s->dirty_head) {
        struct conn *c = s->dirty_head;
        s->dirty_head = c->dirty_next;
        c->dirty = false;
        if (!c->closing) conn_flush(c);
    }
}

static void reap_dead(struct grpc_server *s)
{
    while (s->dead_head) {
        struct conn *c = s->dead_head;
        s->dead_head = c->dead_next;
        conn_destroy(c);
    }
}

/* What each iteration does after the socket events. */
static void loop_work(struct grpc_server *s, bool *stop)
{
    run_commands(s, take_commands(s, stop));
    run_commands(s, later_due(s));
    run_timers(s);
    preface_expire(s);
    flush_dirty(s);
    reap_dead(s);
}

static int next_timeout_ms(const struct grpc_server *s)
{
    int64_t due = INT64_MAX;
    if (s->n_heap) due = s->heap[0]->due_us;
    if (s->later && s->later->due_us < due) due = s->later->due_us;
    if (s->pf_head && s->pf_head->preface_due_us < due) due = s->pf_head->preface_due_us;
    if (due == INT64_MAX) return -1;
    int64_t left = due - mono_us();
    if (left <= 0) return 0;
    int64_t ms = (left + 999) / 1000;
    return ms > 60000 ? 60000 : (int)ms;
}

/* GOAWAY to every connection, a last non-blocking write, then closed. */
static void shutdown_all(struct grpc_server *s)
{
    for (struct conn *c = s->conns; c; c = c->next) {
        if (c->closing) continue;
        nghttp2_session_terminate_session(c->h2, NGHTTP2_NO_ERROR);
        conn_flush(c);
        if (c->fd >= 0) {   /* read what the peer sent (bounded: it may keep sending), so that closing
                               does not turn into a reset before it has read the GOAWAY */
            uint8_t buf[4096];
            for (int i = 0; i < 64 && read(c->fd, buf, sizeof buf) > 0; i++) {
            }
            shutdown(c->fd, SHUT_WR);
        }
        conn_close(c);
    }
    s->dirty_head = NULL;
    for (struct conn *c = s->conns; c; c = c->next) c->dirty = false;
    reap_dead(s);
}

static void *loop_main(void *arg)
{
    struct grpc_server *s = arg;
    struct epoll_event evs[MAX_EVENTS];
    bool stop = false;
    while (!stop) {
        int n = epoll_wait(s->epfd, evs, MAX_EVENTS, next_timeout_ms(s));
        if (n < 0 && errno != EINTR) {
            log_warn("grpc: epoll_wait: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &s->lfd) {
                accept_some(s);
            } else if (p == &s->evfd) {
                uint64_t v;
                ssize_t r = read(s->evfd, &v, sizeof v);
                (void)r;
            } else {
                struct conn *c = p;
                if (c->closing) continue;
                if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) conn_read(c);
                if (!c->closing && (evs[i].events & EPOLLOUT)) conn_mark_dirty(c);
            }
        }
        loop_work(s, &stop);
    }
    shutdown_all(s);
    return NULL;
}

/* ---------------------------------------------------------------- public API */

static struct grpc_server *server_new(const struct grpc_handlers *h)
{
    struct grpc_server *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    if (h) s->h = *h;
    s->lfd = s->epfd = s->evfd = -1;
    atomic_store(&s->preface_timeout_ms, GRPC_PREFACE_TIMEOUT_MS);
    pthread_mutex_init(&s->mu, NULL);
    s->cbs = callbacks_new();
    s->gather = malloc(GATHER_CAP);
    if (!s->cbs || !s->gather) {
        if (s->cbs) nghttp2_session_callbacks_del(s->cbs);
        free(s->gather);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return NULL;
    }
    return s;
}

static void server_free(struct grpc_server *s)
{
    for (struct cmd *lists[] = {s->cmd_head, s->later}, **l = lists; l < lists + 2; l++) {
        for (struct cmd *cm = *l, *next; cm; cm = next) {
            next = cm->next;
            free(cm->msg);
            shared_release(cm->sh);
            free(cm->serials);
            free(cm);
        }
    }
    if (s->lfd >= 0) close(s->lfd);
    if (s->epfd >= 0) close(s->epfd);
    if (s->evfd >= 0) close(s->evfd);
    nghttp2_session_callbacks_del(s->cbs);
    pthread_mutex_destroy(&s->mu);
    free(s->heap);
    free(s->live);
    free(s->gather);
    free(s);
}

static int listen_on(struct grpc_server *s, const char *host, int port, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    char portstr[16];
    int fd = -1, rc = -1, saved = EINVAL;
    snprintf(portstr, sizeof portstr, "%d", port);
    int gai = getaddrinfo(host, portstr, &hints, &ai);
    if (gai || !ai) {
        snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(gai));
        goto out;
    }
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        saved = errno;
        snprintf(err, errlen, "socket: %s", strerror(saved));
        goto out;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ai->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 1024)) {
        saved = errno;
        snprintf(err, errlen, "cannot listen on %s:%d: %s", host, port, strerror(saved));
        goto out;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl)) {
        saved = errno;
        snprintf(err, errlen, "getsockname: %s", strerror(saved));
        goto out;
    }
    s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                              : ((struct sockaddr_in *)&ss)->sin_port);
    s->lfd = fd;
    fd = -1;
    rc = 0;
out:
    if (fd >= 0) close(fd);
    if (ai) freeaddrinfo(ai);
    if (rc) errno = saved;
    return rc;
}

struct grpc_server *grpc_server_start(const char *host, int port, const struct grpc_handlers *h, char *err,
                                      size_t errlen)
{
    struct grpc_server *s = server_new(h);
    int saved = ENOMEM;
    if (!s) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (listen_on(s, host, port, err, errlen)) {
        saved = errno;
        goto fail;
    }
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    s->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->epfd < 0 || s->evfd < 0) {
        saved = errno;
        snprintf(err, errlen, "epoll/eventfd: %s", strerror(saved));
        goto fail;
    }
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = &s->lfd};
    struct epoll_event eev = {.events = EPOLLIN, .data.ptr = &s->evfd};
    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->lfd, &lev) || epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->evfd, &eev)) {
        saved = errno;
        snprintf(err, errlen, "epoll_ctl: %s", strerror(saved));
        goto fail;
    }
    int e = pthread_create(&s->thread, NULL, loop_main, s);
    if (e) {
        saved = e;
        snprintf(err, errlen, "cannot start the gRPC loop thread: %s", strerror(e));
        goto fail;
    }
    s->threaded = true;
    return s;
fail:
    if (s) server_free(s);
    errno = saved;
    return NULL;
}

int grpc_server_port(const struct grpc_server *s)
{
    return s->port;
}

void grpc_server_stop(struct grpc_server *s)
{
    if (!s) return;
    if (s->threaded) {
        pthread_mutex_lock(&s->mu);
        s->stop = true;
        pthread_mutex_unlock(&s->mu);
        wake(s);
        pthread_join(s->thread, NULL);
    } else {
        for (struct conn *c = s->conns; c; c = c->next) conn_close(c);
        reap_dead(s);
    }
    server_free(s);
}

static int enqueue(struct grpc_server *s, enum cmd_kind kind, uint64_t serial, uint8_t *msg, size_t len,
                   int64_t delay_ms)
{
    struct cmd *cm = calloc(1, sizeof *cm);
    if (!cm) {
        free(msg);
        return -1;
    }
    *cm = (struct cmd){.kind = kind, .serial = serial, .msg = msg, .len = len,
                       .due_us = delay_ms > 0 ? mono_us() + delay_ms * 1000 : 0};
    pthread_mutex_lock(&s->mu);
    bool ok = true, first = !s->cmd_head;
    if (kind != CMD_CLOSE_ALL) {
        ssize_t i = live_find(s, serial);
        ok = i >= 0 && (kind != CMD_SEND || s->live[i].bi);
    }
    if (ok) {
        if (s->cmd_tail) s->cmd_tail->next = cm;
        else s->cmd_head = cm;
        s->cmd_tail = cm;
    }
    pthread_mutex_unlock(&s->mu);
    if (!ok) {
        free(msg);
        free(cm);
        return -1;
    }
    /* Only the command that finds the queue empty wakes the loop: the loop takes the whole queue at
     * once, and the eventfd stays readable until it does (a push to 2,000 subscribers is one wake-up,
     * not 2,000). */
    if (first) wake(s);
    return 0;
}

int grpc_server_send(struct grpc_server *s, uint64_t serial, uint8_t *msg, size_t len)
{
    return enqueue(s, CMD_SEND, serial, msg, len, 0);
}

int grpc_server_send_after(struct grpc_server *s, uint64_t serial, uint8_t *msg, size_t len, int64_t delay_ms)
{
    return enqueue(s, CMD_SEND, serial, msg, len, delay_ms);
}

size_t grpc_server_send_many(struct grpc_server *s, const uint64_t *serials, size_t n, uint8_t *msg, size_t len)
{
    struct cmd *cm = calloc(1, sizeof *cm);
    struct shared *sh = calloc(1, sizeof *sh);
    uint64_t *v = malloc((n ? n : 1) * sizeof *v);
    if (!cm || !sh || !v) {
        free(cm);
        free(sh);
        free(v);
        free(msg);
        return 0;
    }
    *sh = (struct shared){.refs = 1, .p = msg, .len = len};
    *cm = (struct cmd){.kind = CMD_SEND_MANY, .serials = v, .sh = sh};
    pthread_mutex_lock(&s->mu);
    bool first = !s->cmd_head;
    for (size_t i = 0; i < n; i++) {
        ssize_t k = live_find(s, serials[i]);
        if (k >= 0 && s->live[k].bi) v[cm->n++] = serials[i];
    }
    if (cm->n) {
        if (s->cmd_tail) s->cmd_tail->next = cm;
        else s->cmd_head = cm;
        s->cmd_tail = cm;
    }
    size_t queued = cm->n;
    pthread_mutex_unlock(&s->mu);
    if (!queued) {
        free(v);
        free(cm);
        free(sh);
        free(msg);
        return 0;
    }
    if (first) wake(s);
    return queued;
}

int grpc_server_close(struct grpc_server *s, uint64_t serial)
{
    return enqueue(s, CMD_CLOSE, serial, NULL, 0, 0);
}

void grpc_server_close_all(struct grpc_server *s)
{
    enqueue(s, CMD_CLOSE_ALL, 0, NULL, 0, 0);
}

void grpc_server_set_preface_timeout(struct grpc_server *s, int64_t ms)
{
    atomic_store(&s->preface_timeout_ms, ms > 0 ? ms : 1);
}

bool grpc_server_has_conn(struct grpc_server *s, uint64_t serial)
{
    pthread_mutex_lock(&s->mu);
    bool has = live_find(s, serial) >= 0;
    pthread_mutex_unlock(&s->mu);
    return has;
}

size_t grpc_server_connections(struct grpc_server *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->n_live;
    pthread_mutex_unlock(&s->mu);
    return n;
}

void grpc_server_get_stats(struct grpc_server *s, struct grpc_server_stats *out)
{
    out->connections = grpc_server_connections(s);
    out->streams = atomic_load(&s->st_streams);
    out->input_held = atomic_load(&s->st_input);
    out->output_queued = atomic_load(&s->st_output);
    out->accepted = atomic_load(&s->st_accepted);
    out->closed = atomic_load(&s->st_closed);
    out->calls = atomic_load(&s->st_calls);
    out->refused = atomic_load(&s->st_refused);
}

/* ---------------------------------------------------------------- the feed server (fuzzing, tests) */

struct grpc_server *grpc_server_feed_start(const struct grpc_handlers *h)
{
    struct grpc_server *s = server_new(h);
    if (!s) return NULL;
    struct sockaddr_storage peer;
    memset(&peer, 0, sizeof peer);
    struct sockaddr_in *in = (struct sockaddr_in *)&peer;
    in->sin_family = AF_INET;
    in->sin_port = htons(1);
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (!conn_open(s, -1, &peer)) {
        server_free(s);
        return NULL;
    }
    return s;
}

int grpc_server_feed(struct grpc_server *s, const uint8_t *data, size_t len,
                     void (*sink)(void *arg, const uint8_t *out, size_t n), void *arg)
{
    struct conn *c = s->conns;
    if (!c) return -1;
    s->sink = sink;
    s->sink_arg = arg;
    if (len && !c->closing) conn_recv(c, data, len);
    loop_work(s, NULL);
    s->sink = NULL;
    s->sink_arg = NULL;
    return s->conns ? 0 : -1;
}
