/*
 * test_grpc_server.c — integration tests of server/grpc_server.c: the transport started in-process
 * on port 0 with test handlers, driven over real sockets by the harness's h2c client
 * (tests/grpc_client.h). Unary answers (echo, empty, status with a percent-encoded message, defer,
 * delay without holding up other calls, hang, reset, close), the bi-stream (open, messages both
 * ways, sends from a handler and from another thread, half-close, reset, one per connection),
 * unknown paths, the message limits (too large at the prefix, compressed, two or no messages, a
 * 10 MiB message), closes from other threads, on_close and on_call_end exactly once for every
 * kind of ending, stop with calls in flight, IPv6, and "port in use".
 *
 * Handlers run on the transport's loop thread: they never assert, they count (atomics) and the test
 * waits for counts with a deadline.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "grpc_client.h"
#include "harness.h"
#include "nacos_mock/grpc_frame.h"
#include "nacos_mock/grpc_payload.h"
#include "nacos_mock/grpc_server.h"

#define T_MS 5000

struct ctx {
    atomic_int opens, closes, calls, ended_answered, ended_abandoned, stream_opens, stream_msgs, stream_closes;
    atomic_int errors;                  /* a handler saw something impossible */
    atomic_uint_least64_t last_serial;
    char last_id[96];                   /* written by on_open (loop thread), read after opens changed */
    atomic_int on_close_sends;          /* grpc_server_send from on_close (must be -1) */
    struct grpc_server *srv;
};

/* Per-connection user state: allocated in on_open, freed in on_close (ASan finds a missed close). */
static void h_open(void *vctx, struct grpc_conn_info *c)
{
    struct ctx *x = vctx;
    if (c->user || c->serial == 0) x->errors++;
    c->user = malloc(16);
    snprintf(x->last_id, sizeof x->last_id, "%s", c->id);
    atomic_store(&x->last_serial, c->serial);
    x->opens++;
}

static void h_close(void *vctx, struct grpc_conn_info *c)
{
    struct ctx *x = vctx;
    if (!c->user) x->errors++;
    free(c->user);
    c->user = NULL;
    if (grpc_server_send(x->srv, c->serial, malloc(1), 1) != -1) x->on_close_sends++;
    x->closes++;
}

static uint8_t *payload(const char *type, const char *json, size_t *len)
{
    return grpc_payload_encode(type, json, strlen(json), len);
}

static void h_unary(void *vctx, struct grpc_call *call, struct grpc_answer *out)
{
    struct ctx *x = vctx;
    if (!call->user) {   /* first time for this call */
        x->calls++;
        call->user = calloc(1, sizeof(int));
    }
    int *times = call->user;
    (*times)++;
    struct grpc_payload p;
    char err[128];
    if (grpc_payload_decode(call->msg, call->len, &p, err, sizeof err)) {
        out->v = GRPC_STATUS;
        out->status = GRPC_INVALID_ARGUMENT;
        snprintf(out->message, sizeof out->message, "%s", err);
        return;
    }
    const char *t = p.type;
    if (!strcmp(t, "Echo")) {
        out->msg = grpc_payload_encode("EchoResponse", p.body, p.body_len, &out->len);
    } else if (!strcmp(t, "Empty")) {
        out->msg = NULL;   /* an empty message */
    } else if (!strcmp(t, "Status")) {
        out->v = GRPC_STATUS;
        out->status = GRPC_FAILED_PRECONDITION;
        snprintf(out->message, sizeof out->message, "bad: \xc3\xbc 100%%\nnext");
    } else if (!strcmp(t, "Defer")) {
        if (*times < 3) {
            out->v = GRPC_DEFER;
            out->delay_ms = 30;
        } else {
            char body[64];
            snprintf(body, sizeof body, "{\"times\":%d}", *times);
            out->msg = payload("DeferResponse", body, &out->len);
        }
    } else if (!strcmp(t, "Delay")) {
        out->msg = payload("DelayResponse", "{}", &out->len);
        out->delay_ms = 300;
    } else if (!strcmp(t, "DelayStatus")) {
        out->v = GRPC_STATUS;
        out->status = GRPC_UNAVAILABLE;
        out->delay_ms = 50;
    } else if (!strcmp(t, "Hang")) {
        out->v = GRPC_HANG;
    } else if (!strcmp(t, "Reset")) {
        out->v = GRPC_RESET;
    } else if (!strcmp(t, "Close")) {
        out->v = GRPC_CLOSE;
    } else if (!strcmp(t, "Push")) {
        /* sends from a handler, on the loop thread: queued, no deadlock */
        for (int i = 0; i < 2; i++) {
            size_t n = 0;
            uint8_t *m = payload("Pushed", p.body, &n);
            if (grpc_server_send(x->srv, call->conn->serial, m, n)) x->errors++;
        }
        out->msg = payload("PushResponse", "{}", &out->len);
    } else {
        out->v = GRPC_STATUS;
        out->status = GRPC_UNIMPLEMENTED;
        snprintf(out->message, sizeof out->message, "unknown type %s", t);
    }
    grpc_payload_free(&p);
}

