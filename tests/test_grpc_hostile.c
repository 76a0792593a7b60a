/*
 * test_grpc_hostile.c — hostile input against the gRPC transport (server/grpc_server.c), in process
 * on port 0, over real sockets: bad prefaces, oversized HEADERS (frame too large, header list too
 * large, a CONTINUATION flood, a header field past HPACK's limit), 10,000 streams on one connection
 * (blasted raw past the concurrency limit, and queued by a well-behaved client), a 100 MB message
 * claimed in the prefix, the per-connection input budget, a peer that never reads, half-sent
 * frames from 300 slow clients, and peers that never complete the HTTP/2 preface.
 *
 * Throughout, a watchdog thread on its own connection makes echo calls one after the other: every
 * one must be answered (within 5 s, so a blocked loop fails the test). Afterwards nothing is left:
 * no connection, stream, held input or queued output, every on_open has its on_close, every call its
 * on_call_end, and the handlers saw exactly the calls that were well-formed ("changes nothing").
 * Leaks are ASan's to find (stage 4 of scripts/test.sh).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "grpc_client.h"
#include "harness.h"
#include "nacos_mock/grpc_frame.h"
#include "nacos_mock/grpc_payload.h"
#include "nacos_mock/grpc_server.h"

#define T_MS 10000
#define BIG_ANSWER ((size_t)4 << 20)

/* HTTP/2 frame types and flags (RFC 9113) for the raw frames built here. */
enum { F_DATA = 0, F_HEADERS = 1, F_CONTINUATION = 9 };
enum { FL_END_STREAM = 1, FL_END_HEADERS = 4 };

struct ctx {
    atomic_int opens, closes, calls, watch_calls, ended;   /* calls: all but the watchdog's */
    atomic_int errors;
};
static struct ctx g;

static void h_open(void *vctx, struct grpc_conn_info *c)
{
    struct ctx *x = vctx;
    c->user = malloc(8);
    x->opens++;
}

static void h_close(void *vctx, struct grpc_conn_info *c)
{
    struct ctx *x = vctx;
    free(c->user);
    x->closes++;
}

/* Echo and Watch (the watchdog's): the request's body back; Big: a BIG_ANSWER-byte answer to a small request. */
static void h_unary(void *vctx, struct grpc_call *call, struct grpc_answer *out)
{
    struct ctx *x = vctx;
    struct grpc_payload p;
    char err[128];
    if (grpc_payload_decode(call->msg, call->len, &p, err, sizeof err)) {
        x->calls++;
        x->errors++;
        out->v = GRPC_STATUS;
        out->status = GRPC_INVALID_ARGUMENT;
        return;
    }
    if (!strcmp(p.type, "Watch")) x->watch_calls++;
    else x->calls++;
    if (!strcmp(p.type, "Big")) {
        char *body = malloc(BIG_ANSWER);
        memset(body, 'b', BIG_ANSWER);
        out->msg = grpc_payload_encode("BigResponse", body, BIG_ANSWER, &out->len);
        free(body);
    } else {
        out->msg = grpc_payload_encode("EchoResponse", p.body, p.body_len, &out->len);
    }
    grpc_payload_free(&p);
}

static void h_call_end(void *vctx, struct grpc_call *call, bool answered)
{
    struct ctx *x = vctx;
    (void)call;
    (void)answered;
    x->ended++;
}

/* ---------------------------------------------------------------- the watchdog */

struct watchdog {
    int port;
    atomic_bool stop;
    atomic_int ok, failed;
    atomic_int max_ms;
    pthread_t thread;
};

static void *watchdog_main(void *arg)
{
    struct watchdog *w = arg;
    struct gc *c = gc_connect("127.0.0.1", w->port, 5000);
    if (!c) {
        w->failed++;
        return NULL;
    }
    for (int i = 0; !w->stop; i++) {
        struct gc_result r;
        int64_t t0 = nm_mono_ms();
        int rc = gc_unary(c, "Watch", nm_fmt("{\"i\":%d}", i), 5000, &r);
        int ms = (int)(nm_mono_ms() - t0);
        if (rc || r.grpc_status != 0 || !r.json || strcmp(r.json, nm_fmt("{\"i\":%d}", i))) w->failed++;
        else w->ok++;
        if (ms > w->max_ms) w->max_ms = ms;
        gc_result_free(&r);
        gc_pump(c, 2);   /* pacing: a call every few ms leaves the CPU to the test's hostile peers */
    }
    gc_close(c);
    return NULL;
}

