/*
 * fuzz_grpc.c — the gRPC input path, as the transport runs it: arbitrary bytes → the server's
 * nghttp2 session (grpc_server_feed: the code path of a socket's bytes, without a socket) → the
 * gRPC deframer → grpc_payload_decode → cJSON_Parse of the body.
 *
 * Each input gets a fresh feed server (so every crash reproduces from one file) and is fed in two
 * parts, split where the first byte says (a message or a frame may span reads), then once more with
 * no bytes (due timers run). Test handlers answer by the request's type: "Defer" (on_unary again at
 * once, then an answer), "Hang", "Reset", "Close", "Status", anything else an echo of the parsed
 * JSON; bi-stream messages are echoed through grpc_server_send (the cross-thread queue).
 *
 * Invariants:
 *   - on_open once; on_close once, after the last call and stream callback, and only once stopped
 *     or when the connection ended;
 *   - every call reaching on_unary gets exactly one on_call_end; every on_stream_open one
 *     on_stream_close; no callback for a connection after its on_close;
 *   - a decoded Payload has non-NULL strings and a NUL-terminated body; it encodes and decodes back to
 *     the same fields;
 *   - a body cJSON parses prints, re-parses and prints again to the same text;
 *   - the transport never holds more input than its per-connection budget.
 */
#include "fuzz.h"

#include <stdbool.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "nacos_mock/grpc_payload.h"
#include "nacos_mock/grpc_server.h"

struct fz {
    struct grpc_server *srv;
    int opens, closes, calls, call_ends, stream_opens, stream_closes;
    bool closed;
};

static void same_payload(const struct grpc_payload *a, const struct grpc_payload *b)
{
    FUZZ_CHECK(!strcmp(a->type, b->type) && !strcmp(a->client_ip, b->client_ip) &&
                   !strcmp(a->type_url, b->type_url),
               "metadata changed in a round trip");
    FUZZ_CHECK(a->body_len == b->body_len && !memcmp(a->body, b->body, a->body_len), "body changed in a round trip");
    FUZZ_CHECK(a->n_headers == b->n_headers, "headers %zu -> %zu", a->n_headers, b->n_headers);
    for (size_t i = 0; i < a->n_headers; i++)
        FUZZ_CHECK(!strcmp(a->headers[i].key, b->headers[i].key) && !strcmp(a->headers[i].value, b->headers[i].value),
                   "header %zu changed in a round trip", i);
}

/* Decodes a message as the Nacos layer will: Payload, then its body as JSON. Returns the parsed body
 * (caller deletes) or NULL; *p is filled when the Payload decoded (caller frees). */
static cJSON *decode(const uint8_t *msg, size_t len, struct grpc_payload *p, bool *decoded)
{
    char err[128];
    *decoded = grpc_payload_decode(msg, len, p, err, sizeof err) == 0;
    if (!*decoded) {
        FUZZ_CHECK(p->type == NULL && p->body == NULL, "a failed decode left fields set");
        return NULL;
    }
    FUZZ_CHECK(p->type && p->client_ip && p->body && p->type_url, "NULL string after decode");
    FUZZ_CHECK(p->body[p->body_len] == '\0', "body not NUL-terminated");
    size_t n = 0;
    uint8_t *again = grpc_payload_encode_full(p, &n);
    FUZZ_CHECK(again, "encode failed");
    struct grpc_payload q;
    FUZZ_CHECK(grpc_payload_decode(again, n, &q, err, sizeof err) == 0, "re-decode failed: %s", err);
    same_payload(p, &q);
    grpc_payload_free(&q);
    free(again);

    cJSON *j = cJSON_ParseWithLength(p->body, p->body_len);
    if (j) {
        char *text = cJSON_PrintUnformatted(j);
        FUZZ_CHECK(text, "cJSON_PrintUnformatted failed");
        /* compared as printed text: cJSON_Compare looks keys up by name, so an object with a key
         * twice never compares equal, even to itself */
        cJSON *k = cJSON_Parse(text);
        char *reprinted = k ? cJSON_PrintUnformatted(k) : NULL;
        FUZZ_CHECK(reprinted && !strcmp(text, reprinted), "printed JSON does not print back the same: %s", text);
        cJSON_free(reprinted);
        cJSON_Delete(k);
        cJSON_free(text);
    }
    return j;
}

static void on_open(void *ctx, struct grpc_conn_info *c)
{
    struct fz *x = ctx;
    x->opens++;
    FUZZ_CHECK(x->opens == 1 && c->serial > 0 && c->id[0], "on_open %d", x->opens);
}

static void on_close(void *ctx, struct grpc_conn_info *c)
{
    struct fz *x = ctx;
    (void)c;
    x->closes++;
    x->closed = true;
    FUZZ_CHECK(x->closes == 1, "on_close %d times", x->closes);
    FUZZ_CHECK(x->calls == x->call_ends, "on_close with %d calls, %d ended", x->calls, x->call_ends);
    FUZZ_CHECK(x->stream_opens == x->stream_closes, "on_close with the bi-stream open");
}