static void h_call_end(void *vctx, struct grpc_call *call, bool answered)
{
    struct ctx *x = vctx;
    free(call->user);
    call->user = NULL;
    if (answered) x->ended_answered++;
    else x->ended_abandoned++;
}

static void h_stream_open(void *vctx, struct grpc_conn_info *c)
{
    struct ctx *x = vctx;
    (void)c;
    x->stream_opens++;
}

static void h_stream_msg(void *vctx, struct grpc_conn_info *c, const uint8_t *msg, size_t len)
{
    struct ctx *x = vctx;
    x->stream_msgs++;
    struct grpc_payload p;
    char err[128];
    if (grpc_payload_decode(msg, len, &p, err, sizeof err)) {
        x->errors++;
        return;
    }
    if (!strcmp(p.type, "BiEcho")) {
        size_t n = 0;
        uint8_t *m = grpc_payload_encode("BiEchoResponse", p.body, p.body_len, &n);
        if (grpc_server_send(x->srv, c->serial, m, n)) x->errors++;
    } else if (!strcmp(p.type, "BiClose")) {
        grpc_server_close(x->srv, c->serial);
    }
    grpc_payload_free(&p);
}

static void h_stream_close(void *vctx, struct grpc_conn_info *c)
{
    struct ctx *x = vctx;
    (void)c;
    x->stream_closes++;
}

static struct ctx g;

static struct grpc_server *start(void)
{
    memset(&g, 0, sizeof g);
    struct grpc_handlers h = {
        .ctx = &g, .on_open = h_open, .on_close = h_close, .on_unary = h_unary, .on_call_end = h_call_end,
        .on_stream_open = h_stream_open, .on_stream_msg = h_stream_msg, .on_stream_close = h_stream_close,
    };
    char err[256];
    struct grpc_server *s = grpc_server_start("127.0.0.1", 0, &h, err, sizeof err);
    if (!s) fail_msg("grpc_server_start: %s", err);
    g.srv = s;
    assert_true(grpc_server_port(s) > 0);
    return s;
}

/* Waits up to ms for *v >= want. */
static bool wait_int(atomic_int *v, int want, int ms)
{
    int64_t end = nm_mono_ms() + ms;
    while (atomic_load(v) < want) {
        if (nm_mono_ms() > end) return false;
        usleep(1000);
    }
    return true;
}

