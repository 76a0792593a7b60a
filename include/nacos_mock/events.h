/*
 * events — what happens in the mock, as it happens (control-api.md "Events stream"): registrations,
 * deregistrations, updates, health transitions, removals, fault hits, gRPC connections, status,
 * config and clock changes. Each is emitted once, where it happens, into a bounded ring: an id (a
 * sequence number, the SSE `id:`), a kind, the virtual time, the namespace and grouped service it is
 * about (for filters) and its fields as one JSON object text, rendered at emit time by hand
 * (json_text), so a reader only copies bytes. The HTTP side (sse.c) turns subscriptions into
 * Server-Sent Events; this module knows nothing of HTTP.
 *
 * Recording starts with the first subscription and stays on for the life of the process. Until
 * then every emitter returns after one relaxed atomic load: a process nobody watches pays nothing on
 * its hot paths (every register, the beat that restores health, sweeps of 100,000 instances).
 * Replays (`since`, Last-Event-ID) cover what was recorded and is still in the ring.
 *
 * A reader is a subscription: a cursor (the last id it took) and a filter. It takes what is new with
 * events_take; when nothing is, it may park, and the next event that matches its filter (or
 * events_poke) calls its wake callback once. A subscription whose unread events were overwritten —
 * more than EVENTS_RING behind — has lost them: events_take says EVENTS_LOST and the reader ends.
 *
 * Threading: one mutex, taken after app->mu (emitters may hold it). Wake and park callbacks run
 * under it and may only signal (MHD_resume_connection / MHD_suspend_connection do).
 * Ownership: the ring owns its events; emitters' strings are copied.
 * Dependencies: none upward — records.h (instance views), faults.h (a fault hit), reply.h (json_text).
 */
#ifndef NACOS_MOCK_EVENTS_H
#define NACOS_MOCK_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nacos_mock/faults.h"
#include "nacos_mock/records.h"

#define EVENTS_RING 4096               /* events kept for replays; also how far behind a reader may fall */
#define EVENTS_SINCE_NOW UINT64_MAX    /* subscribe to new events only */
#define EVENTS_LOST (-1)

enum event_kind {
    EV_REGISTERED,    /* an instance registered (or re-registered); a service created; a snapshot loaded */
    EV_DEREGISTERED,  /* an instance deregistered by its client */
    EV_UPDATED,       /* an instance or a service updated */
    EV_HEALTH,        /* an instance's health changed: from, to, sinceLastBeatMs */
    EV_REMOVED,       /* instances went without their client asking: expired, connection closed,
                         service deleted, forget, reset, empty services collected */
    EV_FAULT,         /* a fault rule fired */
    EV_CONNECTION,    /* a gRPC connection opened or closed */
    EV_STATUS,        /* the server status changed */
    EV_CONFIG,        /* a configuration changed (config center) */
    EV_CLOCK,         /* the virtual clock was advanced */
    EV_KINDS
};

/* "registered", "health", ...; NULL for an unknown kind. */
const char *events_kind_name(enum event_kind k);
/* The kind named by the n bytes at s, -1 when no kind has that name. */
int events_kind_parse(const char *s, size_t n);

struct events;

/* NULL when out of memory. Nothing is recorded until the first subscription. */
struct events *events_create(void);
/* Frees the ring; every subscription must have been dropped. */
void events_free(struct events *ev);
/* Is anything recorded (has anyone subscribed)? One relaxed atomic load; false for NULL. */
bool events_on(const struct events *ev);
/* The id of the newest event (0 before the first). */
uint64_t events_last_id(struct events *ev);

/* ---- emitting. Every function is a no-op while events_on is false (and for ev NULL). time_ms is
 * the virtual time; ns/service (grouped) say what the event is about, for filters (NULL: about no
 * service). Strings are copied. */

/* An event whose fields the caller rendered: `fields` are JSON object members, each preceded by a
 * comma (",\"a\":1,\"b\":\"x\""; "" for none), appended after "timeMs". Returns its id, 0 when not
 * recorded. */
uint64_t events_emit(struct events *ev, enum event_kind kind, int64_t time_ms, const char *ns, const char *service,
                     const char *fields, size_t len);
/* An instance as the store has it (r: a view; ns and service set): registered, updated,
 * deregistered or removed, with every field of GET /__mock/registry's instances. connection_id and
 * reason may be NULL. */
void events_instance(struct events *ev, enum event_kind kind, int64_t time_ms, const struct instance_rec *r,
                     const char *connection_id, const char *reason);
/* An instance known by its key only (it is gone): deregistered, or removed for `reason`. */
void events_instance_key(struct events *ev, enum event_kind kind, int64_t time_ms, const char *ns,
                         const char *service, const char *cluster, const char *ip, int port, bool ephemeral,
                         const char *reason);