static struct grpc_server *g_srv;
static struct watchdog g_wd;

static int setup(void **state)
{
    (void)state;
    memset(&g, 0, sizeof g);
    struct grpc_handlers h = {.ctx = &g, .on_open = h_open, .on_close = h_close, .on_unary = h_unary,
                              .on_call_end = h_call_end};
    char err[256];
    g_srv = grpc_server_start("127.0.0.1", 0, &h, err, sizeof err);
    if (!g_srv) return -1;
    memset(&g_wd, 0, sizeof g_wd);
    g_wd.port = grpc_server_port(g_srv);
    pthread_create(&g_wd.thread, NULL, watchdog_main, &g_wd);
    int64_t end = nm_mono_ms() + T_MS;   /* its connection is open before the test counts opens */
    while (g.opens < 1 && nm_mono_ms() < end) usleep(1000);
    return g.opens == 1 ? 0 : -1;
}

/* The watchdog made progress and never failed; then everything is back to nothing. */
static int teardown(void **state)
{
    (void)state;
    /* one more answered call after the test's peers had their go: the server still serves (a short test
     * can end before the watchdog's first call comes back, so this waits rather than counts) */
    int ok0 = g_wd.ok;
    int64_t wd_end = nm_mono_ms() + T_MS;
    while (g_wd.ok <= ok0 && !g_wd.failed && nm_mono_ms() < wd_end) usleep(1000);
    g_wd.stop = true;
    pthread_join(g_wd.thread, NULL);
    fprintf(stderr, "watchdog: %d calls answered, %d failed, slowest %d ms\n", (int)g_wd.ok, (int)g_wd.failed,
            (int)g_wd.max_ms);
    struct grpc_server_stats st;
    int64_t end = nm_mono_ms() + T_MS;
    for (;;) {
        grpc_server_get_stats(g_srv, &st);
        if (!(st.connections || st.streams || st.input_held || st.output_queued) || nm_mono_ms() > end) break;
        usleep(1000);
    }
    grpc_server_stop(g_srv);
    int bad = g_wd.failed || g_wd.ok <= ok0 || st.connections || st.streams || st.input_held || st.output_queued ||
              g.errors || g.opens != g.closes || g.calls + g.watch_calls != g.ended;
    if (bad)
        fprintf(stderr, "left: %zu connections, %zu streams, %zu held, %zu queued; opens %d closes %d calls %d ended %d "
                        "errors %d\n", st.connections, st.streams, st.input_held, st.output_queued, (int)g.opens,
                (int)g.closes, (int)g.calls, (int)g.ended, (int)g.errors);
    return bad ? -1 : 0;
}

/* Calls seen by the handlers besides the watchdog's. */
static int extra_calls(void)
{
    return g.calls;
}

static void wait_int_eq(atomic_int *v, int want)
{
    int64_t end = nm_mono_ms() + T_MS;
    while (*v != want && nm_mono_ms() < end) usleep(1000);
    assert_int_equal(*v, want);
}

/* A framed Echo request message. Caller frees. */
static uint8_t *echo_message(const char *json, size_t *n)
{
    size_t pl_len = 0;
    uint8_t *pl = grpc_payload_encode("Echo", json, strlen(json), &pl_len);
    uint8_t *framed = grpc_frame_encode(pl, pl_len, n);
    free(pl);
    return framed;
}

/* HEADERS (END_HEADERS) + DATA (END_STREAM) of one unary call carrying msg on `stream`, appended at out. */
static size_t raw_call(struct gc *c, uint8_t *out, uint32_t stream, const uint8_t *msg, size_t n)
{
    uint8_t block[512];
    size_t bl = gc_raw_hpack(c, GC_PATH_UNARY, NULL, NULL, block, sizeof block);
    assert_true(bl > 0);
    size_t k = gc_raw_frame(out, F_HEADERS, FL_END_HEADERS, stream, block, bl);
    return k + gc_raw_frame(out + k, F_DATA, FL_END_STREAM, stream, msg, n);
}

