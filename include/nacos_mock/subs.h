/*
 * subs — who is told when a service changes, and which changes wait to be told. Two kinds of
 * subscriber share one registry and one queue of changes, so a change made anywhere (v1 HTTP, gRPC,
 * the sweeper, the control plane) reaches both:
 *   - UDP subscribers (nacos-api.md §4): a v1 `instance/list` with udpPort > 0 from a push-capable
 *     client subscribes the HTTP peer address (never the clientIP parameter) at that port for
 *     (namespace, service, clusters); it lapses after SUBS_UDP_TTL_MS of real time without a
 *     refreshing list call;
 *   - connection subscribers (grpc-api.md §4): a gRPC SubscribeService subscribes its connection
 *     (an opaque serial) until it unsubscribes or the connection ends.
 * A change of (namespace, service) with at least one subscriber is queued once (coalesced) and the
 * push thread (push.c) is woken through an eventfd; SUBS_COALESCE_MS later it takes the due jobs —
 * one per subscriber of each changed service — renders and sends them.
 *
 * This module holds data only (no sockets, no threads), so request handlers below the push thread
 * can subscribe without calling up into it.
 * Threading: own mutex, a leaf taken briefly (handlers call in with app->mu held: app->mu → subs).
 * Ownership: jobs handed out are owned by the caller (subs_jobs_free).
 */
#ifndef NACOS_MOCK_SUBS_H
#define NACOS_MOCK_SUBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define SUBS_COALESCE_MS 50
#define SUBS_UDP_TTL_MS 30000

struct subs;

struct subs *subs_create(void);
void subs_free(struct subs *s);

/* ---- UDP subscribers. Records or refreshes (at monotonic ms now_mono); true when taken (the list then
 * answers cacheMillis 10000): a push-capable User-Agent, a port, an IP peer. */
bool subs_add_udp(struct subs *s, const char *ns, const char *service, const char *clusters,
                  const struct sockaddr_storage *peer, int udp_port, const char *user_agent, int64_t now_mono);
/* Drops UDP subscriptions (ns / service NULL = any), as a restarted server loses them; how many. */
long subs_forget_udp(struct subs *s, const char *ns, const char *service);

/* ---- connection subscribers: one per (connection, namespace, service), as in Nacos (a client's
 * subscribers are a map by service): it is pushed once per change, rendered for its clusters */
/* Subscribes connection `conn`; subscribing again replaces the clusters. 0, or -1 out of memory. */
int subs_add_conn(struct subs *s, uint64_t conn, const char *ns, const char *service, const char *clusters);
/* 0 removed, 1 there was no such subscription (whatever clusters it was made with). */
int subs_remove_conn(struct subs *s, uint64_t conn, const char *ns, const char *service);
/* Every subscription of the connection goes (it ended); how many. */
long subs_drop_conn(struct subs *s, uint64_t conn);
long subs_count_conn(struct subs *s, uint64_t conn);
/* The subscriptions of `conn` as (ns, service, clusters) triples, for views; calls cb for each. */
void subs_foreach_conn(struct subs *s, uint64_t conn, void (*cb)(void *ctx, const char *ns, const char *service,
                                                                const char *clusters), void *ctx);

/* ---- changes */
/* (ns, service) changed: queued for its subscribers (once, however often it changes before the push
 * thread takes it) and the push thread woken. Cheap; a no-op without subscribers, and without a lock
 * when nobody subscribes to anything. */
void subs_changed(struct subs *s, const char *ns, const char *service);
/* The eventfd the push thread polls (readable after subs_changed). */
int subs_wake_fd(const struct subs *s);

enum subs_kind { SUBS_UDP, SUBS_CONN };
struct subs_job {
    enum subs_kind kind;
    char *ns, *service, *clusters;     /* one allocation, owned through ns */
    struct sockaddr_storage addr;       /* SUBS_UDP */
    socklen_t alen;
    bool java_ge_1;                     /* SUBS_UDP: the subscriber's answer shape */
    uint64_t conn;                      /* SUBS_CONN */
};
/* For the push thread at monotonic ms now_mono: expires lapsed UDP subscriptions and, once the
 * coalescing delay of the queued changes is over, hands out one job per subscriber of each (caller
 * frees with subs_jobs_free). *wait_ms gets how long until queued changes are due (INT32_MAX: none). */
size_t subs_take_due(struct subs *s, int64_t now_mono, struct subs_job **jobs, int64_t *wait_ms);
void subs_jobs_free(struct subs_job *jobs, size_t n);

struct subs_stats { long udp, conn; };
void subs_get_stats(struct subs *s, struct subs_stats *out);

#endif
