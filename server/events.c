/*
 * events.c — the ring of events, its emitters and its readers (see events.h).
 *
 * An event is one allocation: the header, then namespace, service and the data JSON text. The ring
 * is an array of EVENTS_RING pointers (allocated at the first subscription); event id x sits in slot
 * x % EVENTS_RING, and the oldest id held is head - count + 1. A reader's cursor is the last id it
 * read; a parked reader that an event does not interest is moved past it at once, so a filtered
 * stream never looks "behind" because of events it would have skipped anyway.
 */
#include "nacos_mock/events.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nacos_mock/naming.h"
#include "nacos_mock/reply.h"
#include "nacos_mock/util.h"

/* One allocation: this header, then the data, its NUL, and ns and service (each NUL-terminated). */
struct events_item {
    uint64_t id;
    enum event_kind kind;
    const char *ns, *service;    /* after the data; NULL when absent */
    const char *data;            /* right after the header: {"timeMs":...} */
    size_t len;
};

struct events_sub {
    struct events *ev;
    struct events_sub *prev, *next;
    unsigned kinds;
    char *service;
    uint64_t cursor;
    bool parked;
    events_wake_fn wake;
    void *ctx;
};

struct events {
    _Atomic bool on;
    pthread_mutex_t mu;
    struct events_item **ring;   /* EVENTS_RING slots once on */
    uint64_t head;               /* newest id, 0 before the first */
    size_t count;
    struct events_sub *subs;
};

static const char *const KIND_NAMES[EV_KINDS] = {
    [EV_REGISTERED] = "registered", [EV_DEREGISTERED] = "deregistered", [EV_UPDATED] = "updated",
    [EV_HEALTH] = "health", [EV_REMOVED] = "removed", [EV_FAULT] = "fault", [EV_CONNECTION] = "connection",
    [EV_STATUS] = "status", [EV_CONFIG] = "config", [EV_CLOCK] = "clock",
};

const char *events_kind_name(enum event_kind k) { return (unsigned)k < EV_KINDS ? KIND_NAMES[k] : NULL; }

int events_kind_parse(const char *s, size_t n)
{
    for (int k = 0; k < EV_KINDS; k++)
        if (strlen(KIND_NAMES[k]) == n && !memcmp(KIND_NAMES[k], s, n)) return k;
    return -1;
}

struct events *events_create(void)
{
    struct events *ev = calloc(1, sizeof *ev);
    if (!ev) return NULL;
    pthread_mutex_init(&ev->mu, NULL);
    return ev;
}

void events_free(struct events *ev)
{
    if (!ev) return;
    for (size_t i = 0; ev->ring && i < EVENTS_RING; i++) free(ev->ring[i]);
    free(ev->ring);
    pthread_mutex_destroy(&ev->mu);
    free(ev);
}

bool events_on(const struct events *ev)
{
    return ev && atomic_load_explicit(&ev->on, memory_order_relaxed);
}

uint64_t events_last_id(struct events *ev)
{
    pthread_mutex_lock(&ev->mu);
    uint64_t id = ev->head;
    pthread_mutex_unlock(&ev->mu);
    return id;
}

/* ------------------------------------------------------------------ the ring */

static bool sub_matches(const struct events_sub *s, const struct events_item *it)
{
    if (s->kinds && !(s->kinds & (1u << it->kind))) return false;
    return naming_service_matches(s->service, it->service);
}

/* With ev->mu held: gives `it` the next id, stores it (freeing the event it replaces) and wakes the
 * parked readers it interests. */
static void push_locked(struct events *ev, struct events_item *it)
{
    it->id = ++ev->head;
    size_t slot = (size_t)(it->id % EVENTS_RING);
    if (ev->count == EVENTS_RING) free(ev->ring[slot]);
    else ev->count++;
    ev->ring[slot] = it;
    for (struct events_sub *s = ev->subs; s; s = s->next) {
        if (!s->parked) continue;
        if (sub_matches(s, it)) {
            s->parked = false;
            s->wake(s->ctx);
        } else if (s->cursor + 1 == it->id) {
            s->cursor = it->id;   /* read: it would have skipped it */
        }
    }
}

static void publish(struct events *ev, struct events_item *it)
{
    if (!it) return;
    pthread_mutex_lock(&ev->mu);
    push_locked(ev, it);
    pthread_mutex_unlock(&ev->mu);
}

