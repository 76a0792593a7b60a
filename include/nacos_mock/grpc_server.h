/*
 * grpc_server — the gRPC transport: an HTTP/2 cleartext listener (prior knowledge, no TLS, no
 * Upgrade) carrying gRPC calls, built on nghttp2 with its own event loop. It knows nothing of Nacos:
 * it hands whole request messages (unframed protobuf bytes) to handlers and sends back what they
 * answer. grpc_payload.h turns those bytes into a Payload.
 *
 * Owns: the listening socket, one loop thread (epoll, non-blocking sockets), every connection (one
 * nghttp2 server session each: the library does framing, HPACK, flow control, SETTINGS and PING
 * acks; this module reads into it and writes what it produces), every stream and call, and their
 * memory. The only file that includes nghttp2.h on the server side.
 *
 * Calls (grpc-api.md §1):
 *   - POST /Request/request: unary. The request must be exactly one message, then END_STREAM; then
 *     on_unary decides. Answers: `:status 200`, `content-type: application/grpc`, the message, trailers
 *     `grpc-status: 0`; or trailers-only `grpc-status: N` (+ `grpc-message`, percent-encoded).
 *   - POST /BiRequestStream/requestBiStream: bidirectional, at most one per connection (a second
 *     one is refused with grpc-status 6 ALREADY_EXISTS). Response headers go out at once; messages
 *     either way until the peer half-closes (then trailers `grpc-status: 0`) or resets it.
 *   - anything else: trailers-only `grpc-status: 12` (UNIMPLEMENTED).
 *   - a message above GRPC_MESSAGE_MAX (10 MiB), claimed in its prefix: grpc-status 8 at once,
 *     nothing of it buffered; compressed flag: grpc-status 12; a unary request with no message, two
 *     messages or a message cut short by END_STREAM: grpc-status 13. When the server ends a stream
 *     before the peer did, it follows with RST_STREAM(NO_ERROR), as gRPC servers do.
 *   - grpc-timeout is ignored; content-type is not checked.
 *
 * Limits (hostile peers): SETTINGS_MAX_CONCURRENT_STREAMS 128 (nghttp2 refuses more), header list of
 * a stream <= GRPC_MAX_HEADER_LIST (else RST_STREAM), at most 8 CONTINUATION frames and the stream
 * reset rate limit of nghttp2; per connection at most GRPC_CONN_INPUT_MAX bytes of request messages
 * held (being received, or waiting for their answer: the call that would pass it ends with
 * grpc-status 8) and GRPC_CONN_OUTPUT_MAX bytes queued for a peer that does not read (then the
 * connection is closed); at most GRPC_MAX_CONNECTIONS connections (more are closed on accept); a
 * connection whose peer has not completed the HTTP/2 preface (the magic and its SETTINGS frame)
 * within GRPC_PREFACE_TIMEOUT_MS of being accepted is closed (a half-open or idle hostile peer).
 *
 * Threading: every handler runs on the loop thread, one at a time, with no lock of this module held;
 * a handler may call any function below (send and close are queued and carried out by the loop
 * after the handler returns, never re-entrantly). The functions marked thread-safe may be called
 * from any thread. Nothing blocks the loop: a handler that needs time answers GRPC_DEFER.
 *
 * Ownership: struct grpc_conn_info and struct grpc_call are owned by the transport and valid until
 * on_close / on_call_end has returned; `user` in each is the handlers' (free it in on_close /
 * on_call_end). Message buffers passed to the transport (grpc_answer.msg, grpc_server_send) are
 * taken by it, also on failure.
 */
#ifndef NACOS_MOCK_GRPC_SERVER_H
#define NACOS_MOCK_GRPC_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define GRPC_MAX_CONCURRENT_STREAMS 128
#define GRPC_MAX_HEADER_LIST 16384
#define GRPC_CONN_INPUT_MAX ((size_t)32 << 20)
#define GRPC_CONN_OUTPUT_MAX ((size_t)32 << 20)
#define GRPC_MAX_CONNECTIONS 4096
#define GRPC_PREFACE_TIMEOUT_MS 10000