#define WAIT_EQ(var, want)                                                                        \
    do {                                                                                         \
        if (!wait_int(&(var), (want), T_MS) || atomic_load(&(var)) != (want))                     \
            fail_msg("%s is %d, want %d", #var, atomic_load(&(var)), (want));                     \
    } while (0)

/* Stops the server and checks the books: every open closed, every call ended, no handler error. */
static void stop_and_check(struct grpc_server *s)
{
    grpc_server_stop(s);
    assert_int_equal(g.errors, 0);
    assert_int_equal(g.opens, g.closes);
    assert_int_equal(g.calls, g.ended_answered + g.ended_abandoned);
    assert_int_equal(g.stream_opens, g.stream_closes);
    assert_int_equal(g.on_close_sends, 0);
}

static struct gc *connect_to(struct grpc_server *s)
{
    struct gc *c = gc_connect("127.0.0.1", grpc_server_port(s), T_MS);
    assert_non_null(c);
    return c;
}

static void test_unary_echo(void **state)
{
    (void)state;
    struct grpc_server *s = start();
    struct gc *c = connect_to(s);
    WAIT_EQ(g.opens, 1);
    /* Nacos connectionId: <ms since epoch>_<peer ip>_<peer port> */
    char *end = NULL;
    long long ms = strtoll(g.last_id, &end, 10);
    assert_true(ms > 1600000000000LL);
    assert_true(!strncmp(end, "_127.0.0.1_", 11));
    assert_true(strtol(end + 11, NULL, 10) > 0);

    struct gc_result r;
    assert_int_equal(gc_unary(c, "Echo", "{\"requestId\":\"1\",\"x\":\"\xe4\xb8\xad\"}", T_MS, &r), 0);
    assert_int_equal(r.http_status, 200);
    assert_int_equal(r.grpc_status, 0);
    assert_false(r.reset);
    assert_int_equal(r.n_msgs, 1);
    assert_string_equal(r.type, "EchoResponse");
    assert_string_equal(r.json, "{\"requestId\":\"1\",\"x\":\"\xe4\xb8\xad\"}");
    gc_result_free(&r);

    assert_int_equal(gc_unary(c, "Empty", "{}", T_MS, &r), 0);   /* an empty message, status 0 */
    assert_int_equal(r.grpc_status, 0);
    assert_int_equal(r.n_msgs, 1);
    assert_int_equal(r.len, 0);
    gc_result_free(&r);

    WAIT_EQ(g.ended_answered, 2);
    assert_int_equal(grpc_server_connections(s), 1);
    gc_close(c);
    WAIT_EQ(g.closes, 1);
    assert_int_equal(grpc_server_connections(s), 0);
    stop_and_check(s);
}

static void test_many_calls_in_flight(void **state)
{
    (void)state;
    struct grpc_server *s = start();
    struct gc *c = connect_to(s);
    enum { N = 1000 };
    static int32_t ids[N];
    for (int i = 0; i < N; i++) {
        ids[i] = gc_start(c, "Echo", nm_fmt("{\"i\":%d}", i));
        assert_true(ids[i] > 0);
    }
    for (int i = 0; i < N; i++) {
        struct gc_result r;
        assert_int_equal(gc_wait(c, ids[i], T_MS, &r), 0);
        assert_int_equal(r.grpc_status, 0);
        assert_string_equal(r.json, nm_fmt("{\"i\":%d}", i));
        gc_result_free(&r);
    }
    WAIT_EQ(g.ended_answered, N);
    gc_close(c);
    WAIT_EQ(g.closes, 1);
    stop_and_check(s);
}

static void test_status_and_message(void **state)
{
    (void)state;
    struct grpc_server *s = start();
    struct gc *c = connect_to(s);
    struct gc_result r;
    assert_int_equal(gc_unary(c, "Status", "{}", T_MS, &r), 0);
    assert_int_equal(r.http_status, 200);   /* trailers-only */
    assert_int_equal(r.grpc_status, GRPC_FAILED_PRECONDITION);
    assert_string_equal(r.grpc_message, "bad: \xc3\xbc 100%\nnext");   /* percent-encoded on the wire */
    assert_int_equal(r.n_msgs, 0);
    gc_result_free(&r);

    assert_int_equal(gc_unary(c, "NoSuchType", "{}", T_MS, &r), 0);
    assert_int_equal(r.grpc_status, GRPC_UNIMPLEMENTED);
    assert_string_equal(r.grpc_message, "unknown type NoSuchType");
    gc_result_free(&r);

    /* a message that is not a Payload: the handler's decode error */
    uint8_t junk[] = {0, 0, 0, 0, 2, 0xff, 0xff};
    int32_t id = gc_start_body(c, GC_PATH_UNARY, junk, sizeof junk, true);
    assert_int_equal(gc_wait(c, id, T_MS, &r), 0);
    assert_int_equal(r.grpc_status, GRPC_INVALID_ARGUMENT);
    gc_result_free(&r);
    gc_close(c);
    stop_and_check(s);
}

static void test_unknown_path_and_method(void **state)
{
    (void)state;
    struct grpc_server *s = start();
    struct gc *c = connect_to(s);
    size_t n = 0;
    uint8_t *pl = payload("Echo", "{}", &n);
    uint8_t *framed = grpc_frame_encode(pl, n, &n);
    struct gc_result r;
    const char *paths[] = {"/Request/other", "/Foo/request", "/", "/Request/request/x"};
    for (size_t i = 0; i < 4; i++) {
        int32_t id = gc_start_body(c, paths[i], framed, n, true);
        assert_int_equal(gc_wait(c, id, T_MS, &r), 0);
        assert_int_equal(r.http_status, 200);
        assert_int_equal(r.grpc_status, GRPC_UNIMPLEMENTED);
        gc_result_free(&r);
    }
    assert_int_equal(g.calls, 0);
    /* the connection still works */
    assert_int_equal(gc_unary(c, "Echo", "{}", T_MS, &r), 0);
    assert_int_equal(r.grpc_status, 0);
    gc_result_free(&r);
    free(pl);
    free(framed);
    gc_close(c);
    stop_and_check(s);
}

static void test_defer_and_delay(void **state)
{
    (void)state;
    struct grpc_server *s = start();
    struct gc *c = connect_to(s);
    /* a delayed answer does not hold up a later call on the same connection */
    int64_t t0 = nm_mono_ms();
    int32_t slow = gc_start(c, "Delay", "{}");
    int32_t defer = gc_start(c, "Defer", "{}");
    struct gc_result r;
    assert_int_equal(gc_unary(c, "Echo", "{\"fast\":1}", T_MS, &r), 0);
    assert_int_equal(r.grpc_status, 0);
    assert_false(gc_done(c, slow));
    gc_result_free(&r);

    assert_int_equal(gc_wait(c, defer, T_MS, &r), 0);
    assert_string_equal(r.type, "DeferResponse");
    assert_string_equal(r.json, "{\"times\":3}");   /* on_unary ran 3 times, call->user kept */
    assert_true(nm_mono_ms() - t0 >= 60);            /* two deferrals of 30 ms */
    gc_result_free(&r);

    assert_int_equal(gc_wait(c, slow, T_MS, &r), 0);
    assert_string_equal(r.type, "DelayResponse");
    assert_true(nm_mono_ms() - t0 >= 300);
    gc_result_free(&r);

    assert_int_equal(gc_unary(c, "DelayStatus", "{}", T_MS, &r), 0);
    assert_int_equal(r.grpc_status, GRPC_UNAVAILABLE);
    gc_result_free(&r);
    WAIT_EQ(g.ended_answered, 4);
    assert_int_equal(g.calls, 4);
    gc_close(c);
    stop_and_check(s);
}

static void test_hang_cancel_reset(void **state)
{
    (void)state;
    struct grpc_server *s = start();
    struct gc *c = connect_to(s);
    int32_t hang = gc_start(c, "Hang", "{}");
    WAIT_EQ(g.calls, 1);
    gc_pump(c, 20);
    assert_false(gc_done(c, hang));
    assert_int_equal(gc_cancel(c, hang), 0);   /* the peer gives up: the call is abandoned */
    WAIT_EQ(g.ended_abandoned, 1);

    struct gc_result r;
    assert_int_equal(gc_unary(c, "Reset", "{}", T_MS, &r), 0);
    assert_true(r.reset);
    assert_int_equal(r.rst_code, 8);   /* CANCEL */
    assert_int_equal(r.grpc_status, -1);
    gc_result_free(&r);
    WAIT_EQ(g.ended_answered, 1);

    /* a deferred call cancelled while it waits: its timer goes with it */
    int32_t defer = gc_start(c, "Defer", "{}");
    WAIT_EQ(g.calls, 3);
    gc_cancel(c, defer);
    WAIT_EQ(g.ended_abandoned, 2);

    assert_int_equal(gc_unary(c, "Echo", "{}", T_MS, &r), 0);
    assert_int_equal(r.grpc_status, 0);
    gc_result_free(&r);
    gc_close(c);
    stop_and_check(s);
}

static void test_close_verdict(void **state)
{
    (void)state;
    struct grpc_server *s = start();
    struct gc *c = connect_to(s);
    int32_t hang = gc_start(c, "Hang", "{}");
    struct gc_result r;
    assert_int_equal(gc_unary(c, "Close", "{}", T_MS, &r), -1);   /* no answer: the connection ends */
    gc_result_free(&r);
    assert_true(gc_wait_closed(c, T_MS));
    assert_true(gc_eof(c));
    assert_false(gc_goaway(c));                 /* as a crashed server: no GOAWAY */
    assert_false(gc_done(c, hang));
    WAIT_EQ(g.closes, 1);
    assert_int_equal(g.ended_answered, 1);      /* Close: carried out */
    assert_int_equal(g.ended_abandoned, 1);     /* Hang: abandoned */
    gc_close(c);
    stop_and_check(s);
}

static void test_bi_stream(void **state)
{
    (void)state;
    struct grpc_server *s = start();
    struct gc *c = connect_to(s);
    WAIT_EQ(g.opens, 1);
    uint64_t serial = atomic_load(&g.last_serial);
    assert_int_equal(grpc_server_send(s, serial, malloc(1), 1), -1);   /* no bi-stream yet */
    assert_int_equal(gc_bi_open(c, T_MS), 0);
    WAIT_EQ(g.stream_opens, 1);

    assert_int_equal(gc_bi_send(c, "BiEcho", "{\"n\":1}"), 0);   /* answered from on_stream_msg */
    char *type, *json;
    assert_int_equal(gc_bi_recv(c, T_MS, &type, &json), 0);
    assert_string_equal(type, "BiEchoResponse");
    assert_string_equal(json, "{\"n\":1}");
    free(type);
    free(json);

    /* from this (another) thread, several in order */
    for (int i = 0; i < 50; i++) {
        size_t n = 0;
        uint8_t *m = payload("Notify", nm_fmt("{\"i\":%d}", i), &n);
        assert_int_equal(grpc_server_send(s, serial, m, n), 0);
    }
    for (int i = 0; i < 50; i++) {
        assert_int_equal(gc_bi_recv(c, T_MS, &type, &json), 0);
        assert_string_equal(type, "Notify");
        assert_string_equal(json, nm_fmt("{\"i\":%d}", i));
        free(type);
        free(json);
    }
    /* from a unary handler on the same connection */
    struct gc_result r;
    assert_int_equal(gc_unary(c, "Push", "{\"p\":1}", T_MS, &r), 0);
    assert_string_equal(r.type, "PushResponse");
    gc_result_free(&r);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(gc_bi_recv(c, T_MS, &type, &json), 0);
        assert_string_equal(type, "Pushed");
        free(type);
        free(json);
    }

    /* a delayed send goes out no sooner than asked; sends after it may overtake it */
    size_t dn = 0, qn = 0;
    uint8_t *dm = payload("Late", "{}", &dn), *qm = payload("Soon", "{}", &qn);
    int64_t t0 = nm_mono_ms();
    assert_int_equal(grpc_server_send_after(s, serial, dm, dn, 300), 0);
    assert_int_equal(grpc_server_send(s, serial, qm, qn), 0);
    assert_int_equal(gc_bi_recv(c, T_MS, &type, &json), 0);
    assert_string_equal(type, "Soon");
    free(type);
    free(json);
    assert_int_equal(gc_bi_recv(c, T_MS, &type, &json), 0);
    assert_string_equal(type, "Late");
    assert_true(nm_mono_ms() - t0 >= 300);
    free(type);
    free(json);

    /* a second bi-stream on the same connection is refused */
    int32_t second = gc_start_body(c, GC_PATH_BIDI, NULL, 0, true);
    assert_int_equal(gc_wait(c, second, T_MS, &r), 0);
    assert_int_equal(r.grpc_status, GRPC_ALREADY_EXISTS);
    gc_result_free(&r);
    assert_int_equal(g.stream_opens, 1);

    /* half-close: the server ends its side with status 0 */
    assert_int_equal(gc_bi_half_close(c), 0);
    assert_int_equal(gc_bi_recv(c, T_MS, &type, &json), 1);
    assert_int_equal(gc_bi_result(c)->grpc_status, 0);
    WAIT_EQ(g.stream_closes, 1);
    assert_int_equal(grpc_server_send(s, serial, malloc(1), 1), -1);   /* no bi-stream any more */
    assert_true(g.stream_msgs >= 1);
    gc_close(c);
    WAIT_EQ(g.closes, 1);
    stop_and_check(s);
}

