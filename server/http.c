/*
 * http.c — libmicrohttpd glue (see http.h).
 *
 * Lifecycle of one request: the access handler runs several times. First call: allocate the
 * per-request state. Calls with upload data: append to the body, refusing past HTTP_BODY_MAX (413).
 * Last call: build a struct request (query arguments arrive still encoded — our unescape callback
 * is the identity — so params.c decodes them with Nacos's leniency), dispatch, and turn the struct
 * reply into a response here and nowhere else. The completion callback frees the state.
 *
 * Suspension: a request may be put aside without holding a worker — for a fault's delay or hang,
 * and for a hold (reply_hold: a long poll). The connection is suspended and listed in `timers`; the
 * timer thread resumes it when its time comes, or its peer left; waking its handle resumes a hold from
 * any thread at once. Resumed, the access handler runs the next phase (the deferred handler, the
 * hold's phase 2), which may suspend again (a delayed long poll is first delayed, then held).
 */
#include "nacos_mock/http.h"

#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nacos_mock/app.h"
#include "nacos_mock/clock.h"
#include "nacos_mock/log.h"
#include "nacos_mock/reply.h"
#include "nacos_mock/request.h"
#include "nacos_mock/routes.h"
#include "nacos_mock/sse.h"
#include "nacos_mock/util.h"

#define HTTP_CONN_LIMIT 4096
#define HTTP_FD_WANTED (HTTP_CONN_LIMIT + 256)

struct conn_state;

struct timer {
    struct MHD_Connection *conn;
    struct conn_state *cs;
    int64_t due_ms;        /* monotonic; INT64_MAX for a hang */
    int fd;
    bool hold;             /* a held request (reply_hold), else a fault's delay or hang */
};

struct http_server {
    struct MHD_Daemon *daemon;
    struct app *app;
    int port;
    int node;
    pthread_t timer_thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct timer *timers;
    size_t n_timers, cap_timers;
    bool stopping;
    int64_t next_peer_check;  /* when the timer thread next looks whether held requests' peers left */
    _Atomic long in_flight;   /* dispatched requests whose answer is not yet fully sent */
    struct sse_hub *_Atomic sse;   /* the events streams of this listener, made by the first (sse.h) */
};

/* The wake handle of a request (http.h, request.h), inside its conn_state. Fields under srv->mu. */
struct http_hold {
    struct request_hold base;   /* first: request->hold points here */
    struct http_server *srv;
    struct conn_state *cs;
    enum { HOLD_IDLE = 0, HOLD_HELD, HOLD_RESUMING, HOLD_DONE } state;
    bool woken;            /* woken while not held yet: the hold ends at once */
    enum hold_end why;     /* set when it stops being HELD */
};

enum conn_phase { PHASE_READING = 0, PHASE_SUSPENDED, PHASE_RESUMED };

struct conn_state {
    char *body;
    size_t len, cap;
    bool too_big;
    enum conn_phase phase;
    bool client_gone;
    bool counted;             /* included in in_flight until the completion callback */
    bool journalled;          /* routes_finish ran (once per dispatched request) */
    bool fresh;               /* made by on_uri; the access handler has not run yet */
    char *path;
    size_t body_max;          /* this route's cap */
    size_t timer_idx;         /* index in srv->timers while suspended */
    struct http_hold hold;
    struct request req;
    struct reply rep;
};

/* Keep URL and arguments exactly as sent: decoding is params.c's job. */
static size_t unescape_identity(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    struct params *p = cls;
    if (key) params_add_encoded(p, key, strlen(key), value ? value : "", value ? strlen(value) : 0);
    return MHD_YES;
}

static const char *header(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static const char *conn_header(void *ctx, const char *name) { return header(ctx, name); }

static bool is_form_body(const char *ct)
{
    /* form bodies, and the Go SDK's raw PUT bodies, which may come without a usable type */
    return !*ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0 || strncasecmp(ct, "text/plain", 10) == 0;
}

static void fill_peer(struct MHD_Connection *c, struct request *req)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr) return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        memcpy(&req->peer, in, sizeof *in);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        memcpy(&req->peer, in6, sizeof *in6);
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes %XX in the path (not '+': it is literal in a path) up to any '?'; a %00 or a stray '%'
 * stays as typed. Caller frees. */
