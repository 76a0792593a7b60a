/*
 * sse.c — events streams over libmicrohttpd (see sse.h).
 *
 * A reader call fills libmicrohttpd's write buffer (`buf`, `max` bytes) with what is due, in this
 * order: the opening (once), the events the subscription has not read, and — when there are none —
 * a keep-alive comment if one is due, else it parks: suspends the connection under the events lock
 * and returns 0. Text that does not fit (an event larger than the buffer) waits in `pending` and goes
 * out first in the next calls. The stream ends (END_OF_STREAM) when the hub stops, or after the
 * `overflow` event of a reader that fell too far behind.
 */
#include "nacos_mock/sse.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nacos_mock/app.h"
#include "nacos_mock/clock.h"
#include "nacos_mock/console.h"
#include "nacos_mock/events.h"
#include "nacos_mock/reply.h"
#include "nacos_mock/util.h"

struct sse_stream {
    struct sse_hub *hub;
    struct sse_stream *prev, *next;   /* the hub's list, under hub->mu */
    struct MHD_Connection *conn;
    struct events_sub *sub;
    int64_t keepalive_ms;
    int64_t ping_after;               /* monotonic: a keep-alive is due then (keeper thread, under hub->mu) */
    _Atomic int64_t last_write;       /* monotonic ms of the last bytes handed over */
    _Atomic bool ping, closing;
    bool opened, ended;               /* reader-only from here on */
    bool gap;
    uint64_t since;
    char *pending;
    size_t pending_len, pending_off;
};

struct sse_hub {
    struct app *app;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct sse_stream *streams;
    bool stopping, keeper_running;
    pthread_t keeper;
};

/* ------------------------------------------------------------------ writing into the reader's buffer */

struct out {
    struct sse_stream *s;
    char *buf;
    size_t max, n;
    bool parked;
};

/* Appends n bytes: into the buffer while it has room and nothing is pending, else to pending. */
static int put(struct out *o, const char *p, size_t n)
{
    struct sse_stream *s = o->s;
    if (!s->pending && o->max - o->n >= n) {
        memcpy(o->buf + o->n, p, n);
        o->n += n;
        return 0;
    }
    char *np = realloc(s->pending, s->pending_len + n);
    if (!np) return -1;
    memcpy(np + s->pending_len, p, n);
    s->pending = np;
    s->pending_len += n;
    return 0;
}

static int putf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int putf(struct out *o, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line) return -1;
    return put(o, line, (size_t)n);
}

/* Takes one event (events_take_fn): refused once something is pending, so at most one event waits
 * outside libmicrohttpd's buffer. */
static int take(void *ctx, uint64_t id, enum event_kind kind, const char *data, size_t len)
{
    struct out *o = ctx;
    if (o->s->pending) return 1;
    char head[64];
    int hn = snprintf(head, sizeof head, "id: %" PRIu64 "\nevent: %s\ndata: ", id, events_kind_name(kind));
    if (o->n && o->max - o->n < (size_t)hn + len + 2) return 1;   /* the next call takes it */
    if (put(o, head, (size_t)hn) || put(o, data, len) || put(o, "\n\n", 2)) return 1;
    return 0;
}

/* Asked under the events lock with nothing to send: suspends unless the stream must end or ping. */
static bool park(void *ctx)
{
    struct out *o = ctx;
    if (atomic_load(&o->s->closing) || atomic_load(&o->s->ping)) return false;
    MHD_suspend_connection(o->s->conn);
    o->parked = true;
    return true;
}

/* Called under the events lock by whoever emits (or pokes) while the stream is parked. */
static void wake(void *ctx)
{
    struct sse_stream *s = ctx;
    MHD_resume_connection(s->conn);
}

static ssize_t drain_pending(struct sse_stream *s, char *buf, size_t max)
{
    size_t n = s->pending_len - s->pending_off;
    if (n > max) n = max;
    memcpy(buf, s->pending + s->pending_off, n);
    s->pending_off += n;
    if (s->pending_off == s->pending_len) {
        free(s->pending);
        s->pending = NULL;
        s->pending_len = s->pending_off = 0;
    }
    atomic_store(&s->last_write, clock_mono_ms());
    return (ssize_t)n;
}