static struct gc *raw_connect(void)
{
    struct gc *c = gc_connect_raw("127.0.0.1", grpc_server_port(g_srv), T_MS);
    assert_non_null(c);
    return c;
}

/* ---------------------------------------------------------------- tests */

static void test_bad_prefaces(void **state)
{
    (void)state;
    const char *const bad[] = {
        "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n",
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",   /* a TLS ClientHello */
        "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
    };
    int closes0 = g.closes;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct gc *c = raw_connect();
        size_t n = i == 3 ? 28 : strlen(bad[i]);
        assert_int_equal(gc_send_raw(c, bad[i], n), 0);
        assert_true(gc_wait_closed(c, T_MS));
        gc_close(c);
    }
    /* a good preface and then a frame that is not SETTINGS */
    struct gc *c = raw_connect();
    uint8_t buf[64];
    memcpy(buf, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
    size_t n = 24 + gc_raw_frame(buf + 24, 6 /* PING */, 0, 0, NULL, 8);
    assert_int_equal(gc_send_raw(c, buf, n), 0);
    assert_true(gc_wait_closed(c, T_MS));
    gc_close(c);
    /* half a preface, then the peer goes away */
    c = raw_connect();
    assert_int_equal(gc_send_raw(c, "PRI * HTTP", 10), 0);
    gc_close(c);
    wait_int_eq(&g.closes, closes0 + 6);
    assert_int_equal(extra_calls(), 0);
}

/* A header block split into HEADERS + CONTINUATION frames of at most `chunk` bytes. */
static size_t split_block(uint8_t *out, uint32_t stream, uint8_t first_flags, const uint8_t *block, size_t len,
                          size_t chunk)
{
    size_t o = 0, at = 0;
    bool first = true;
    while (first || at < len) {
        size_t k = len - at < chunk ? len - at : chunk;
        uint8_t flags = (uint8_t)((first ? first_flags : 0) | (at + k == len ? FL_END_HEADERS : 0));
        o += gc_raw_frame(out + o, first ? F_HEADERS : F_CONTINUATION, flags, stream, block + at, k);
        at += k;
        first = false;
    }
    return o;
}

static char *filler(size_t n)
{
    char *v = malloc(n + 1);
    for (size_t i = 0; i < n; i++) v[i] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[i * 7 % 62];
    v[n] = '\0';
    return v;
}

static void test_oversized_headers(void **state)
{
    (void)state;
    size_t cap = 1 << 20;
    uint8_t *buf = malloc(cap), *block = malloc(cap);
    size_t msg_len = 0;
    uint8_t *msg = echo_message("{\"ok\":1}", &msg_len);

    /* 1. a HEADERS frame longer than SETTINGS_MAX_FRAME_SIZE (16384): connection error */
    struct gc *c = raw_connect();
    size_t n = gc_raw_preface(buf);
    n += gc_raw_frame(buf + n, F_HEADERS, FL_END_HEADERS, 1, NULL, 20000);
    assert_int_equal(gc_send_raw(c, buf, n), 0);
    assert_true(gc_wait_closed(c, T_MS));
    gc_close(c);

    /* 2. a header list over GRPC_MAX_HEADER_LIST (in 3 frames): that stream is reset, the
     *    connection goes on and answers the next call */
    c = raw_connect();
    char *v = filler(50000);
    size_t bl = gc_raw_hpack(c, GC_PATH_UNARY, "x-big", v, block, cap);
    assert_true(bl > 16384 * 2);
    n = gc_raw_preface(buf);
    n += split_block(buf + n, 1, FL_END_STREAM, block, bl, 16384);
    n += raw_call(c, buf + n, 3, msg, msg_len);
    assert_int_equal(gc_send_raw(c, buf, n), 0);
    int64_t end = nm_mono_ms() + T_MS;
    while (gc_raw_stats(c)->grpc_status[0] < 1 && !gc_eof(c) && nm_mono_ms() < end) gc_pump(c, 10);
    assert_int_equal(gc_raw_stats(c)->rst, 1);
    assert_int_equal(gc_raw_stats(c)->grpc_status[0], 1);
    assert_false(gc_goaway(c));
    gc_close(c);
    free(v);

    /* 3. a CONTINUATION flood: one header block in 40 frames: the connection is closed */
    c = raw_connect();
    v = filler(60000);
    bl = gc_raw_hpack(c, GC_PATH_UNARY, "x-big", v, block, cap);
    n = gc_raw_preface(buf);
    n += split_block(buf + n, 1, FL_END_STREAM, block, bl, bl / 40 + 1);
    gc_send_raw(c, buf, n);   /* the server may close before it has read everything */
    assert_true(gc_wait_closed(c, T_MS));
    gc_close(c);
    free(v);

    /* 4. one header field whose encoded length is past HPACK's 64 KiB (`~` does not shrink under
     *    Huffman coding, so it is sent raw): compression error, the connection is closed */
    c = raw_connect();
    v = malloc(70001);
    memset(v, '~', 70000);
    v[70000] = '\0';
    bl = gc_raw_hpack(c, GC_PATH_UNARY, "x-big", v, block, cap);
    n = gc_raw_preface(buf);
    n += split_block(buf + n, 1, FL_END_STREAM, block, bl, 16384);
    gc_send_raw(c, buf, n);
    assert_true(gc_wait_closed(c, T_MS));
    gc_close(c);
    free(v);

    assert_int_equal(extra_calls(), 1);   /* only the good call of case 2 */
    free(msg);
    free(buf);
    free(block);
}