static char *decode_path(const char *url)
{
    size_t n = strcspn(url, "?");
    char *p = malloc(n + 1);
    if (!p) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (url[i] == '%' && i + 2 < n && (hi = hexval(url[i + 1])) >= 0 &&
            (lo = hexval(url[i + 2])) >= 0 && (hi | lo)) {
            p[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            p[o++] = url[i];
        }
    }
    p[o] = '\0';
    return p;
}

static enum MHD_Result send_reply(struct MHD_Connection *c, struct reply *rep)
{
    if (rep->drop == DROP_RESET) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (ci) {
            struct linger lg = {.l_onoff = 1, .l_linger = 0};   /* close → RST */
            setsockopt(ci->connect_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            /* libmicrohttpd shuts the write side down (FIN) before close(): abort now, so the peer
             * sees the RST first (Linux: connect() to AF_UNSPEC disconnects a TCP socket with RST) */
            struct sockaddr unspec = {.sa_family = AF_UNSPEC};
            (void)connect(ci->connect_fd, &unspec, sizeof unspec);
        }
        return MHD_NO;
    }
    if (rep->drop == DROP_CLOSE) return MHD_NO;

    struct MHD_Response *resp;
    if (rep->body && rep->len) {
        resp = MHD_create_response_from_buffer_with_free_callback(rep->len, rep->body, free);
        if (resp) rep->body = NULL;   /* now owned by the response */
    } else {
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, rep->content_type ? rep->content_type : CT_TEXT);
    for (size_t i = 0; i < rep->n_headers; i++)
        MHD_add_response_header(resp, rep->headers[i].name, rep->headers[i].value);
    enum MHD_Result r = MHD_queue_response(c, (unsigned)rep->status, resp);
    MHD_destroy_response(resp);
    return r;
}

/* Suspends c until cs->rep.delay_ms has passed (or, for a hang, until the client leaves or the
 * server stops). 0 on success; -1 when the server is stopping (then the caller answers now). */
static int suspend(struct http_server *srv, struct MHD_Connection *c, struct conn_state *cs)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    pthread_mutex_lock(&srv->mu);
    if (srv->stopping) {
        pthread_mutex_unlock(&srv->mu);
        return -1;
    }
    if (util_grow((void **)&srv->timers, &srv->cap_timers, srv->n_timers, sizeof *srv->timers)) {
        pthread_mutex_unlock(&srv->mu);
        return -1;
    }
    /* +1: the clock has whole milliseconds, so a delay never ends early */
    int64_t due = cs->rep.drop == DROP_HANG && cs->rep.delay_ms <= 0 ? INT64_MAX : clock_mono_ms() + cs->rep.delay_ms + 1;
    cs->timer_idx = srv->n_timers;
    srv->timers[srv->n_timers++] = (struct timer){.conn = c, .cs = cs, .due_ms = due, .fd = ci ? ci->connect_fd : -1};
    cs->phase = PHASE_SUSPENDED;
    MHD_suspend_connection(c);
    pthread_cond_signal(&srv->cond);
    pthread_mutex_unlock(&srv->mu);
    return 0;
}

/* Has the peer of a suspended connection closed or reset it? */
static bool peer_gone(int fd)
{
    if (fd < 0) return false;
    char b;
    ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* With srv->mu held: resumes timer i (removing it). A held request's hold ends for `why`. */
static void resume_at(struct http_server *srv, size_t i, enum hold_end why)
{
    struct timer t = srv->timers[i];
    srv->timers[i] = srv->timers[--srv->n_timers];
    srv->timers[i].cs->timer_idx = i;
    if (t.hold) {
        t.cs->hold.state = HOLD_RESUMING;
        t.cs->hold.why = why;
    }
    MHD_resume_connection(t.conn);
}

/* Holds the request (reply_hold): suspends it until woken, its deadline, or its peer leaving. 0 held;
 * -1 not held (woken already, the server stopping, out of memory): the caller runs phase 2 now. */
static int hold_start(struct http_server *srv, struct MHD_Connection *c, struct conn_state *cs)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    pthread_mutex_lock(&srv->mu);
    if (srv->stopping || cs->hold.woken ||
        util_grow((void **)&srv->timers, &srv->cap_timers, srv->n_timers, sizeof *srv->timers)) {
        pthread_mutex_unlock(&srv->mu);
        return -1;
    }
    int64_t due = clock_mono_ms() + cs->rep.hold_ms + (cs->rep.hold_ms > 0);
    cs->timer_idx = srv->n_timers;
    srv->timers[srv->n_timers++] =
        (struct timer){.conn = c, .cs = cs, .due_ms = due, .fd = ci ? ci->connect_fd : -1, .hold = true};
    cs->hold.state = HOLD_HELD;
    cs->phase = PHASE_SUSPENDED;
    MHD_suspend_connection(c);
    pthread_cond_signal(&srv->cond);
    pthread_mutex_unlock(&srv->mu);
    return 0;
}