static void test_bi_stream_reset_and_reopen(void **state)
{
    (void)state;
    struct grpc_server *s = start();
    struct gc *c = connect_to(s);
    assert_int_equal(gc_bi_open(c, T_MS), 0);
    WAIT_EQ(g.stream_opens, 1);
    assert_int_equal(gc_bi_reset(c), 0);
    WAIT_EQ(g.stream_closes, 1);
    /* a new bi-stream may follow on the same connection */
    assert_int_equal(gc_bi_open(c, T_MS), 0);
    WAIT_EQ(g.stream_opens, 2);
    assert_int_equal(gc_bi_send(c, "BiEcho", "{}"), 0);
    char *type, *json;
    assert_int_equal(gc_bi_recv(c, T_MS, &type, &json), 0);
    assert_string_equal(type, "BiEchoResponse");
    free(type);
    free(json);
    struct gc *c2 = connect_to(s);
    assert_int_equal(gc_bi_open(c2, T_MS), 0);
    WAIT_EQ(g.stream_opens, 3);
    /* the connection ends with its bi-stream open: on_stream_close, then on_close */
    gc_close(c2);
    WAIT_EQ(g.stream_closes, 2);
    WAIT_EQ(g.closes, 1);
    gc_close(c);
    WAIT_EQ(g.closes, 2);
    assert_int_equal(g.stream_closes, 3);
    stop_and_check(s);
}