static void test_ten_thousand_streams(void **state)
{
    (void)state;
    enum { N = 10000 };
    int calls0 = extra_calls();
    /* raw: all at once, far past SETTINGS_MAX_CONCURRENT_STREAMS; each stream is answered or refused */
    struct gc *c = raw_connect();
    size_t msg_len = 0;
    uint8_t *msg = echo_message("{\"blast\":true}", &msg_len);
    size_t cap = (size_t)N * (msg_len + 128) + 64;
    uint8_t *buf = malloc(cap);
    size_t n = gc_raw_preface(buf);
    uint8_t incr[4] = {0x7f, 0xff, 0x00, 0x00};   /* the connection window: room for every answer */
    n += gc_raw_frame(buf + n, 8 /* WINDOW_UPDATE */, 0, 0, incr, 4);
    for (uint32_t i = 0; i < N; i++) n += raw_call(c, buf + n, 2 * i + 1, msg, msg_len);
    assert_true(n <= cap);
    assert_int_equal(gc_send_raw(c, buf, n), 0);
    const struct gc_raw_stats *st = gc_raw_stats(c);
    int64_t end = nm_mono_ms() + 60000;
    while (st->grpc_status[0] + st->rst_refused < N && !gc_eof(c) && nm_mono_ms() < end) gc_pump(c, 10);
    fprintf(stderr, "raw blast: %llu answered, %llu refused\n", (unsigned long long)st->grpc_status[0],
            (unsigned long long)st->rst_refused);
    assert_int_equal(st->grpc_status[0] + st->rst_refused, N);
    assert_true(st->grpc_status[0] >= 128);
    assert_false(gc_goaway(c));
    assert_int_equal(extra_calls() - calls0, (int)st->grpc_status[0]);
    gc_close(c);
    free(buf);
    free(msg);

    /* a well-behaved client: 10,000 calls queued at once, at most 128 in flight, all answered */
    calls0 = extra_calls();
    struct gc *w = gc_connect("127.0.0.1", grpc_server_port(g_srv), T_MS);
    assert_non_null(w);
    static int32_t ids[N];
    for (int i = 0; i < N; i++) {
        ids[i] = gc_start(w, "Echo", "{\"queued\":true}");
        assert_true(ids[i] > 0);
    }
    for (int i = 0; i < N; i++) {
        struct gc_result r;
        assert_int_equal(gc_wait(w, ids[i], 60000, &r), 0);
        assert_int_equal(r.grpc_status, 0);
        gc_result_free(&r);
    }
    assert_int_equal(extra_calls() - calls0, N);
    gc_close(w);
}