static void on_unary(void *ctx, struct grpc_call *call, struct grpc_answer *out)
{
    struct fz *x = ctx;
    FUZZ_CHECK(!x->closed, "on_unary after on_close");
    if (!call->user) {
        x->calls++;
        call->user = calloc(1, sizeof(int));
        FUZZ_CHECK(call->user, "out of memory");
    }
    int *times = call->user;
    (*times)++;
    struct grpc_payload p;
    bool decoded;
    cJSON *j = decode(call->msg, call->len, &p, &decoded);
    if (!decoded) {
        out->v = GRPC_STATUS;
        out->status = GRPC_INVALID_ARGUMENT;
        snprintf(out->message, sizeof out->message, "payload does not decode");
        return;
    }
    if (!strcmp(p.type, "Defer") && *times < 3) {
        out->v = GRPC_DEFER;   /* due at once: runs again in this feed's timer pass */
    } else if (!strcmp(p.type, "Hang")) {
        out->v = GRPC_HANG;
    } else if (!strcmp(p.type, "Reset")) {
        out->v = GRPC_RESET;
    } else if (!strcmp(p.type, "Close")) {
        out->v = GRPC_CLOSE;
    } else if (!strcmp(p.type, "Status") || !j) {
        out->v = GRPC_STATUS;
        out->status = j ? GRPC_UNAVAILABLE : GRPC_INVALID_ARGUMENT;
        snprintf(out->message, sizeof out->message, "%.200s", p.type);   /* any bytes, percent-encoded */
    } else {
        char *text = cJSON_PrintUnformatted(j);
        out->msg = grpc_payload_encode("EchoResponse", text, strlen(text), &out->len);
        cJSON_free(text);
    }
    cJSON_Delete(j);
    grpc_payload_free(&p);
}

static void on_call_end(void *ctx, struct grpc_call *call, bool answered)
{
    struct fz *x = ctx;
    (void)answered;
    FUZZ_CHECK(!x->closed, "on_call_end after on_close");
    FUZZ_CHECK(call->user, "on_call_end for a call on_unary never saw");
    free(call->user);
    call->user = NULL;
    x->call_ends++;
    FUZZ_CHECK(x->call_ends <= x->calls, "more call ends than calls");
}

static void on_stream_open(void *ctx, struct grpc_conn_info *c)
{
    struct fz *x = ctx;
    (void)c;
    FUZZ_CHECK(!x->closed && x->stream_opens == x->stream_closes, "a second bi-stream opened, or after on_close");
    x->stream_opens++;
}

static void on_stream_msg(void *ctx, struct grpc_conn_info *c, const uint8_t *msg, size_t len)
{
    struct fz *x = ctx;
    FUZZ_CHECK(x->stream_opens == x->stream_closes + 1, "a message on a closed bi-stream");
    struct grpc_payload p;
    bool decoded;
    cJSON *j = decode(msg, len, &p, &decoded);
    if (decoded) {
        size_t n = 0;
        uint8_t *m = grpc_payload_encode(p.type, p.body, p.body_len, &n);
        FUZZ_CHECK(grpc_server_send(x->srv, c->serial, m, n) == 0, "send on an open bi-stream refused");
        grpc_payload_free(&p);
    }
    cJSON_Delete(j);
}

static void on_stream_close(void *ctx, struct grpc_conn_info *c)
{
    struct fz *x = ctx;
    (void)c;
    x->stream_closes++;
    FUZZ_CHECK(x->stream_closes == x->stream_opens, "on_stream_close without on_stream_open");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz x;
    memset(&x, 0, sizeof x);
    struct grpc_handlers h = {
        .ctx = &x, .on_open = on_open, .on_close = on_close, .on_unary = on_unary, .on_call_end = on_call_end,
        .on_stream_open = on_stream_open, .on_stream_msg = on_stream_msg, .on_stream_close = on_stream_close,
    };
    x.srv = grpc_server_feed_start(&h);
    FUZZ_CHECK(x.srv, "grpc_server_feed_start failed");
    size_t split = size ? (size_t)data[0] * size / 256 : 0;
    int open = grpc_server_feed(x.srv, data, split, NULL, NULL);
    if (open == 0) open = grpc_server_feed(x.srv, data + split, size - split, NULL, NULL);
    if (open == 0) open = grpc_server_feed(x.srv, NULL, 0, NULL, NULL);
    FUZZ_CHECK((open != 0) == x.closed, "feed says %s, on_close %s", open ? "closed" : "open",
               x.closed ? "ran" : "did not run");
    struct grpc_server_stats st;
    grpc_server_get_stats(x.srv, &st);
    FUZZ_CHECK(st.input_held <= GRPC_CONN_INPUT_MAX, "%zu bytes of input held", st.input_held);
    FUZZ_CHECK(st.connections == (open ? 0u : 1u), "%zu connections", st.connections);
    grpc_server_stop(x.srv);
    FUZZ_CHECK(x.opens == 1 && x.closes == 1, "opens %d closes %d", x.opens, x.closes);
    FUZZ_CHECK(x.calls == x.call_ends, "%d calls, %d ended", x.calls, x.call_ends);
    FUZZ_CHECK(x.stream_opens == x.stream_closes, "bi-stream opened %d, closed %d", x.stream_opens, x.stream_closes);
    return 0;
}