/* ------------------------------------------------------------------ rendering the fields */

/* An event is rendered straight into its allocation: the text starts with room for the header, then
 * the data ("{" + timeMs + members + "}"), then ns and service; jt_item makes it an event. */
static void jt_begin(struct json_text *t, int64_t time_ms)
{
    static const struct events_item room;
    json_text_reserve(t, 512);
    json_text_raw(t, (const char *)&room, sizeof room);
    JSON_TEXT_LIT(t, "{\"timeMs\":");
    json_text_int(t, time_ms);
}

/* A member's prefix as one literal (",\"key\":"), copied in one go. */
#define KEY(k) ",\"" k "\":"
#define JT_KEY(t, k) json_text_raw((t), KEY(k), sizeof(KEY(k)) - 1)
#define JT_STR(t, k, v) jt_str((t), KEY(k), sizeof(KEY(k)) - 1, (v))
#define JT_INT(t, k, v) jt_int((t), KEY(k), sizeof(KEY(k)) - 1, (v))
#define JT_BOOL(t, k, v) jt_bool((t), KEY(k), sizeof(KEY(k)) - 1, (v))

static void jt_str(struct json_text *t, const char *key, size_t n, const char *v)
{
    if (!v) return;
    json_text_raw(t, key, n);
    json_text_string(t, v);
}

static void jt_int(struct json_text *t, const char *key, size_t n, long long v)
{
    json_text_raw(t, key, n);
    json_text_int(t, v);
}

static void jt_bool(struct json_text *t, const char *key, size_t n, bool v)
{
    json_text_raw(t, key, n);
    if (v) JSON_TEXT_LIT(t, "true");
    else JSON_TEXT_LIT(t, "false");
}

/* The fields every instance event has: where it is and which one. */
static void jt_instance_key(struct json_text *t, const char *ns, const char *service, const char *instance_id,
                            const char *cluster, const char *ip, int port)
{
    JT_STR(t, "namespaceId", ns);
    JT_STR(t, "serviceName", service);
    JT_STR(t, "instanceId", instance_id);
    JT_STR(t, "ip", ip);
    JT_INT(t, "port", port);
    JT_STR(t, "clusterName", cluster);
}

/* Closes t's data and makes t's allocation the event (NULL when out of memory: t freed). */
static struct events_item *jt_item(struct json_text *t, enum event_kind kind, const char *ns, const char *service)
{
    JSON_TEXT_LIT(t, "}");
    size_t len = t->len - sizeof(struct events_item);
    json_text_raw(t, "", 1);
    size_t ns_at = t->len;
    if (ns) json_text_raw(t, ns, strlen(ns) + 1);
    size_t service_at = t->len;
    if (service) json_text_raw(t, service, strlen(service) + 1);
    if (t->oom) {
        free(t->p);
        return NULL;
    }
    char *fit = realloc(t->p, t->len);   /* the ring holds thousands: only what is used */
    if (fit) t->p = fit;
    struct events_item *it = (struct events_item *)(void *)t->p;
    it->kind = kind;
    it->data = t->p + sizeof *it;
    it->len = len;
    it->ns = ns ? t->p + ns_at : NULL;
    it->service = service ? t->p + service_at : NULL;
    return it;
}

/* ------------------------------------------------------------------ emitters */

uint64_t events_emit(struct events *ev, enum event_kind kind, int64_t time_ms, const char *ns, const char *service,
                     const char *fields, size_t len)
{
    if (!events_on(ev)) return 0;
    struct json_text t = {0};
    jt_begin(&t, time_ms);
    json_text_raw(&t, fields, len);
    struct events_item *it = jt_item(&t, kind, ns, service);
    if (!it) return 0;
    pthread_mutex_lock(&ev->mu);
    push_locked(ev, it);
    uint64_t id = it->id;
    pthread_mutex_unlock(&ev->mu);
    return id;
}