static void test_huge_claimed_message(void **state)
{
    (void)state;
    struct gc *c = gc_connect("127.0.0.1", grpc_server_port(g_srv), T_MS);
    assert_non_null(c);
    /* 100 MB claimed, 64 KiB sent, no END_STREAM: grpc-status 8 at once, nothing held */
    size_t sent = 64 << 10;
    uint8_t *body = calloc(1, sent);
    grpc_frame_prefix(body, (size_t)100 << 20);
    int32_t id = gc_start_body(c, GC_PATH_UNARY, body, sent, false);
    struct gc_result r;
    assert_int_equal(gc_wait(c, id, T_MS, &r), 0);
    assert_int_equal(r.grpc_status, GRPC_RESOURCE_EXHAUSTED);
    assert_non_null(strstr(r.grpc_message, "104857600"));
    gc_result_free(&r);
    struct grpc_server_stats st;
    grpc_server_get_stats(g_srv, &st);
    assert_true(st.input_held < ((size_t)1 << 20));   /* the watchdog's call at most */
    free(body);

    /* the connection's input budget: 5 partial messages of 9 MiB each (under the 10 MiB cap, 45 MiB in
     * all): the server holds at most GRPC_CONN_INPUT_MAX and refuses what goes past it */
    size_t part = (size_t)9 << 20;
    body = calloc(1, part);
    grpc_frame_prefix(body, part + 1000);   /* never completed */
    int32_t ids[5];
    for (int i = 0; i < 5; i++) ids[i] = gc_start_body(c, GC_PATH_UNARY, body, part, false);
    int refused = 0;
    int64_t end = nm_mono_ms() + 30000;
    while (nm_mono_ms() < end && refused < 2) {
        gc_pump(c, 10);
        grpc_server_get_stats(g_srv, &st);
        assert_true(st.input_held <= GRPC_CONN_INPUT_MAX + ((size_t)1 << 20));
        refused = 0;
        for (int i = 0; i < 5; i++) refused += gc_done(c, ids[i]);
    }
    assert_true(refused >= 2);   /* 45 MiB > 32 MiB: at least two streams were cut */
    for (int i = 0; i < 5; i++) {
        if (!gc_done(c, ids[i])) {
            gc_cancel(c, ids[i]);
            continue;
        }
        assert_int_equal(gc_wait(c, ids[i], T_MS, &r), 0);
        assert_int_equal(r.grpc_status, GRPC_RESOURCE_EXHAUSTED);
        gc_result_free(&r);
    }
    free(body);
    gc_close(c);
    assert_int_equal(extra_calls(), 0);
}

static void test_peer_that_never_reads(void **state)
{
    (void)state;
    int closes0 = g.closes;
    struct gc *c = raw_connect();
    gc_set_reading(c, false);
    /* 10 calls each answered with 4 MiB: 40 MiB for a peer whose windows are 64 KiB and that never
     * reads: past GRPC_CONN_OUTPUT_MAX the server closes the connection */
    size_t pl_len = 0, msg_len = 0;
    uint8_t *pl = grpc_payload_encode("Big", "{}", 2, &pl_len);
    uint8_t *msg = grpc_frame_encode(pl, pl_len, &msg_len);
    uint8_t buf[8192];
    size_t n = gc_raw_preface(buf);
    for (uint32_t i = 0; i < 10; i++) n += raw_call(c, buf + n, 2 * i + 1, msg, msg_len);
    assert_int_equal(gc_send_raw(c, buf, n), 0);
    wait_int_eq(&g.closes, closes0 + 1);
    gc_set_reading(c, true);
    assert_true(gc_wait_closed(c, T_MS));
    gc_close(c);
    free(pl);
    free(msg);
    assert_true(extra_calls() >= 8);
}