/* Phase 2 of a hold: exactly once (the hold is DONE first, so a late wake does nothing). */
static void hold_run(struct http_server *srv, struct conn_state *cs, enum hold_end why)
{
    pthread_mutex_lock(&srv->mu);
    if (cs->hold.state == HOLD_HELD) {   /* ended while still listed (a connection torn down): unlist it */
        srv->timers[cs->timer_idx] = srv->timers[--srv->n_timers];
        srv->timers[cs->timer_idx].cs->timer_idx = cs->timer_idx;
    }
    cs->hold.state = HOLD_DONE;
    pthread_mutex_unlock(&srv->mu);
    reply_hold_fn fn = cs->rep.hold_fn;
    cs->rep.hold_fn = NULL;
    if (fn) fn(srv->app, &cs->req, &cs->rep, cs->rep.hold_ctx, why);
    if (why == HOLD_GONE) {   /* journalled without a status, as a dropped connection */
        cs->client_gone = true;
        cs->rep.status = 0;
    }
}

static void hold_wake(struct request_hold *rh)
{
    struct http_hold *h = (struct http_hold *)(void *)rh;
    if (!h || !h->srv) return;
    struct http_server *srv = h->srv;
    pthread_mutex_lock(&srv->mu);
    if (h->state == HOLD_HELD) resume_at(srv, h->cs->timer_idx, HOLD_WOKEN);
    else if (h->state == HOLD_IDLE) h->woken = true;
    pthread_mutex_unlock(&srv->mu);
}

static void *timer_main(void *arg)
{
    struct http_server *srv = arg;
    pthread_mutex_lock(&srv->mu);
    for (;;) {
        int64_t now = clock_mono_ms(), next = now + 200;   /* hangs are checked every 200 ms */
        bool check_holds = now >= srv->next_peer_check;     /* held requests every second */
        if (check_holds) srv->next_peer_check = now + 1000;
        for (size_t i = 0; i < srv->n_timers;) {
            struct timer *t = &srv->timers[i];
            if (srv->stopping) {
                resume_at(srv, i, HOLD_STOPPING);   /* delays and holds are answered now, hangs closed */
                continue;
            }
            if (t->due_ms <= now) {
                if (!t->hold && t->cs->rep.drop == DROP_HANG && t->due_ms != INT64_MAX) {
                    t->due_ms = INT64_MAX;   /* a delayed hang: now hang */
                } else {
                    resume_at(srv, i, HOLD_DEADLINE);
                    continue;
                }
            }
            if ((t->due_ms == INT64_MAX || (t->hold && check_holds)) && peer_gone(t->fd)) {
                t->cs->client_gone = true;
                resume_at(srv, i, HOLD_GONE);
                continue;
            }
            if (t->due_ms < next) next = t->due_ms;
            i++;
        }
        if (srv->stopping) break;
        if (srv->n_timers && srv->next_peer_check < next) next = srv->next_peer_check;
        struct timespec ts;
        int64_t wait = next - clock_mono_ms();
        if (wait < 0) wait = 0;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += wait / 1000;
        ts.tv_nsec += (wait % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) { ts.tv_sec++; ts.tv_nsec -= 1000000000; }
        pthread_cond_timedwait(&srv->cond, &srv->mu, &ts);
    }
    pthread_mutex_unlock(&srv->mu);
    return NULL;
}

static struct conn_state *conn_state_new(struct http_server *srv)
{
    struct conn_state *cs = calloc(1, sizeof *cs);
    if (!cs) return NULL;
    params_init(&cs->req.params);
    reply_init(&cs->rep);
    cs->body_max = HTTP_BODY_MAX;
    cs->hold = (struct http_hold){.base = {.wake = hold_wake}, .srv = srv, .cs = cs};
    cs->req.hold = &cs->hold.base;
    return cs;
}

/* Journal and log line, once: when the answer is final, or when the connection ended first. */
static void finish_once(struct http_server *srv, struct conn_state *cs)
{
    if (cs->journalled) return;
    cs->journalled = true;
    routes_finish(srv->app, &cs->req, &cs->rep);
}

/* A phase of the request is over (dispatch, a deferred handler, a hold's phase 2): hold it if the
 * handler asked to, else journal, log and answer (or close). */
