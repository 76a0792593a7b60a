/*
 * server.c — the wiring: context, threads and listeners, in order (see server.h).
 */
#include "nacos_mock/server.h"

#include <stdio.h>
#include <string.h>

#include "nacos_mock/http.h"
#include "nacos_mock/push.h"
#include "nacos_mock/registry.h"
#include "nacos_mock/sweeper.h"

int server_init(struct server *s, const struct config *cfg, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->app_ready = true;   /* app_free copes with a half-built context */
    if (app_init(&s->app, cfg, err, errlen)) return -1;
    if (cfg->fixtures_file && registry_load_file(&s->app, cfg->fixtures_file, err, errlen)) return -1;
    return 0;
}

int server_start(struct server *s, char *err, size_t errlen)
{
    struct app *app = &s->app;
    const struct config *cfg = app->cfg;
    if (!(s->push = push_start(app, err, errlen))) return -1;
    if (!(s->sweeper = sweeper_start(app))) {
        snprintf(err, errlen, "cannot start the health sweeper thread");
        return -1;
    }
    if (!(s->http = http_start(app, cfg->host, cfg->port, 0, err, errlen))) return -1;
    atomic_store(&app->http_port, http_port(s->http));
    return 0;
}

int server_http_port(const struct server *s) { return http_port(s->http); }
int server_grpc_port(const struct server *s) { return atomic_load(&s->app.grpc_port); }

void server_stop(struct server *s)
{
    http_stop(s->http);   /* answers requests in flight, then joins the workers */
    s->http = NULL;
    sweeper_stop(s->sweeper);
    s->sweeper = NULL;
    push_stop(s->push);
    s->push = NULL;
    memset(&s->app.transport, 0, sizeof s->app.transport);
    atomic_store(&s->app.http_port, 0);
    atomic_store(&s->app.grpc_port, 0);
}

void server_free(struct server *s)
{
    server_stop(s);
    if (s->app_ready) app_free(&s->app);
    s->app_ready = false;
}
