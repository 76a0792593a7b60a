/*
 * push — the push thread: it takes the changes queued in subs.h once their coalescing delay is over
 * and, for each subscriber of each changed service, renders exactly what that subscriber's query
 * would answer now (naming_list.h) and sends it:
 *   - a UDP subscriber (nacos-api.md §4) gets `{"type":"dom","data":"<that JSON>","lastRefTime":N}`
 *     (gzip when >= PUSH_GZIP_MIN bytes), N a small increasing integer; acks (`push-ack`, lastRefTime
 *     as string or number) are matched, an unacknowledged packet is resent once after PUSH_RETRY_MS,
 *     then counted failed;
 *   - a gRPC subscriber gets the service's serviceInfo through app->transport.push_conns (the gRPC
 *     adapter wraps it in a NotifySubscriberRequest on the connection's bi-stream); the subscribers
 *     of a service with the same clusters share one rendering, handed to the transport once.
 * Fault rules with api "push" drop or delay either kind (`transport` tells them apart).
 *
 * Threading: its own thread; takes app->mu only to render (never while sending), p->mu (a leaf) for
 * the packets awaiting acks. Requests never wait for a send.
 */
#ifndef NACOS_MOCK_PUSH_H
#define NACOS_MOCK_PUSH_H

#include <stddef.h>

struct app;
struct push;

#define PUSH_RETRY_MS 10000
#define PUSH_GZIP_MIN 1024

/* Creates the UDP sockets and starts the thread (it reads app->subs). NULL with err on failure. */
struct push *push_start(struct app *app, char *err, size_t errlen);
void push_stop(struct push *p);
/* The local UDP port pushes are sent from (IPv4 socket), for tests. */
int push_local_port(struct push *p);

#endif