static enum MHD_Result finish(struct http_server *srv, struct MHD_Connection *c, struct conn_state *cs)
{
    if (cs->rep.hold_fn) {
        if (hold_start(srv, c, cs) == 0) return MHD_YES;
        hold_run(srv, cs, cs->hold.woken ? HOLD_WOKEN : HOLD_STOPPING);   /* not held: phase 2 now */
    }
    finish_once(srv, cs);
    if (cs->client_gone) return MHD_NO;
    return send_reply(c, &cs->rep);
}

/* Called by libmicrohttpd with the raw URI before it parses the query into its per-connection pool.
 * A query with thousands of tiny arguments (`?a&a&a...`) would exhaust that pool, and MHD 0.9.75 then
 * neither answers nor closes until the connection times out. So past PARAMS_MAX arguments the query
 * is ended right after its '?' in MHD's own (writable) request buffer — 0.9.75 calls this callback
 * before it parses the arguments from that buffer — and the request is answered 400 "too many
 * parameters". Returns the per-request state (the documented use of this callback). */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)c;
    struct conn_state *cs = conn_state_new(cls);
    if (!cs) return NULL;
    cs->fresh = true;
    char *q = strchr(uri, '?');
    if (q) {
        size_t args = 1;
        for (const char *p = q + 1; *p; p++) args += *p == '&';
        if (args > PARAMS_MAX) {
            q[1] = '\0';
            cs->req.params.overflow = true;
        }
    }
    return cs;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
    (void)version;
    struct http_server *srv = cls;
    struct conn_state *cs = *con_cls;
    if (!cs || cs->fresh) {   /* first call (the state is made by on_uri, or here) */
        if (!cs && !(cs = *con_cls = conn_state_new(srv))) return MHD_NO;
        cs->fresh = false;
        if (!(cs->path = decode_path(url))) return MHD_NO;
        cs->body_max = routes_body_max(method, cs->path);
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (cs->too_big || cs->len + n > cs->body_max) {
            cs->too_big = true;
            return MHD_YES;   /* swallow the rest, answer 413 at the end */
        }
        if (cs->len + n + 1 > cs->cap) {
            size_t cap = cs->cap ? cs->cap : 1024;
            while (cap < cs->len + n + 1) cap *= 2;
            char *nb = realloc(cs->body, cap);
            if (!nb) return MHD_NO;
            cs->body = nb;
            cs->cap = cap;
        }
        memcpy(cs->body + cs->len, upload_data, n);
        cs->len += n;
        cs->body[cs->len] = '\0';
        return MHD_YES;
    }

    struct request *req = &cs->req;
    if (cs->phase == PHASE_SUSPENDED) {   /* resumed: by the timer thread, or a hold woken */
        cs->phase = PHASE_RESUMED;
        if (cs->hold.state == HOLD_RESUMING) {
            hold_run(srv, cs, cs->hold.why);
            return finish(srv, c, cs);
        }
        if (!cs->client_gone && cs->rep.deferred) routes_run_deferred(srv->app, req, &cs->rep);
        cs->rep.delay_ms = 0;
        if (cs->client_gone || cs->rep.drop == DROP_HANG) {   /* client gone, or stopping: close */
            if (cs->rep.hold_fn) hold_run(srv, cs, HOLD_GONE);
            finish_once(srv, cs);   /* journalled as the rule said, e.g. "hang" */
            return MHD_NO;
        }
        return finish(srv, c, cs);
    }
    if (cs->too_big) {
        reply_textf(&cs->rep, 413, "caused: request body is larger than %zu bytes;", cs->body_max);
        return send_reply(c, &cs->rep);
    }
    req->method = method;
    req->path = cs->path;
    req->body = cs->body ? cs->body : "";
    req->body_len = cs->len;
    const char *ua = header(c, MHD_HTTP_HEADER_USER_AGENT);
    if (!ua || !*ua) ua = header(c, "Client-Version");
    req->user_agent = ua ? ua : "";
    const char *ct = header(c, MHD_HTTP_HEADER_CONTENT_TYPE);
    req->content_type = ct ? ct : "";
    req->authorization = header(c, MHD_HTTP_HEADER_AUTHORIZATION);
    req->header_fn = conn_header;
    req->header_ctx = c;
    req->node = srv->node;
    fill_peer(c, req);

    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_arg, &req->params);
    if (cs->len && is_form_body(req->content_type)) params_parse_form(&req->params, cs->body, cs->len);

    cs->counted = true;
    atomic_fetch_add(&srv->in_flight, 1);
    routes_dispatch(srv->app, req, &cs->rep);
    if (cs->rep.stream) {   /* GET /__mock/events: an events stream (sse.c) */
        routes_finish(srv->app, req, &cs->rep);
        return sse_start(&srv->sse, srv->app, c, &cs->rep, header(c, "Last-Event-ID"));
    }
    if ((cs->rep.delay_ms > 0 || cs->rep.drop == DROP_HANG) && suspend(srv, c, cs) == 0) return MHD_YES;
    if (cs->rep.deferred) routes_run_deferred(srv->app, req, &cs->rep);   /* could not suspend: answer now */
    cs->rep.delay_ms = 0;
    if (cs->rep.drop == DROP_HANG) cs->rep.drop = DROP_CLOSE;
    return finish(srv, c, cs);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)c;
    (void)toe;
    struct http_server *srv = cls;
    struct conn_state *cs = *con_cls;
    if (!cs) return;
    if (cs->rep.hold_fn) hold_run(srv, cs, HOLD_GONE);   /* ended before its phase 2 ran */
    if (cs->counted) {
        /* libmicrohttpd may close a resumed connection whose peer left without calling us again */
        if (!cs->journalled && !cs->rep.drop) cs->rep.status = 0;
        finish_once(srv, cs);
        atomic_fetch_sub(&srv->in_flight, 1);
    }
    request_free(&cs->req);
    reply_free(&cs->rep);
    free(cs->body);
    free(cs->path);
    free(cs);
    *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = '\0';
    log_warn("libmicrohttpd: %s", buf);
}

