/*
 * push — v1 UDP push to subscribers (nacos-api.md §4). A list request with udpPort > 0 from a
 * push-capable client subscribes the HTTP peer address (never the clientIP parameter) at that UDP
 * port for (namespace, service, clusters). A change of the service wakes the push thread, which —
 * after a short coalescing delay — renders for each subscriber exactly what its list request would
 * answer now and sends `{"type":"dom","data":"<that JSON>","lastRefTime":N}` (gzip when >= 1024
 * bytes), with N a small increasing integer. Acks (`push-ack`, lastRefTime as string or number) are
 * matched; an unacknowledged packet is resent once after PUSH_RETRY_MS, then counted failed.
 * Subscriptions lapse after PUSH_SUBSCRIPTION_TTL_MS of real time without a refreshing list call.
 *
 * Threading: own mutex. Lock order: app->mu before push->mu; the push thread never holds push->mu
 * while taking app->mu, and never holds either while sending. Requests never wait for a send.
 */
#ifndef NACOS_MOCK_PUSH_H
#define NACOS_MOCK_PUSH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct app;
struct push;

#define PUSH_COALESCE_MS 50
#define PUSH_RETRY_MS 10000
#define PUSH_SUBSCRIPTION_TTL_MS 30000
#define PUSH_GZIP_MIN 1024

struct push_stats {
    long subscribers, sent, acked, resent, failed, dropped;
};

/* Creates the UDP sockets and the thread. NULL with err on failure. */
struct push *push_start(struct app *app, char *err, size_t errlen);
void push_stop(struct push *p);

/* Records or refreshes a subscription; true when taken (then the list answers cacheMillis 10000).
 * Called with app->mu held. */
bool push_subscribe(struct push *p, const char *ns, const char *service, const char *clusters,
                    const struct sockaddr_storage *peer, int udp_port, const char *user_agent);
/* Schedules a push of (ns, service) to its subscribers. Cheap; called with app->mu held. */
void push_service_changed(struct push *p, const char *ns, const char *service);
/* Drops subscriptions (ns/service NULL = all) as a restarted server loses them; returns how many. */
long push_forget(struct push *p, const char *ns, const char *service);
void push_get_stats(struct push *p, struct push_stats *out);
/* The local UDP port pushes are sent from (IPv4 socket), for tests. */
int push_local_port(struct push *p);

#endif