struct closer {
    struct grpc_server *s;
    uint64_t serial;
    int rc;
};

static void *close_from_thread(void *arg)
{
    struct closer *cl = arg;
    cl->rc = grpc_server_close(cl->s, cl->serial);
    return NULL;
}

static void test_close_from_other_threads(void **state)
{
    (void)state;
    struct grpc_server *s = start();
    struct gc *a = connect_to(s);
    WAIT_EQ(g.opens, 1);
    struct closer cl = {s, atomic_load(&g.last_serial), -2};
    assert_int_equal(gc_bi_open(a, T_MS), 0);
    int32_t hang = gc_start(a, "Hang", "{}");
    WAIT_EQ(g.calls, 1);
    pthread_t t;
    pthread_create(&t, NULL, close_from_thread, &cl);
    pthread_join(t, NULL);
    assert_int_equal(cl.rc, 0);
    assert_true(gc_wait_closed(a, T_MS));
    assert_false(gc_done(a, hang));
    WAIT_EQ(g.closes, 1);
    assert_int_equal(g.ended_abandoned, 1);
    assert_int_equal(g.stream_closes, 1);
    assert_int_equal(grpc_server_close(s, cl.serial), -1);   /* gone */
    assert_int_equal(grpc_server_close(s, 999999999), -1);   /* never was */
    gc_close(a);

    /* close from a bi-stream handler (the loop thread) */
    struct gc *b = connect_to(s);
    assert_int_equal(gc_bi_open(b, T_MS), 0);
    assert_int_equal(gc_bi_send(b, "BiClose", "{}"), 0);
    assert_true(gc_wait_closed(b, T_MS));
    WAIT_EQ(g.closes, 2);
    gc_close(b);

    /* close_all */
    struct gc *cs[5];
    for (int i = 0; i < 5; i++) cs[i] = connect_to(s);
    WAIT_EQ(g.opens, 7);
    assert_int_equal(grpc_server_connections(s), 5);
    grpc_server_close_all(s);
    for (int i = 0; i < 5; i++) {
        assert_true(gc_wait_closed(cs[i], T_MS));
        gc_close(cs[i]);
    }
    WAIT_EQ(g.closes, 7);
    assert_int_equal(grpc_server_connections(s), 0);
    stop_and_check(s);
}

