/*
 * app — the one context passed explicitly everywhere: configuration, the registry lock and store,
 * the virtual clock, server status and (as they land) sweeper, faults, journal and push.
 * There are no mutable globals except main's stop flag, so a test can run two servers in one
 * process.
 *
 * Threading: `mu` guards the store and every registry decision. libmicrohttpd workers take it in
 * routes_dispatch; the sweeper takes it for one sweep. Nothing does network I/O while holding it.
 */
#ifndef NACOS_MOCK_APP_H
#define NACOS_MOCK_APP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "nacos_mock/auth.h"
#include "nacos_mock/clock.h"
#include "nacos_mock/config.h"

struct store;
struct http_server;
struct push;
struct sweeper;
struct faults;
struct journal;
struct metrics;
struct list_cache;
struct cs_core;

enum server_status { STATUS_UP = 0, STATUS_DOWN, STATUS_STARTING, STATUS_PAUSED, STATUS_WRITE_ONLY,
                     STATUS_READ_ONLY };

struct app {
    const struct config *cfg;
    pthread_mutex_t mu;
    struct store *store;
    struct nm_clock clock;
    struct http_server *http;
    struct push *push;             /* UDP push to subscribers; own lock (after mu) */
    struct sweeper *sweeper;       /* health sweeper thread */
    struct faults *faults;         /* fault rules; own lock */
    struct journal *journal;       /* request journal; own lock */
    struct metrics *metrics;       /* request counters; own lock */
    struct list_cache *list_cache; /* rendered instance/list answers; under mu */
    struct cs_core *cs;            /* the config center (cs_core.h); own lock, after mu */
    struct auth auth;              /* --auth emulation; read-only after init */
    _Atomic int status;            /* enum server_status */
    int64_t started_ms;
};

/* Opens the store and prepares everything but the listener. Returns 0, or -1 with err filled. */
int app_init(struct app *app, const struct config *cfg, char *err, size_t errlen);
/* Adds the fault rules given at start (--fault, --faults); used by app_init. 0 or -1 with err. */
int app_load_start_faults(struct app *app, char *err, size_t errlen);
/* Starts listening (and background threads). 0 or -1 with err. */
int app_start(struct app *app, char *err, size_t errlen);
/* The bound port (after app_start). */
int app_port(const struct app *app);
/* Stops listening and background threads, answers nothing more; then frees everything. */
void app_stop(struct app *app);
void app_free(struct app *app);

/* Rolls back any open transaction and answers 500 `caused: registry store error: <sqlite message>;`. */
struct reply;
void app_reply_store_error(struct app *app, struct reply *rep);

const char *app_status_name(int status);
int app_status_parse(const char *s);

/* Called (with mu held) after any change of a service's instances, health or threshold, at virtual
 * time now_ms: bumps the service revision and keeps its empty-since time (service_id 0 = the
 * service is gone), and wakes the subscribers of (ns, service). */
void app_service_changed(struct app *app, int64_t now_ms, int64_t service_id, const char *ns, const char *service);
/* Its first half for n services at once: the revision bumps and empty-since times alone (0 ok, -1
 * store error), for a caller that wakes the subscribers itself once its transaction has committed
 * (the sweeper). */
int app_services_touch(struct app *app, int64_t now_ms, const int64_t *ids, size_t n);

#endif