static void open_stream(struct out *o)
{
    struct sse_stream *s = o->s;
    uint64_t cursor = events_sub_cursor(s->sub);
    putf(o, "retry: %d\n: nacos-mock events; last id %" PRIu64 "\n\n", SSE_RETRY_MS, cursor);
    if (s->gap)
        putf(o, "event: gap\ndata: {\"timeMs\":%" PRId64 ",\"since\":%" PRIu64 ",\"resumedAfter\":%" PRIu64
                ",\"reason\":\"events after 'since' are no longer kept (or were never recorded here): reload the "
                "state\"}\n\n",
             clock_now_ms(&s->hub->app->clock), s->since, cursor);
    s->opened = true;
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct sse_stream *s = cls;
    if (s->pending) return drain_pending(s, buf, max);
    if (s->ended) return MHD_CONTENT_READER_END_OF_STREAM;
    struct out o = {s, buf, max, 0, false};
    if (!s->opened) open_stream(&o);
    for (;;) {
        if (atomic_load(&s->closing)) {   /* the server stops */
            s->ended = true;
            break;
        }
        long got = events_take(s->sub, take, &o, o.n || s->pending ? NULL : park);
        if (got == EVENTS_LOST) {
            uint64_t at = events_sub_cursor(s->sub), last = events_last_id(s->hub->app->events);
            putf(&o,
                 "event: overflow\ndata: {\"timeMs\":%" PRId64 ",\"lastEventId\":%" PRIu64 ",\"lastId\":%" PRIu64
                 ",\"reason\":\"slow reader: more than %d events behind; the stream ends, reload the state\"}\n\n",
                 clock_now_ms(&s->hub->app->clock), at, last, EVENTS_RING);
            s->ended = true;
            break;
        }
        if (got > 0 || o.n || s->pending) break;
        if (o.parked) return 0;   /* suspended until an event or a poke resumes it */
        if (atomic_exchange(&s->ping, false)) {   /* it would not park: a keep-alive is due */
            put(&o, ": keep-alive\n\n", 14);
            break;
        }
    }
    if (o.n) {
        atomic_store(&s->last_write, clock_mono_ms());
        return (ssize_t)o.n;
    }
    if (s->pending) return drain_pending(s, buf, max);
    return MHD_CONTENT_READER_END_OF_STREAM;
}

/* The response's free callback: the stream leaves its hub and its subscription. */
static void stream_free(void *cls)
{
    struct sse_stream *s = cls;
    struct sse_hub *h = s->hub;
    pthread_mutex_lock(&h->mu);
    if (s->prev) s->prev->next = s->next;
    else h->streams = s->next;
    if (s->next) s->next->prev = s->prev;
    pthread_mutex_unlock(&h->mu);
    events_unsubscribe(s->sub);
    free(s->pending);
    free(s);
}

/* ------------------------------------------------------------------ keep-alives */

