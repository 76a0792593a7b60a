/*
 * harness — what every integration test needs: start the real nacos-mock executable on port 0
 * (reading the port back from its listening line), talk HTTP to it with libcurl, stop it with
 * SIGTERM and check it exited cleanly. Also an in-process server (the core library) for tests
 * that call module functions directly next to HTTP.
 */
#ifndef NM_TEST_HARNESS_H
#define NM_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <cjson/cJSON.h>

struct nm_server {
    pid_t pid;
    int port;
    char base[64];          /* http://127.0.0.1:PORT */
    char err_path[128];     /* the server's stderr, kept for failure messages */
};

/* Starts build/nacos-mock --host 127.0.0.1 --port 0 [args...] (NULL-terminated), prefixed by the
 * words of $NM_SERVER_WRAPPER when set (e.g. valgrind). 0 ok. */
int nm_start(struct nm_server *s, const char *const *args);
/* SIGTERM, wait; returns the exit status (0 = clean stop), or -1 if it had to be killed. */
int nm_stop(struct nm_server *s);
/* SIGKILL, wait (no clean stop). */
void nm_kill(struct nm_server *s);

/* Runs the nacos-mock executable with exactly args (NULL-terminated; no --host/--port added) and
 * waits up to timeout_ms for it to exit. Its environment is this process's without any NACOS_MOCK_*
 * variable, plus env ("NAME=value", NULL-terminated, may be NULL). out/err receive what it wrote
 * (NUL-terminated, truncated to their capacity). Returns its exit code, -1 if it had to be killed,
 * -2 if it could not be started. */
int nm_run(const char *const *args, const char *const *env, int timeout_ms, char *out, size_t outcap, char *err,
           size_t errcap);

/* For cmocka tests: start a server the test owns (fails the test if it does not start) and remember
 * it, so nm_test_teardown (a cmocka teardown) kills whatever an assertion left running. nm_test_stop
 * stops it and requires a clean exit (0); nm_test_untrack hands it back to the caller. */
struct nm_server *nm_test_start(const char *const *args);
void nm_test_stop(struct nm_server *s);
void nm_test_untrack(struct nm_server *s);
int nm_test_teardown(void **state);

struct nm_resp {
    long status;
    char *body;             /* NUL-terminated, owned */
    size_t len, cap;
    char content_type[128];
    char authorization[1200];
    char headers[4096];     /* every response header line as received ("Name: value\r\n" ...), cut at 4 KiB */
    double seconds;         /* total time of the exchange */
    int curl_code;          /* CURLE_OK (0) unless the connection failed */
};

/* One request. `path` is appended to base (e.g. "/nacos/v1/ns/instance?serviceName=x"); body may be
 * NULL; content_type NULL = form when body given; ua NULL = curl's default ("" = no User-Agent).
 * Returns status (or -1 on a transport error, then r->curl_code says which). Free with nm_resp_free. */
long nm_http(const struct nm_server *s, const char *method, const char *path, const char *body,
             const char *content_type, const char *ua, struct nm_resp *r);
/* Same, with extra raw headers ("Name: value", NULL-terminated list). */
long nm_http_h(const struct nm_server *s, const char *method, const char *path, const char *body,
               const char *content_type, const char *ua, const char *const *headers, struct nm_resp *r);
void nm_resp_free(struct nm_resp *r);

/* The value of response header `name` (case-insensitive) into out, or NULL when absent. */
const char *nm_resp_header(const struct nm_resp *r, const char *name, char *out, size_t len);

/* Shorthands that assert success-or-status and return the parsed JSON body (caller deletes). */
long nm_get(const struct nm_server *s, const char *path, struct nm_resp *r);
cJSON *nm_get_json(const struct nm_server *s, const char *path);
long nm_post_form(const struct nm_server *s, const char *path, const char *form, struct nm_resp *r);

/* The rest of f as a NUL-terminated heap string (caller frees); f stays open. */
char *nm_read_all(FILE *f);

/* The value of one Prometheus series on /__mock/metrics (`name{labels} ` as printed, trailing
 * space included); fails the test when it is absent. */
double nm_metric(const struct nm_server *s, const char *series);

/* JSON accessors for cmocka tests: each fails the test (naming the key and the object) when the
 * field is absent or of another type. */
const cJSON *nm_field(const cJSON *o, const char *key);
const char *nm_jstr(const cJSON *o, const char *key);
double nm_jnum(const cJSON *o, const char *key);
/* Fails the test unless o prints (unformatted) exactly as want. */
void nm_assert_json(const cJSON *o, const char *want);
/* GET /__mock/registry minus its nowMs, printed (caller frees with cJSON_free): equal before and
 * after a request = the request changed nothing. */
char *nm_registry_snapshot(const struct nm_server *s);

/* Monotonic clock in ms / µs, for measuring durations in tests. */
int64_t nm_mono_ms(void);
int64_t nm_mono_us(void);
/* xorshift32 step: each thread keeps its own state, so a seed reproduces a sequence. */
uint32_t nm_rand(uint32_t *state);

/* An events stream (GET /__mock/events, Server-Sent Events) read by a thread of its own, so a test
 * can wait for "instance X turned UNHEALTHY" with a deadline instead of polling. */
struct nm_sse;
struct nm_sse_event {
    char id[24];            /* "" for events without an id (gap, overflow) */
    char event[32];
    char *data;             /* the data line, owned */
    cJSON *json;            /* data parsed (NULL if it is not JSON), owned */
};
/* Opens GET `path` with extra raw headers (NULL-terminated, may be NULL) and returns once the stream
 * answered 200 and sent its first bytes (from then on it is subscribed). NULL when it did not within
 * 5 s; *status (may be NULL) gets the HTTP status (0: no answer). */
struct nm_sse *nm_sse_open(const struct nm_server *s, const char *path, const char *const *headers, long *status);
/* The stream's Content-Type ("" until known). */
const char *nm_sse_content_type(struct nm_sse *c);
/* The next event (comments skipped): 1 got it, 0 the stream ended, -1 nothing within timeout_ms. */
int nm_sse_next(struct nm_sse *c, long timeout_ms, struct nm_sse_event *ev);
/* The next event of kind `event` whose data contains `needle` (NULL: any), skipping others: as
 * nm_sse_next. */
int nm_sse_wait(struct nm_sse *c, const char *event, const char *needle, long timeout_ms, struct nm_sse_event *ev);
/* Waits until the raw stream contains `text` (comments included). */
bool nm_sse_saw(struct nm_sse *c, const char *text, long timeout_ms);
void nm_sse_event_free(struct nm_sse_event *ev);
/* Stops reading (closes the connection) and frees. */
void nm_sse_close(struct nm_sse *c);

/* printf into a static-per-call buffer rotation (8 slots): for building paths inline. */
const char *nm_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Percent-encodes s (RFC 3986 unreserved kept) into the rotation. */
const char *nm_enc(const char *s);

#endif