/* A service, or a whole part of the registry, as one event without an instanceId: registered
 * (service created, snapshot loaded), updated (service updated), removed (service deleted, forget,
 * reset, empty services collected). service NULL: every service (of ns, or every namespace when ns
 * is NULL too). count: how many instances (services, for empty services collected), < 0 unsaid. */
void events_registry(struct events *ev, enum event_kind kind, int64_t time_ms, const char *ns, const char *service,
                     const char *reason, long count);
/* A health transition: from/to "HEALTHY" | "UNHEALTHY". */
void events_health(struct events *ev, int64_t time_ms, const char *ns, const char *service, const char *instance_id,
                   const char *cluster, const char *ip, int port, const char *from, const char *to,
                   int64_t since_beat_ms);
/* A fault rule fired for request r on `transport` ("http", "grpc"; r->transport wins when set). */
void events_fault(struct events *ev, int64_t time_ms, const char *transport, const struct fault_request *r,
                  const struct fault_hit *hit);
/* A gRPC connection: state "opened" or "closed" (removed: instances that went with it). */
void events_connection(struct events *ev, int64_t time_ms, const char *state, const char *id, int node,
                       const char *remote, long removed);
void events_status(struct events *ev, int64_t time_ms, const char *from, const char *to);
/* One node's own status changed (PUT /__mock/nodes/{i}, or its forMs ran out): a `status` event with
 * `node`. */
void events_node_status(struct events *ev, int64_t time_ms, int node, const char *from, const char *to);
/* A configuration (namespace, group, dataId) changed: action "published" | "removed"; md5 may be NULL;
 * transport "http" | "grpc" | "control" (who changed it). */
void events_config(struct events *ev, int64_t time_ms, const char *ns, const char *group, const char *data_id,
                   const char *md5, const char *action, const char *transport);
/* The clock was advanced by advanced_ms (to offset_ms); the sweep that follows emits its own events. */
void events_clock(struct events *ev, int64_t time_ms, int64_t offset_ms, int64_t advanced_ms);

/* Events held back until a transaction commits (the sweeper emits only what it committed): collect
 * with events_batch_transition, then publish (one lock for all) or discard. Start zeroed ({0});
 * owned by its user, not thread-safe. */
struct events_batch {
    struct events_item **v;
    size_t n, cap;
};
/* A sweep verdict on r: to "UNHEALTHY" (a health event) or "REMOVED" (removed, reason "expired"). */
void events_batch_transition(struct events_batch *b, struct events *ev, int64_t time_ms, const struct instance_rec *r,
                             const char *from, const char *to, int64_t since_beat_ms);
void events_batch_publish(struct events *ev, struct events_batch *b);
void events_batch_discard(struct events_batch *b);
void events_batch_free(struct events_batch *b);

/* ---- reading */

struct events_filter {
    unsigned kinds;          /* bit (1u << kind) for each kind wanted; 0 = every kind */
    const char *service;     /* NULL = any (and events about no service); "svc" any group, "G@@svc" only G */
};

struct events_sub;
typedef void (*events_wake_fn)(void *ctx);
/* Takes one event; non-zero refuses it (no room): it stays unread and events_take stops. */
typedef int (*events_take_fn)(void *ctx, uint64_t id, enum event_kind kind, const char *data, size_t len);
/* Asked under the events lock when a reader has nothing to take: true when it parked (suspended
 * itself), false when it must not (it is closing, a keep-alive is due). */
typedef bool (*events_park_fn)(void *ctx);

/* Subscribes (turning recording on). since: replay the events after that id still in the ring;
 * EVENTS_SINCE_NOW: new events only. *gap (may be NULL) is set when the ring no longer holds every
 * event after since, or since is an id this process never gave (a client of an earlier process):
 * the reader should reload its state. wake(ctx): see events_take. The filter's service is copied.
 * NULL when out of memory. */
struct events_sub *events_subscribe(struct events *ev, const struct events_filter *f, uint64_t since,
                                    events_wake_fn wake, void *ctx, bool *gap);
/* Drops the subscription; no callback runs after it returns. */
void events_unsubscribe(struct events_sub *s);
/* Hands s's unread events that match its filter, oldest first, to take until it refuses one or none
 * is left; the events it skips or takes are read. Returns how many it took; EVENTS_LOST when unread
 * events were overwritten (nothing taken). When it took none and park is given, park(ctx) is asked
 * under the lock; if it parked, the next matching event (or events_poke) calls wake(ctx) once. */
long events_take(struct events_sub *s, events_take_fn take, void *ctx, events_park_fn park);
/* Wakes s now if it is parked (keep-alives, shutdown); true when it was. */
bool events_poke(struct events_sub *s);
/* The id of the last event s read. */
uint64_t events_sub_cursor(struct events_sub *s);

#endif