static struct events_item *instance_item(enum event_kind kind, int64_t time_ms, const struct instance_rec *r,
                                         const char *connection_id, const char *reason)
{
    struct json_text t = {0};
    jt_begin(&t, time_ms);
    jt_instance_key(&t, r->ns, r->service, r->instance_id, r->cluster, r->ip, r->port);
    JT_KEY(&t, "weight");
    json_text_double(&t, r->weight);
    JT_BOOL(&t, "healthy", r->healthy);
    JT_BOOL(&t, "enabled", r->enabled);
    JT_BOOL(&t, "ephemeral", r->ephemeral);
    JT_BOOL(&t, "marked", r->marked);
    JT_KEY(&t, "metadata");
    if (r->metadata && r->metadata[0] == '{') json_text_raw(&t, r->metadata, strlen(r->metadata));
    else JSON_TEXT_LIT(&t, "{}");
    JT_STR(&t, "app", r->app);
    JT_INT(&t, "lastBeatMs", r->last_beat_ms);
    JT_INT(&t, "registeredMs", r->registered_ms);
    JT_INT(&t, "heartBeatIntervalMs", r->hb_interval_ms);
    JT_INT(&t, "heartBeatTimeoutMs", r->hb_timeout_ms);
    JT_INT(&t, "ipDeleteTimeoutMs", r->delete_timeout_ms);
    JT_STR(&t, "connectionId", connection_id);
    JT_STR(&t, "reason", reason);
    return jt_item(&t, kind, r->ns, r->service);
}

void events_instance(struct events *ev, enum event_kind kind, int64_t time_ms, const struct instance_rec *r,
                     const char *connection_id, const char *reason)
{
    if (events_on(ev)) publish(ev, instance_item(kind, time_ms, r, connection_id, reason));
}

void events_instance_key(struct events *ev, enum event_kind kind, int64_t time_ms, const char *ns,
                         const char *service, const char *cluster, const char *ip, int port, bool ephemeral,
                         const char *reason)
{
    if (!events_on(ev)) return;
    struct json_text t = {0};
    jt_begin(&t, time_ms);
    jt_instance_key(&t, ns, service, NULL, cluster, ip, port);
    JT_BOOL(&t, "ephemeral", ephemeral);
    JT_STR(&t, "reason", reason);
    publish(ev, jt_item(&t, kind, ns, service));
}

void events_registry(struct events *ev, enum event_kind kind, int64_t time_ms, const char *ns, const char *service,
                     const char *reason, long count)
{
    if (!events_on(ev)) return;
    struct json_text t = {0};
    jt_begin(&t, time_ms);
    JT_STR(&t, "namespaceId", ns);
    JT_STR(&t, "serviceName", service);
    JT_STR(&t, "reason", reason);
    if (count >= 0) JT_INT(&t, "count", count);
    publish(ev, jt_item(&t, kind, ns, service));
}

static struct events_item *health_item(int64_t time_ms, const char *ns, const char *service,
                                       const char *instance_id, const char *cluster, const char *ip, int port,
                                       const char *from, const char *to, int64_t since_beat_ms)
{
    struct json_text t = {0};
    jt_begin(&t, time_ms);
    jt_instance_key(&t, ns, service, instance_id, cluster, ip, port);
    JT_STR(&t, "from", from);
    JT_STR(&t, "to", to);
    JT_INT(&t, "sinceLastBeatMs", since_beat_ms);
    return jt_item(&t, EV_HEALTH, ns, service);
}

void events_health(struct events *ev, int64_t time_ms, const char *ns, const char *service, const char *instance_id,
                   const char *cluster, const char *ip, int port, const char *from, const char *to,
                   int64_t since_beat_ms)
{
    if (events_on(ev))
        publish(ev, health_item(time_ms, ns, service, instance_id, cluster, ip, port, from, to, since_beat_ms));
}

static const char *drop_name(enum reply_drop d)
{
    return d == DROP_RESET ? "reset" : d == DROP_CLOSE ? "close" : d == DROP_HANG ? "hang" : NULL;
}

