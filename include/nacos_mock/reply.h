/*
 * reply — what a handler answers, independent of libmicrohttpd. http.c turns it into a response in
 * one place. Handlers fill it through the helpers; the body is always heap memory owned by the
 * reply (reply_free), and every error helper produces the Nacos wire form `caused: <msg>;`.
 */
#ifndef NACOS_MOCK_REPLY_H
#define NACOS_MOCK_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#define CT_TEXT "text/plain;charset=UTF-8"
#define CT_JSON "application/json;charset=UTF-8"

#define REPLY_MAX_HEADERS 8

enum reply_drop { DROP_NONE = 0, DROP_RESET, DROP_CLOSE, DROP_HANG };

struct app;
struct reply;
struct request;
/* Why the second phase of a held request runs (reply_hold). */
enum hold_end {
    HOLD_WOKEN,      /* request_hold_wake(req->hold) was called */
    HOLD_DEADLINE,   /* hold_ms passed */
    HOLD_GONE,       /* the client went away: clean up, nothing is sent */
    HOLD_STOPPING,   /* the server stops: answer now */
};
/* Phase 2 of a held request: runs exactly once, on a worker thread, with no lock held, and fills rep
 * (except for HOLD_GONE). It owns ctx from then on. */
typedef void (*reply_hold_fn)(struct app *app, struct request *req, struct reply *rep, void *ctx, enum hold_end why);

struct reply {
    int status;
    const char *content_type;   /* static string */
    char *body;                 /* heap, owned */
    size_t len;
    struct { const char *name; char *value; } headers[REPLY_MAX_HEADERS];  /* value heap, owned */
    size_t n_headers;
    void *stream;               /* answer with a stream instead (GET /__mock/events: console.h), freed by */
    void (*stream_free)(void *stream);   /* reply_free unless http.c took it */
    enum reply_drop drop;       /* connection-level fault instead of an answer */
    int64_t delay_ms;           /* answer (or drop) this much later: the connection is suspended */
    bool deferred;              /* the handler has not run yet: run it when the delay is over */
    char fault_id[64];          /* the fault rule that hit, "" = none */
    reply_hold_fn hold_fn;      /* set by reply_hold: answer later, from hold_fn */
    void *hold_ctx;
    int64_t hold_ms;
};

void reply_init(struct reply *r);
void reply_free(struct reply *r);
/* Replaces the body with a copy of `s`. */
void reply_text(struct reply *r, int status, const char *s);
void reply_textf(struct reply *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Nacos error: body `caused: <msg>;` as text/plain. */
void reply_caused(struct reply *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prints `json` (unformatted) as the body and deletes it. */
void reply_json(struct reply *r, int status, cJSON *json);
/* A copy of n bytes as the body, with content type ct (a static string). */
void reply_bytes(struct reply *r, int status, const char *ct, const char *p, size_t n);
/* A copy of already printed JSON as the body (same content type as reply_json). */
void reply_json_text(struct reply *r, int status, const char *text, size_t len);
/* The same, taking ownership of `text` (malloc'd, NUL-terminated; freed with the reply). */
void reply_json_owned(struct reply *r, int status, char *text, size_t len);
/* Control-plane error: `{"error": "<msg>"}`. */
void reply_error_json(struct reply *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void reply_header(struct reply *r, const char *name, const char *value);
/* Answer later: http.c holds the request without a worker thread (the connection is suspended) until
 * request_hold_wake(req->hold) is called — from any thread, also before this returns — or hold_ms of
 * real time passed, or the client left, then runs fn(..., ctx, why) to fill the reply. A long poll;
 * the events stream's next use. */
void reply_hold(struct reply *r, int64_t hold_ms, reply_hold_fn fn, void *ctx);
/* "ok" as text/plain (what register/deregister/update answer; Python wants exactly these bytes). */
void reply_ok(struct reply *r);

/* JSON number helpers that keep Java's rendering of doubles (1.0, not 1). */
cJSON *json_add_double(cJSON *obj, const char *key, double v);
cJSON *json_add_int(cJSON *obj, const char *key, long long v);
/* A stored JSON object text (metadata, selector) parsed, or a new empty object when it is not one.
 * Caller deletes. */
cJSON *json_object_or_empty(const char *text);

/* JSON written straight into text, for answers too large to build as a cJSON tree first (the
 * changes of a sweep of 100,000 instances: a tree costs ~16 k instructions per change, the text
 * ~0.5 k). Strings are escaped exactly as cJSON prints them. Any allocation failure sets `oom` and
 * makes the rest no-ops; the text is then incomplete and must not be sent. Start zeroed. */
struct json_text {
    char *p;
    size_t len, cap;
    bool oom;
};
/* Room for n more bytes up front (the text still grows past it if needed). */
void json_text_reserve(struct json_text *t, size_t n);
void json_text_raw(struct json_text *t, const char *s, size_t n);
/* `lit` must be a string literal ("" lit "" makes anything else a compile error). */
#define JSON_TEXT_LIT(t, lit) json_text_raw((t), "" lit "", sizeof(lit) - 1)
void json_text_string(struct json_text *t, const char *s);   /* quoted and escaped */
void json_text_int(struct json_text *t, long long v);
void json_text_double(struct json_text *t, double v);   /* as json_add_double renders it */

#endif
