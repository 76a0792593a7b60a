/*
 * sse — GET /__mock/events as Server-Sent Events over libmicrohttpd (control-api.md "Events
 * stream"): the HTTP half of the events module (events.h). http.c hands a request whose reply says
 * `stream` to sse_start; everything else about streams lives here.
 *
 * A stream is a chunked response whose content reader copies the subscription's new events into
 * libmicrohttpd's write buffer. With nothing to send, the reader suspends its connection and
 * returns 0 (the pattern microhttpd.h prescribes for "no data yet"): a waiting stream holds no
 * worker thread and is not polled, so open streams cost nothing to other requests. The next event
 * that matches its filter resumes it from the emitting thread (events.h wake); a keeper thread per
 * hub resumes idle streams every keepAliveMs (default 15 s) to send an SSE comment, which keeps
 * proxies and libmicrohttpd's 60 s connection timeout from cutting an idle stream and finds peers
 * that left (a suspended connection does not see its peer go; a write does).
 *
 * Wire format, per event: `id: N`, `event: <kind>`, `data: <one JSON object>`, blank line. The
 * stream opens with `retry: 1000` and a comment naming the last id. Two events carry no id:
 * `gap` first when the replay asked for (Last-Event-ID or since) is no longer complete, and
 * `overflow` last when the reader fell more than EVENTS_RING events behind (a slow reader): then
 * the stream ends and the client should reload its state. A reader that reads nothing at all is
 * closed by libmicrohttpd's connection timeout (60 s without progress).
 *
 * Threading: the reader runs on libmicrohttpd's worker threads; wakes come from any thread that
 * emits. Lock order: hub lock → events lock; libmicrohttpd's own locks after both.
 * Ownership: a stream belongs to its libmicrohttpd response and is freed with it.
 */
#ifndef NACOS_MOCK_SSE_H
#define NACOS_MOCK_SSE_H

#include <microhttpd.h>

#include "nacos_mock/console.h"   /* struct events_request: what a stream was asked for; EVENTS_KEEPALIVE_MS */

struct app;
struct reply;
struct sse_hub;

#define SSE_RETRY_MS 1000

/* A listener keeps its streams in a hub, `*hub` (NULL at first: the first stream makes it, so a
 * listener nobody streams from has no keeper thread).
 *
 * Answers the request on c with the stream that rep->stream (a struct events_request, console.h)
 * describes, taking it from rep. Last-Event-ID (may be NULL; a number) wins over its `since`.
 * Returns what the access handler returns (a 503 once the listener stops). */
enum MHD_Result sse_start(struct sse_hub *_Atomic *hub, struct app *app, struct MHD_Connection *c, struct reply *rep,
                          const char *last_event_id);
/* Ends every stream at once (their readers return the end of the stream) and refuses new ones. Call
 * before MHD_stop_daemon: libmicrohttpd must not be stopped with suspended connections. */
void sse_stop(struct sse_hub *_Atomic *hub);
/* After MHD_stop_daemon (every stream is gone by then). */
void sse_free(struct sse_hub *_Atomic *hub);

#endif