/* grpc-status codes the transport itself uses. */
enum grpc_status_code {
    GRPC_OK = 0, GRPC_CANCELLED = 1, GRPC_UNKNOWN = 2, GRPC_INVALID_ARGUMENT = 3, GRPC_DEADLINE_EXCEEDED = 4,
    GRPC_ALREADY_EXISTS = 6, GRPC_RESOURCE_EXHAUSTED = 8, GRPC_FAILED_PRECONDITION = 9,
    GRPC_UNIMPLEMENTED = 12, GRPC_INTERNAL = 13, GRPC_UNAVAILABLE = 14,
};

struct grpc_conn_info {          /* one TCP connection, owned by the transport */
    uint64_t serial;             /* unique in the process, never reused, > 0 */
    char id[96];                 /* "<ms since epoch>_<peer ip>_<peer port>" (Nacos connectionId);
                                    an IPv4-mapped IPv6 peer is written as IPv4 */
    struct sockaddr_storage peer;
    int64_t opened_ms;           /* real time (CLOCK_REALTIME), the ms of `id` */
    void *user;                  /* the handlers' per-connection state */
};

struct grpc_call {               /* one unary call, owned by the transport until on_call_end returns */
    struct grpc_conn_info *conn;
    const uint8_t *msg;          /* the request message (unframed protobuf bytes), valid during the call */
    size_t len;
    void *user;                  /* the handlers' state, kept across GRPC_DEFER */
    int64_t t0_us;               /* monotonic arrival (CLOCK_MONOTONIC, µs): when the request was complete */
};

enum grpc_verdict {
    GRPC_ANSWER,   /* send msg with grpc-status 0 */
    GRPC_STATUS,   /* end the call with status/message and no message: trailers-only */
    GRPC_DEFER,    /* call on_unary again for this call after delay_ms */
    GRPC_HANG,     /* never answer: the call ends when the peer cancels it or the connection ends */
    GRPC_RESET,    /* RST_STREAM with HTTP/2 error code `status` (0 = CANCEL, 0x8) */
    GRPC_CLOSE,    /* close the whole TCP connection, as a crashed server would */
};

struct grpc_answer {             /* on_unary's out-parameter; zeroed (GRPC_ANSWER, no msg) before each call */
    enum grpc_verdict v;
    uint8_t *msg;                /* GRPC_ANSWER: malloc'd message, taken by the transport (NULL = empty message) */
    size_t len;
    int status;                  /* GRPC_STATUS: grpc-status; GRPC_RESET: HTTP/2 error code */
    char message[256];           /* GRPC_STATUS: grpc-message ("" = none), sent percent-encoded */
    int64_t delay_ms;            /* GRPC_DEFER: when to call on_unary again; ANSWER/STATUS/RESET/CLOSE: act
                                    this late (0 = now); other calls are not held up */
};

struct grpc_handlers {           /* all optional (NULL), all called on the loop thread */
    void *ctx;
    /* A connection was accepted (before any of its calls). */
    void (*on_open)(void *ctx, struct grpc_conn_info *c);
    /* Once per on_open, however it ended: peer close or reset, a protocol error (GOAWAY), a limit,
     * GRPC_CLOSE, grpc_server_close(_all), grpc_server_stop. Its calls' on_call_end and its
     * bi-stream's on_stream_close come first. */
    void (*on_close)(void *ctx, struct grpc_conn_info *c);
    /* A unary request is complete: fill *out. NULL handler: grpc-status 12. */
    void (*on_unary)(void *ctx, struct grpc_call *call, struct grpc_answer *out);
    /* Once per call that reached on_unary: answered = true after the verdict was carried out (answer
     * or status sent, RST_STREAM sent, connection closed); false when abandoned first (the peer
     * cancelled, the connection ended, the server stopped, GRPC_HANG). Free call->user here. */
    void (*on_call_end)(void *ctx, struct grpc_call *call, bool answered);
    /* The connection's bi-stream opened (response headers are on their way). */
    void (*on_stream_open)(void *ctx, struct grpc_conn_info *c);
    /* One message from the peer on the bi-stream (unframed; valid during the call). */
    void (*on_stream_msg)(void *ctx, struct grpc_conn_info *c, const uint8_t *msg, size_t len);
    /* Once per on_stream_open: the peer half-closed or reset the bi-stream, the server ended it (a
     * message too large), or the connection is ending (then just before on_close). */
    void (*on_stream_close)(void *ctx, struct grpc_conn_info *c);
};

struct grpc_server;