static void test_slow_clients(void **state)
{
    (void)state;
    enum { N = 300 };
    static struct gc *cs[N];
    static uint8_t reqs[N][256];
    static size_t lens[N], sent[N];
    int opens0 = g.opens, closes0 = g.closes, calls0 = extra_calls();
    size_t msg_len = 0;
    uint8_t *msg = echo_message("{\"slow\":1}", &msg_len);
    for (int i = 0; i < N; i++) {
        cs[i] = raw_connect();
        size_t n = gc_raw_preface(reqs[i]);
        lens[i] = n + raw_call(cs[i], reqs[i] + n, 1, msg, msg_len);
        sent[i] = n + 9 + 4;   /* the preface, the HEADERS frame's header and 4 bytes of its block */
        assert_int_equal(gc_send_raw(cs[i], reqs[i], sent[i]), 0);
    }
    wait_int_eq(&g.opens, opens0 + N);
    int ok0 = g_wd.ok;
    /* they trickle a byte each, round after round, never completing a frame */
    for (int round = 0; round < 5; round++)
        for (int i = 0; i < N; i++) {
            assert_int_equal(gc_send_raw(cs[i], reqs[i] + sent[i], 1), 0);
            sent[i]++;
        }
    int64_t end = nm_mono_ms() + T_MS;
    while (g_wd.ok < ok0 + 20 && nm_mono_ms() < end) usleep(1000);
    assert_true(g_wd.ok >= ok0 + 20);   /* others are answered meanwhile */
    assert_int_equal(extra_calls(), calls0);
    assert_int_equal(grpc_server_connections(g_srv), N + 1);
    /* half of them finish their request and are answered; the other half give up */
    for (int i = 0; i < N; i++) {
        if (i % 2) {
            gc_close(cs[i]);
            continue;
        }
        assert_int_equal(gc_send_raw(cs[i], reqs[i] + sent[i], lens[i] - sent[i]), 0);
    }
    for (int i = 0; i < N; i += 2) {
        end = nm_mono_ms() + T_MS;
        while (gc_raw_stats(cs[i])->grpc_status[0] < 1 && !gc_eof(cs[i]) && nm_mono_ms() < end) gc_pump(cs[i], 10);
        assert_int_equal(gc_raw_stats(cs[i])->grpc_status[0], 1);
        gc_close(cs[i]);
    }
    wait_int_eq(&g.closes, closes0 + N);
    assert_int_equal(extra_calls() - calls0, N / 2);
    free(msg);
}

/* Peers that connect and never complete the preface (nothing sent, half the magic, the magic without
 * SETTINGS) are closed after the preface timeout; a peer that completed it is not, however long it
 * stays idle. The timeout is shortened for the test (grpc_server_set_preface_timeout), and no sleep
 * decides anything: the complete peer is accepted *before* the others, so once they have been
 * closed, its own deadline (had it kept one) has passed too. */
static void test_preface_timeout(void **state)
{
    (void)state;
    grpc_server_set_preface_timeout(g_srv, 300);
    int opens0 = g.opens, closes0 = g.closes, calls0 = extra_calls();
    struct gc *good = raw_connect();
    uint8_t buf[256];
    size_t n = gc_raw_preface(buf);
    assert_int_equal(gc_send_raw(good, buf, n), 0);
    wait_int_eq(&g.opens, opens0 + 1);
    struct gc *silent = raw_connect();
    struct gc *half = raw_connect();
    assert_int_equal(gc_send_raw(half, "PRI * HTTP/2.0\r\n", 16), 0);
    struct gc *magic_only = raw_connect();
    assert_int_equal(gc_send_raw(magic_only, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24), 0);
    assert_true(gc_wait_closed(silent, T_MS));
    assert_true(gc_wait_closed(half, T_MS));
    assert_true(gc_wait_closed(magic_only, T_MS));
    wait_int_eq(&g.closes, closes0 + 3);
    assert_int_equal(grpc_server_connections(g_srv), 2);   /* the watchdog's and `good` */
    /* the complete peer still works: one call, answered */
    size_t msg_len = 0;
    uint8_t *msg = echo_message("{\"late\":1}", &msg_len);
    n = raw_call(good, buf, 1, msg, msg_len);
    assert_int_equal(gc_send_raw(good, buf, n), 0);
    int64_t end = nm_mono_ms() + T_MS;
    while (gc_raw_stats(good)->grpc_status[0] < 1 && !gc_eof(good) && nm_mono_ms() < end) gc_pump(good, 10);
    assert_int_equal(gc_raw_stats(good)->grpc_status[0], 1);
    assert_false(gc_eof(good));
    assert_int_equal(extra_calls() - calls0, 1);
    free(msg);
    gc_close(good);
    gc_close(silent);
    gc_close(half);
    gc_close(magic_only);
    wait_int_eq(&g.closes, closes0 + 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bad_prefaces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversized_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ten_thousand_streams, setup, teardown),
        cmocka_unit_test_setup_teardown(test_huge_claimed_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_that_never_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_preface_timeout, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