void events_fault(struct events *ev, int64_t time_ms, const char *transport, const struct fault_request *r,
                  const struct fault_hit *hit)
{
    if (!events_on(ev)) return;
    char grouped[GROUPED_MAX];
    const char *service = NULL;
    if (r->service) {
        snprintf(grouped, sizeof grouped, "%s" GROUP_SEP "%s", r->group ? r->group : DEFAULT_GROUP, r->service);
        service = grouped;
    }
    struct json_text t = {0};
    jt_begin(&t, time_ms);
    JT_STR(&t, "ruleId", hit->id);
    JT_STR(&t, "api", r->api);
    JT_STR(&t, "transport", r->transport ? r->transport : transport);
    JT_STR(&t, "method", r->method);
    JT_STR(&t, "path", r->path);
    JT_STR(&t, "namespaceId", r->ns);
    JT_STR(&t, "serviceName", service);
    JT_STR(&t, "clusterName", r->cluster);
    JT_STR(&t, "ip", r->ip);
    if (r->port) JT_INT(&t, "port", r->port);
    struct json_text a = {0};   /* the action's members, each after a comma */
    if (hit->status) JT_INT(&a, "status", hit->status);
    if (hit->delay_ms) JT_INT(&a, "delayMs", hit->delay_ms);
    JT_STR(&a, "drop", drop_name(hit->drop));
    if (hit->beat_code) JT_INT(&a, "beatCode", hit->beat_code);
    if (hit->grpc_status) JT_INT(&a, "grpcStatus", hit->grpc_status);
    JSON_TEXT_LIT(&t, ",\"action\":{");
    if (a.len) json_text_raw(&t, a.p + 1, a.len - 1);
    JSON_TEXT_LIT(&t, "}");
    t.oom |= a.oom;
    free(a.p);
    publish(ev, jt_item(&t, EV_FAULT, r->ns, service));
}

void events_connection(struct events *ev, int64_t time_ms, const char *state, const char *id, int node,
                       const char *remote, long removed)
{
    if (!events_on(ev)) return;
    struct json_text t = {0};
    jt_begin(&t, time_ms);
    JT_STR(&t, "state", state);
    JT_STR(&t, "id", id);
    JT_INT(&t, "node", node);
    JT_STR(&t, "remoteAddr", remote);
    if (removed >= 0) JT_INT(&t, "removed", removed);
    publish(ev, jt_item(&t, EV_CONNECTION, NULL, NULL));
}

void events_status(struct events *ev, int64_t time_ms, const char *from, const char *to)
{
    if (!events_on(ev)) return;
    struct json_text t = {0};
    jt_begin(&t, time_ms);
    JT_STR(&t, "status", to);
    JT_STR(&t, "from", from);
    publish(ev, jt_item(&t, EV_STATUS, NULL, NULL));
}

void events_node_status(struct events *ev, int64_t time_ms, int node, const char *from, const char *to)
{
    if (!events_on(ev)) return;
    struct json_text t = {0};
    jt_begin(&t, time_ms);
    JT_STR(&t, "status", to);
    JT_STR(&t, "from", from);
    JT_INT(&t, "node", node);
    publish(ev, jt_item(&t, EV_STATUS, NULL, NULL));
}

void events_config(struct events *ev, int64_t time_ms, const char *ns, const char *group, const char *data_id,
                   const char *md5, const char *action, const char *transport)
{
    if (!events_on(ev)) return;
    struct json_text t = {0};
    jt_begin(&t, time_ms);
    JT_STR(&t, "namespaceId", ns && *ns ? ns : DEFAULT_NAMESPACE);
    JT_STR(&t, "group", group);
    JT_STR(&t, "dataId", data_id);
    JT_STR(&t, "md5", md5);
    JT_STR(&t, "action", action);
    JT_STR(&t, "transport", transport ? transport : "http");
    publish(ev, jt_item(&t, EV_CONFIG, ns, NULL));
}

void events_clock(struct events *ev, int64_t time_ms, int64_t offset_ms, int64_t advanced_ms)
{
    if (!events_on(ev)) return;
    struct json_text t = {0};
    jt_begin(&t, time_ms);
    JT_INT(&t, "offsetMs", offset_ms);
    JT_INT(&t, "advancedMs", advanced_ms);
    publish(ev, jt_item(&t, EV_CLOCK, NULL, NULL));
}

/* ------------------------------------------------------------------ batches */

void events_batch_transition(struct events_batch *b, struct events *ev, int64_t time_ms, const struct instance_rec *r,
                             const char *from, const char *to, int64_t since_beat_ms)
{
    if (!events_on(ev) || util_grow((void **)&b->v, &b->cap, b->n, sizeof *b->v)) return;
    struct events_item *it;
    if (strcmp(to, "REMOVED")) {
        it = health_item(time_ms, r->ns, r->service, r->instance_id, r->cluster, r->ip, r->port, from, to,
                         since_beat_ms);
    } else {
        struct json_text t = {0};
        jt_begin(&t, time_ms);
        jt_instance_key(&t, r->ns, r->service, r->instance_id, r->cluster, r->ip, r->port);
        JT_BOOL(&t, "ephemeral", r->ephemeral);
        JT_STR(&t, "from", from);
        JT_INT(&t, "sinceLastBeatMs", since_beat_ms);
        JT_STR(&t, "reason", "expired");
        it = jt_item(&t, EV_REMOVED, r->ns, r->service);
    }
    if (it) b->v[b->n++] = it;
}