static void test_every_ending_closes_once(void **state)
{
    (void)state;
    struct grpc_server *s = start();
    int port = grpc_server_port(s);
    /* 1. the peer closes TCP */
    struct gc *c = connect_to(s);
    gc_close(c);
    WAIT_EQ(g.closes, 1);
    /* 2. a bad preface */
    struct gc *raw = gc_connect_raw("127.0.0.1", port, T_MS);
    assert_non_null(raw);
    assert_int_equal(gc_send_raw(raw, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27), 0);
    assert_true(gc_wait_closed(raw, T_MS));
    gc_close(raw);
    WAIT_EQ(g.closes, 2);
    /* 3. a protocol error after a good preface: the server sends GOAWAY and closes */
    raw = gc_connect_raw("127.0.0.1", port, T_MS);
    uint8_t buf[128];
    size_t n = gc_raw_preface(buf);
    n += gc_raw_frame(buf + n, 0x0 /* DATA */, 0, 0 /* on stream 0: connection error */, "x", 1);
    assert_int_equal(gc_send_raw(raw, buf, n), 0);
    assert_true(gc_wait_closed(raw, T_MS));
    gc_pump(raw, 50);
    assert_true(gc_raw_stats(raw)->goaway >= 1);
    gc_close(raw);
    WAIT_EQ(g.closes, 3);
    /* 4. the peer sends GOAWAY and closes */
    raw = gc_connect_raw("127.0.0.1", port, T_MS);
    n = gc_raw_preface(buf);
    uint8_t goaway[8] = {0};
    n += gc_raw_frame(buf + n, 0x7, 0, 0, goaway, 8);
    assert_int_equal(gc_send_raw(raw, buf, n), 0);
    gc_pump(raw, 50);
    gc_close(raw);
    WAIT_EQ(g.closes, 4);
    /* 5. connect and say nothing, then close */
    raw = gc_connect_raw("127.0.0.1", port, T_MS);
    WAIT_EQ(g.opens, 5);
    gc_close(raw);
    WAIT_EQ(g.closes, 5);
    stop_and_check(s);
}

