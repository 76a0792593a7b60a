/*
 * app.c — wiring of the context: store, clock, listener, and the change hook (see app.h).
 */
#include "nacos_mock/app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nacos_mock/http.h"
#include "nacos_mock/log.h"
#include "nacos_mock/push.h"
#include "nacos_mock/sweeper.h"
#include "nacos_mock/store.h"

static const char *const STATUS_NAMES[] = {"UP", "DOWN", "STARTING", "PAUSED", "WRITE_ONLY", "READ_ONLY"};

const char *app_status_name(int status)
{
    if (status < 0 || status >= (int)(sizeof STATUS_NAMES / sizeof STATUS_NAMES[0])) return "UNKNOWN";
    return STATUS_NAMES[status];
}

int app_status_parse(const char *s)
{
    for (int i = 0; s && i < (int)(sizeof STATUS_NAMES / sizeof STATUS_NAMES[0]); i++)
        if (strcasecmp(s, STATUS_NAMES[i]) == 0) return i;
    return -1;
}

int app_init(struct app *app, const struct config *cfg, char *err, size_t errlen)
{
    memset(app, 0, sizeof *app);
    app->cfg = cfg;
    pthread_mutex_init(&app->mu, NULL);
    clock_init(&app->clock);
    atomic_store(&app->status, STATUS_UP);
    app->started_ms = clock_real_ms();
    app->store = store_open(cfg->db_path, err, errlen);
    if (!app->store) return -1;
    return 0;
}

int app_start(struct app *app, char *err, size_t errlen)
{
    if (!(app->push = push_start(app, err, errlen))) return -1;
    if (!(app->sweeper = sweeper_start(app))) {
        snprintf(err, errlen, "cannot start the health sweeper thread");
        return -1;
    }
    app->http = http_start(app, err, errlen);
    return app->http ? 0 : -1;
}

int app_port(const struct app *app) { return http_port(app->http); }

void app_stop(struct app *app)
{
    http_stop(app->http);   /* answers requests in flight, then joins the workers */
    app->http = NULL;
    sweeper_stop(app->sweeper);
    app->sweeper = NULL;
    push_stop(app->push);
    app->push = NULL;
}

void app_free(struct app *app)
{
    app_stop(app);
    store_close(app->store);
    app->store = NULL;
    pthread_mutex_destroy(&app->mu);
}

void app_service_changed(struct app *app, int64_t service_id, const char *ns, const char *service)
{
    if (service_id) store_service_touch(app->store, service_id, clock_now_ms(&app->clock));
    push_service_changed(app->push, ns, service);
}