/*
 * Binds host:port (an IPv4 or IPv6 literal or a name, resolved as the HTTP listener does: the first
 * address getaddrinfo gives; IPv6 sockets are IPv6-only; port 0 = any free port), starts the loop
 * thread and returns the server. NULL on failure with a message in err, and errno set to
 * EADDRINUSE when the port is taken (so the caller can try another pair), to another errno value
 * otherwise. `h` is copied.
 */
struct grpc_server *grpc_server_start(const char *host, int port, const struct grpc_handlers *h, char *err,
                                      size_t errlen);
/* The bound port. */
int grpc_server_port(const struct grpc_server *s);
/* Sends GOAWAY on every connection and closes it (each call's on_call_end(false), on_stream_close,
 * on_close, on the loop thread), closes the listener, joins the loop, frees everything. Not from a
 * handler. NULL is ignored. */
void grpc_server_stop(struct grpc_server *s);

/* Thread-safe. Queues msg (unframed protobuf bytes, malloc'd; taken in every case) as a message on
 * connection `serial`'s bi-stream. 0 when queued (it is dropped if the connection ends first), -1
 * when the connection is gone or has no open bi-stream. Messages keep their order. */
int grpc_server_send(struct grpc_server *s, uint64_t serial, uint8_t *msg, size_t len);
/* Thread-safe. grpc_server_send, but the message goes out no sooner than delay_ms from now (a delayed
 * push); messages sent later by grpc_server_send may overtake it. Same return and ownership. */
int grpc_server_send_after(struct grpc_server *s, uint64_t serial, uint8_t *msg, size_t len, int64_t delay_ms);
/* Thread-safe. grpc_server_send of one message (taken) to n connections at once: queued by
 * reference on each bi-stream (one copy in memory, freed once every stream has sent or dropped it),
 * one wake-up of the loop. Returns how many connections it was queued for (those open with a
 * bi-stream now). */
size_t grpc_server_send_many(struct grpc_server *s, const uint64_t *serials, size_t n, uint8_t *msg, size_t len);
/* Thread-safe. Closes the connection's socket (no GOAWAY: the peer sees a crashed server); on_close
 * follows on the loop thread. 0 when queued, -1 when no such connection. */
int grpc_server_close(struct grpc_server *s, uint64_t serial);
/* Thread-safe. grpc_server_close for every connection open now. */
void grpc_server_close_all(struct grpc_server *s);
/* For tests only: the preface timeout of connections accepted from now on (default
 * GRPC_PREFACE_TIMEOUT_MS), so a test need not wait 10 s. Thread-safe. */
void grpc_server_set_preface_timeout(struct grpc_server *s, int64_t ms);

/* Thread-safe. Connections open now (between on_open and on_close). */
size_t grpc_server_connections(struct grpc_server *s);
/* Thread-safe. Is connection `serial` open on this server now? (Several servers in one process: which
 * one carries it.) */
bool grpc_server_has_conn(struct grpc_server *s, uint64_t serial);

struct grpc_server_stats {       /* thread-safe snapshot; counters since start */
    size_t connections;          /* open now */
    size_t streams;              /* open HTTP/2 streams now */
    size_t input_held;           /* bytes of request messages held now (all connections) */
    size_t output_queued;        /* bytes queued for peers now (all connections) */
    uint64_t accepted, closed;   /* connections */
    uint64_t calls, refused;     /* unary calls handed to on_unary; streams the transport ended itself
                                    (unknown path, too large, compressed, malformed, limits) */
};
void grpc_server_get_stats(struct grpc_server *s, struct grpc_server_stats *out);

/*
 * For the fuzzer and unit tests only: a server with no socket, no listener and no thread, holding one
 * connection (serial 1, peer 127.0.0.1:1) whose session reads from buffers. grpc_server_feed hands it
 * bytes as if read from the socket, then runs what the loop would (queued sends and closes, due
 * timers) and passes every byte the server would write to `sink` (NULL: discarded). Returns 0 while
 * the connection is open, -1 once it is closed (on_close has run). grpc_server_stop frees it.
 * Handlers run on the calling thread.
 */
struct grpc_server *grpc_server_feed_start(const struct grpc_handlers *h);
int grpc_server_feed(struct grpc_server *s, const uint8_t *data, size_t len,
                     void (*sink)(void *arg, const uint8_t *out, size_t n), void *arg);

#endif