void events_batch_publish(struct events *ev, struct events_batch *b)
{
    if (!b->n) return;
    pthread_mutex_lock(&ev->mu);
    for (size_t i = 0; i < b->n; i++) push_locked(ev, b->v[i]);
    pthread_mutex_unlock(&ev->mu);
    b->n = 0;
}

void events_batch_discard(struct events_batch *b)
{
    for (size_t i = 0; i < b->n; i++) free(b->v[i]);
    b->n = 0;
}

void events_batch_free(struct events_batch *b)
{
    events_batch_discard(b);
    free(b->v);
    memset(b, 0, sizeof *b);
}

/* ------------------------------------------------------------------ readers */

struct events_sub *events_subscribe(struct events *ev, const struct events_filter *f, uint64_t since,
                                    events_wake_fn wake, void *ctx, bool *gap)
{
    struct events_sub *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    if (f->service && !(s->service = strdup(f->service))) {
        free(s);
        return NULL;
    }
    s->ev = ev;
    s->kinds = f->kinds;
    s->wake = wake;
    s->ctx = ctx;
    bool lost = false;
    pthread_mutex_lock(&ev->mu);
    if (!ev->ring && !(ev->ring = calloc(EVENTS_RING, sizeof *ev->ring))) {
        pthread_mutex_unlock(&ev->mu);
        free(s->service);
        free(s);
        return NULL;
    }
    atomic_store(&ev->on, true);
    uint64_t oldest = ev->head - ev->count + 1;
    if (since == EVENTS_SINCE_NOW) {
        s->cursor = ev->head;
    } else if (since > ev->head) {   /* an id this process never gave */
        s->cursor = ev->head;
        lost = true;
    } else if (since + 1 < oldest) {   /* partly overwritten: replay what is left */
        s->cursor = oldest - 1;
        lost = true;
    } else {
        s->cursor = since;
    }
    s->next = ev->subs;
    if (ev->subs) ev->subs->prev = s;
    ev->subs = s;
    pthread_mutex_unlock(&ev->mu);
    if (gap) *gap = lost;
    return s;
}

void events_unsubscribe(struct events_sub *s)
{
    if (!s) return;
    struct events *ev = s->ev;
    pthread_mutex_lock(&ev->mu);
    if (s->prev) s->prev->next = s->next;
    else ev->subs = s->next;
    if (s->next) s->next->prev = s->prev;
    pthread_mutex_unlock(&ev->mu);
    free(s->service);
    free(s);
}

long events_take(struct events_sub *s, events_take_fn take, void *ctx, events_park_fn park)
{
    struct events *ev = s->ev;
    long n = 0;
    pthread_mutex_lock(&ev->mu);
    if (s->cursor + ev->count < ev->head) {   /* the next unread was overwritten */
        pthread_mutex_unlock(&ev->mu);
        return EVENTS_LOST;
    }
    while (s->cursor < ev->head) {
        const struct events_item *it = ev->ring[(s->cursor + 1) % EVENTS_RING];
        if (sub_matches(s, it)) {
            if (take(ctx, it->id, it->kind, it->data, it->len)) break;
            n++;
        }
        s->cursor++;
    }
    if (!n && park && s->cursor == ev->head) s->parked = park(ctx);
    pthread_mutex_unlock(&ev->mu);
    return n;
}

bool events_poke(struct events_sub *s)
{
    struct events *ev = s->ev;
    pthread_mutex_lock(&ev->mu);
    bool was = s->parked;
    if (was) {
        s->parked = false;
        s->wake(s->ctx);
    }
    pthread_mutex_unlock(&ev->mu);
    return was;
}

uint64_t events_sub_cursor(struct events_sub *s)
{
    pthread_mutex_lock(&s->ev->mu);
    uint64_t c = s->cursor;
    pthread_mutex_unlock(&s->ev->mu);
    return c;
}