static void test_stop_with_calls_in_flight(void **state)
{
    (void)state;
    struct grpc_server *s = start();
    struct gc *a = connect_to(s), *b = connect_to(s);
    assert_int_equal(gc_bi_open(a, T_MS), 0);
    int32_t h1 = gc_start(a, "Hang", "{}");
    int32_t h2 = gc_start(b, "Hang", "{}");
    int32_t d = gc_start(b, "Delay", "{}");
    WAIT_EQ(g.calls, 3);
    grpc_server_stop(s);   /* joins the loop: every callback has run when it returns */
    assert_int_equal(g.closes, 2);
    assert_int_equal(g.ended_abandoned, 3);
    assert_int_equal(g.stream_closes, 1);
    assert_int_equal(g.errors, 0);
    assert_true(gc_wait_closed(a, T_MS));
    assert_true(gc_wait_closed(b, T_MS));
    gc_pump(b, 20);
    assert_true(gc_goaway(b));   /* GOAWAY came before the end of the connection */
    assert_false(gc_done(a, h1) || gc_done(b, h2) || gc_done(b, d));
    gc_close(a);
    gc_close(b);
}

static void test_message_limits(void **state)
{
    (void)state;
    struct grpc_server *s = start();
    struct gc *c = connect_to(s);
    struct gc_result r;
    /* 11 MiB claimed: grpc-status 8 at once, after 5 bytes of the prefix and a little more */
    uint8_t big[64] = {0};
    grpc_frame_prefix(big, (size_t)11 << 20);
    int32_t id = gc_start_body(c, GC_PATH_UNARY, big, sizeof big, false);
    assert_int_equal(gc_wait(c, id, T_MS, &r), 0);
    assert_int_equal(r.grpc_status, GRPC_RESOURCE_EXHAUSTED);
    gc_result_free(&r);
    /* compressed flag */
    uint8_t comp[8] = {1, 0, 0, 0, 3, 'a', 'b', 'c'};
    id = gc_start_body(c, GC_PATH_UNARY, comp, sizeof comp, true);
    assert_int_equal(gc_wait(c, id, T_MS, &r), 0);
    assert_int_equal(r.grpc_status, GRPC_UNIMPLEMENTED);
    gc_result_free(&r);
    /* two messages in a unary call, none, and one cut short */
    size_t n = 0;
    uint8_t *pl = payload("Echo", "{}", &n);
    uint8_t *one = grpc_frame_encode(pl, n, &n);
    uint8_t two[64];
    memcpy(two, one, n);
    memcpy(two + n, one, n);
    id = gc_start_body(c, GC_PATH_UNARY, two, 2 * n, true);
    assert_int_equal(gc_wait(c, id, T_MS, &r), 0);
    assert_int_equal(r.grpc_status, GRPC_INTERNAL);
    gc_result_free(&r);
    id = gc_start_body(c, GC_PATH_UNARY, NULL, 0, true);
    assert_int_equal(gc_wait(c, id, T_MS, &r), 0);
    assert_int_equal(r.grpc_status, GRPC_INTERNAL);
    gc_result_free(&r);
    id = gc_start_body(c, GC_PATH_UNARY, one, n - 1, true);
    assert_int_equal(gc_wait(c, id, T_MS, &r), 0);
    assert_int_equal(r.grpc_status, GRPC_INTERNAL);
    gc_result_free(&r);
    assert_int_equal(g.calls, 0);
    free(pl);
    free(one);

    /* the largest message that fits: 10 MiB on the wire, echoed back across many DATA frames */
    size_t body_len = GRPC_MESSAGE_MAX - 64;
    char *body = malloc(body_len + 1);
    memset(body, 'a', body_len);
    body[0] = '"';
    body[body_len - 1] = '"';
    body[body_len] = '\0';
    pl = grpc_payload_encode("Echo", body, body_len, &n);
    assert_true(n <= GRPC_MESSAGE_MAX);
    uint8_t *framed = grpc_frame_encode(pl, n, &n);
    id = gc_start_body(c, GC_PATH_UNARY, framed, n, true);
    assert_int_equal(gc_wait(c, id, 30000, &r), 0);
    assert_int_equal(r.grpc_status, 0);
    assert_non_null(r.json);
    assert_int_equal(strlen(r.json), body_len);
    gc_result_free(&r);
    free(pl);
    free(framed);
    free(body);

    struct grpc_server_stats st;
    grpc_server_get_stats(s, &st);
    assert_int_equal(st.input_held, 0);
    assert_true(st.refused >= 5);
    gc_close(c);
    stop_and_check(s);
}