static void *keeper_main(void *arg)
{
    struct sse_hub *h = arg;
    pthread_mutex_lock(&h->mu);
    while (!h->stopping) {
        int64_t now = clock_mono_ms(), next = now + EVENTS_KEEPALIVE_MS;
        for (struct sse_stream *s = h->streams; s; s = s->next) {
            int64_t due = atomic_load(&s->last_write) + s->keepalive_ms;
            if (due < s->ping_after) due = s->ping_after;
            if (due <= now) {
                atomic_store(&s->ping, true);
                events_poke(s->sub);   /* a parked stream writes it now; a busy one has no need */
                s->ping_after = now + s->keepalive_ms;
                due = s->ping_after;
            }
            if (due < next) next = due;
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t wait = next - now;
        ts.tv_sec += wait / 1000;
        ts.tv_nsec += (wait % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&h->cond, &h->mu, &ts);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

/* ------------------------------------------------------------------ the hub */

/* What *hub holds once the listener stopped before any stream made a hub: later streams are refused. */
static const struct sse_hub STOPPED_MARK;
#define STOPPED ((struct sse_hub *)&STOPPED_MARK)   /* compared, never used */

static struct sse_hub *hub_new(struct app *app)
{
    struct sse_hub *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->app = app;
    pthread_mutex_init(&h->mu, NULL);
    util_cond_init_monotonic(&h->cond);
    return h;
}

static void hub_destroy(struct sse_hub *h)
{
    pthread_cond_destroy(&h->cond);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

/* The listener's hub, made now if it has none (two first streams at once: one hub wins). NULL when
 * out of memory. */
static struct sse_hub *hub_of(struct sse_hub *_Atomic *slot, struct app *app)
{
    struct sse_hub *h = atomic_load(slot);
    if (h) return h;
    struct sse_hub *fresh = hub_new(app), *none = NULL;
    if (!fresh) return NULL;
    if (atomic_compare_exchange_strong(slot, &none, fresh)) return fresh;
    hub_destroy(fresh);
    return none;
}

void sse_stop(struct sse_hub *_Atomic *slot)
{
    struct sse_hub *none = NULL;
    if (atomic_compare_exchange_strong(slot, &none, STOPPED)) return;   /* no stream ever: refuse later ones */
    struct sse_hub *h = none;
    if (h == STOPPED) return;
    pthread_mutex_lock(&h->mu);
    h->stopping = true;
    for (struct sse_stream *s = h->streams; s; s = s->next) {
        atomic_store(&s->closing, true);   /* before the poke: a reader about to park sees it */
        events_poke(s->sub);
    }
    bool join = h->keeper_running;
    h->keeper_running = false;
    pthread_cond_signal(&h->cond);
    pthread_mutex_unlock(&h->mu);
    if (join) pthread_join(h->keeper, NULL);
}

void sse_free(struct sse_hub *_Atomic *slot)
{
    sse_stop(slot);
    struct sse_hub *h = atomic_exchange(slot, STOPPED);
    if (h && h != STOPPED) hub_destroy(h);
}

static enum MHD_Result refuse(struct MHD_Connection *c, unsigned status, const char *json)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(json), (void *)json, MHD_RESPMEM_PERSISTENT);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CT_JSON);
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

/* Last-Event-ID as an id; false when it is not a plain decimal number (then it is ignored). */
static bool parse_id(const char *v, uint64_t *out)
{
    if (!v || *v < '0' || *v > '9') return false;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || *end) return false;
    *out = n;
    return true;
}

enum MHD_Result sse_start(struct sse_hub *_Atomic *slot, struct app *app, struct MHD_Connection *c, struct reply *rep,
                          const char *last_event_id)
{
    struct events_request *er = rep->stream;
    rep->stream = NULL;
    rep->stream_free = NULL;
    struct sse_hub *h = hub_of(slot, app);
    struct sse_stream *s = h ? calloc(1, sizeof *s) : NULL;
    enum MHD_Result rc = MHD_NO;
    if (!s) {
        rc = refuse(c, 500, "{\"error\":\"out of memory\"}");
        goto out;
    }
    s->hub = h;
    s->conn = c;
    s->keepalive_ms = er->keepalive_ms;
    s->since = er->since;
    parse_id(last_event_id, &s->since);
    atomic_store(&s->last_write, clock_mono_ms());
    if (h == STOPPED) {
        free(s);
        rc = refuse(c, 503, "{\"error\":\"the server is stopping\"}");
        goto out;
    }
    pthread_mutex_lock(&h->mu);
    if (h->stopping) {
        pthread_mutex_unlock(&h->mu);
        free(s);
        rc = refuse(c, 503, "{\"error\":\"the server is stopping\"}");
        goto out;
    }
    if (!h->keeper_running && pthread_create(&h->keeper, NULL, keeper_main, h) == 0) h->keeper_running = true;
    s->sub = events_subscribe(h->app->events, &er->filter, s->since, wake, s, &s->gap);
    if (s->sub) {
        s->next = h->streams;
        if (h->streams) h->streams->prev = s;
        h->streams = s;
        pthread_cond_signal(&h->cond);   /* its keep-alive may be due before the keeper's next look */
    }
    pthread_mutex_unlock(&h->mu);
    if (!s->sub) {
        free(s);
        rc = refuse(c, 500, "{\"error\":\"out of memory\"}");
        goto out;
    }
    /* from here the response owns s: stream_free unlinks and frees it */
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, reader, s, stream_free);
    if (!r) {
        stream_free(s);
        goto out;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream; charset=utf-8");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");   /* proxies: pass each event on at once */
    rc = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
out:
    events_request_free(er);
    return rc;
}
