/*
 * grpc_client — a small blocking gRPC client over HTTP/2 cleartext (prior knowledge) for tests,
 * on nghttp2's client side and real sockets. Every wait takes a timeout in ms and returns when the
 * condition holds or the time is up, never sleeping a fixed time. Payloads are built and read with
 * grpc_payload (the server's own codec).
 *
 * A struct gc is one TCP connection; use it from one thread at a time (several connections, on
 * several threads, may live in one process). Two kinds:
 *   - gc_connect: a normal client. Unary calls (gc_unary, or gc_start + gc_wait for several in
 *     flight), the bi-stream (gc_bi_*), cancellation; nghttp2 does flow control, SETTINGS and PINGs
 *     and keeps to the server's concurrent-stream limit.
 *   - gc_connect_raw: a hostile client. Nothing is sent but what the test writes with gc_send_raw
 *     (gc_raw_* build frames and HPACK blocks); what the server sends is only counted (frames,
 *     RST_STREAM codes, grpc-status values, GOAWAY), never answered.
 * Both notice GOAWAY and the end of the TCP connection (gc_wait_closed).
 *
 * Example:
 *     struct gc *c = gc_connect("127.0.0.1", port, 2000);
 *     struct gc_result r;
 *     assert_int_equal(gc_unary(c, "HealthCheckRequest", "{}", 2000, &r), 0);
 *     assert_int_equal(r.grpc_status, 0); assert_string_equal(r.type, "HealthCheckResponse");
 *     gc_result_free(&r); gc_close(c);
 */
#ifndef NM_TEST_GRPC_CLIENT_H
#define NM_TEST_GRPC_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GC_PATH_UNARY "/Request/request"
#define GC_PATH_BIDI "/BiRequestStream/requestBiStream"

struct gc;

struct gc_result {               /* how a call ended */
    int http_status;             /* :status, 0 when no response headers came */
    int grpc_status;             /* -1 when none came (a reset, or a closed connection) */
    char grpc_message[512];      /* percent-decoded */
    bool reset;                  /* ended by RST_STREAM (either side) rather than END_STREAM */
    uint32_t rst_code;           /* its HTTP/2 error code */
    int n_msgs;                  /* response messages received */
    uint8_t *msg;                /* the first one, raw protobuf (owned); NULL when none */
    size_t len;
    char *type, *json;           /* msg decoded as a Payload (owned); NULL when none or undecodable */
};
void gc_result_free(struct gc_result *r);

/* Connects, sends the preface and SETTINGS and waits for the server's SETTINGS. NULL on failure. */
struct gc *gc_connect(const char *host, int port, int timeout_ms);
/* A client as the Java SDK makes one: gc_connect, ServerCheckRequest, the bi-stream, its
 * ConnectionSetupRequest with these labels (a JSON object, e.g. {"source":"sdk","module":"naming",
 * "AppName":"a"}), then HealthChecks until the server has it set up (no longer answered 301). NULL
 * when any step fails or the time is up. */
struct gc *gc_connect_setup(const char *host, int port, const char *labels_json, int timeout_ms);
/* Connects only; nothing is sent. NULL on failure. */
struct gc *gc_connect_raw(const char *host, int port, int timeout_ms);
/* Closes the TCP connection (no GOAWAY) and frees everything. NULL is ignored. */
void gc_close(struct gc *c);

/* One unary call: Payload {type, json} to /Request/request. 0 when it ended within the time (see *r,
 * free it with gc_result_free), -1 on timeout or a lost connection (*r then says what was seen). */
int gc_unary(struct gc *c, const char *type, const char *json, int timeout_ms, struct gc_result *r);
/* Starts a call without waiting: the request body is `len` bytes sent as they are (a framed message,
 * or anything) on `path`, with END_STREAM after them when end_stream. Returns the stream id (> 0),
 * -1 on failure. */
int32_t gc_start_body(struct gc *c, const char *path, const uint8_t *body, size_t len, bool end_stream);
/* Starts a unary call with Payload {type, json}. Stream id or -1. */
int32_t gc_start(struct gc *c, const char *type, const char *json);
/* Waits until call `id` ended. 0 with *r filled (free it), -1 on timeout or a lost connection. */
int gc_wait(struct gc *c, int32_t id, int timeout_ms, struct gc_result *r);
/* True once call `id` ended (no waiting; call gc_pump to make progress). */
bool gc_done(struct gc *c, int32_t id);
/* RST_STREAM(CANCEL) on call `id`. */
int gc_cancel(struct gc *c, int32_t id);

/* Opens /BiRequestStream/requestBiStream and waits for its response headers. 0 when open. */
int gc_bi_open(struct gc *c, int timeout_ms);
/* Sends Payload {type, json} on the bi-stream. 0 when queued. */
int gc_bi_send(struct gc *c, const char *type, const char *json);
/* The next message the server sent on the bi-stream: 0 with *type and *json (caller frees both),
 * 1 when the stream has ended and no message is left (gc_bi_result says how), -1 on timeout. */
int gc_bi_recv(struct gc *c, int timeout_ms, char **type, char **json);
/* Half-closes our side (END_STREAM after what is queued). */
int gc_bi_half_close(struct gc *c);
/* RST_STREAM(CANCEL) on the bi-stream. */
int gc_bi_reset(struct gc *c);
/* The bi-stream's end so far (grpc_status -1 while it is open). Do not free. */
const struct gc_result *gc_bi_result(struct gc *c);

/* Reads and writes for up to timeout_ms (returns early when the connection ends). */
void gc_pump(struct gc *c, int timeout_ms);
/* True once GOAWAY came or the TCP connection ended (waits up to timeout_ms). */
bool gc_wait_closed(struct gc *c, int timeout_ms);
bool gc_goaway(const struct gc *c);     /* a GOAWAY came (gc_goaway_code says its error code) */
uint32_t gc_goaway_code(const struct gc *c);
bool gc_eof(const struct gc *c);        /* the TCP connection ended (read 0 or an error) */

/* Off: the connection stops reading (the server's bytes stay in the socket), as a peer that never
 * reads; waits then only write. On again: reading resumes. */
void gc_set_reading(struct gc *c, bool on);

/* Writes bytes as they are onto the socket (blocking up to 10 s). 0 when all were written; -1 when
 * the connection failed first. */
int gc_send_raw(struct gc *c, const void *p, size_t n);

/* Raw frames: the 9-byte frame header + payload into out (payload may be NULL: zeros). Returns
 * 9 + len. */
size_t gc_raw_frame(uint8_t *out, uint8_t type, uint8_t flags, uint32_t stream, const void *payload, size_t len);
/* The client preface and an empty SETTINGS frame into out (33 bytes). Returns the length. */
size_t gc_raw_preface(uint8_t *out);
/* An HPACK block for a gRPC POST to `path` (+ one extra header when extra_name is not NULL) into out
 * (cap bytes), from this connection's encoder. Returns its length, 0 when it does not fit. */
size_t gc_raw_hpack(struct gc *c, const char *path, const char *extra_name, const char *extra_value, uint8_t *out,
                    size_t cap);

struct gc_raw_stats {            /* what a raw connection received */
    uint64_t frames, headers, data_bytes, rst, rst_refused, settings, goaway;
    uint64_t end_streams;        /* HEADERS or DATA with END_STREAM */
    uint64_t grpc_status[17];    /* grpc-status values seen in HEADERS */
};
const struct gc_raw_stats *gc_raw_stats(const struct gc *c);

#endif