struct http_server *http_start(struct app *app, const char *host, int port, int node, char *err, size_t errlen)
{
    const struct config *cfg = app->cfg;
    struct http_server *srv = calloc(1, sizeof *srv);
    if (!srv) { snprintf(err, errlen, "out of memory"); return NULL; }
    srv->app = app;
    srv->node = node;

    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *ai = NULL;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    int gai = getaddrinfo(host, portstr, &hints, &ai);
    if (gai || !ai) {
        snprintf(err, errlen, "cannot resolve --host %s: %s", host, gai_strerror(gai));
        free(srv);
        return NULL;
    }
    /* every held long poll is a connection: 1,000 of them need more descriptors than a soft limit of
     * 1024 leaves, so take what the hard limit allows (up to the connection limit and some) */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < HTTP_FD_WANTED) {
        rl.rlim_cur = rl.rlim_max < HTTP_FD_WANTED ? rl.rlim_max : HTTP_FD_WANTED;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    /* before the daemon: its workers may take a request (and suspend it) at once (ThreadSanitizer) */
    pthread_mutex_init(&srv->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&srv->cond, &ca);
    pthread_condattr_destroy(&ca);
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    srv->daemon = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_UNESCAPE_CALLBACK, unescape_identity, NULL,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->threads, MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONN_LIMIT,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!srv->daemon) {
        snprintf(err, errlen, "cannot listen on %s:%d (address in use, or not permitted)", host, port);
        pthread_cond_destroy(&srv->cond);
        pthread_mutex_destroy(&srv->mu);
        free(srv);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di ? di->port : port;
    if (pthread_create(&srv->timer_thread, NULL, timer_main, srv)) {
        snprintf(err, errlen, "cannot start the timer thread");
        MHD_stop_daemon(srv->daemon);
        pthread_cond_destroy(&srv->cond);
        pthread_mutex_destroy(&srv->mu);
        free(srv);
        return NULL;
    }
    return srv;
}

int http_port(const struct http_server *s) { return s ? s->port : 0; }

void http_stop(struct http_server *s)
{
    if (!s) return;
    /* answer delayed requests now and close hung ones, let the workers finish them. (No
     * MHD_quiesce_daemon: with epoll and a thread pool, 0.9.75 sometimes aborts in it — "Failed to
     * remove listen FD from epoll set" — about once in 100-300 stops.) */
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->timer_thread, NULL);
    sse_stop(&s->sse);   /* events streams end now: MHD must not be stopped with suspended ones */
    /* requests in flight are answered: wait (up to 2 s) until their answers are sent */
    for (int i = 0; i < 400 && atomic_load(&s->in_flight) > 0; i++) usleep(5000);
    MHD_stop_daemon(s->daemon);
    sse_free(&s->sse);
    free(s->timers);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