static void test_ipv6_and_port_in_use(void **state)
{
    (void)state;
    struct grpc_server *s = start();
    int port = grpc_server_port(s);
    char err[256];
    errno = 0;
    struct grpc_handlers h = {0};
    assert_null(grpc_server_start("127.0.0.1", port, &h, err, sizeof err));
    assert_int_equal(errno, EADDRINUSE);
    assert_non_null(strstr(err, "cannot listen"));
    assert_null(grpc_server_start("no.such.host.invalid", 0, &h, err, sizeof err));
    stop_and_check(s);

    memset(&g, 0, sizeof g);
    h = (struct grpc_handlers){.ctx = &g, .on_open = h_open, .on_close = h_close, .on_unary = h_unary,
                               .on_call_end = h_call_end};
    s = grpc_server_start("::1", 0, &h, err, sizeof err);
    if (!s) {
        fprintf(stderr, "no IPv6 loopback here (%s): IPv6 part skipped\n", err);
        return;
    }
    g.srv = s;
    struct gc *c = gc_connect("::1", grpc_server_port(s), T_MS);
    assert_non_null(c);
    WAIT_EQ(g.opens, 1);
    assert_true(!strncmp(strchr(g.last_id, '_'), "_::1_", 5));
    struct gc_result r;
    assert_int_equal(gc_unary(c, "Echo", "{}", T_MS, &r), 0);
    assert_int_equal(r.grpc_status, 0);
    gc_result_free(&r);
    gc_close(c);
    stop_and_check(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unary_echo),
        cmocka_unit_test(test_many_calls_in_flight),
        cmocka_unit_test(test_status_and_message),
        cmocka_unit_test(test_unknown_path_and_method),
        cmocka_unit_test(test_defer_and_delay),
        cmocka_unit_test(test_hang_cancel_reset),
        cmocka_unit_test(test_close_verdict),
        cmocka_unit_test(test_bi_stream),
        cmocka_unit_test(test_bi_stream_reset_and_reopen),
        cmocka_unit_test(test_close_from_other_threads),
        cmocka_unit_test(test_every_ending_closes_once),
        cmocka_unit_test(test_stop_with_calls_in_flight),
        cmocka_unit_test(test_message_limits),
        cmocka_unit_test(test_ipv6_and_port_in_use),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
