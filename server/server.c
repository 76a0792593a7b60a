/*
 * server.c — the wiring: context, threads and listeners, in order (see server.h).
 */
#include "nacos_mock/server.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "nacos_mock/cs_core.h"
#include "nacos_mock/grpc_api.h"
#include "nacos_mock/grpc_server.h"
#include "nacos_mock/http.h"
#include "nacos_mock/log.h"
#include "nacos_mock/push.h"
#include "nacos_mock/registry.h"
#include "nacos_mock/sweeper.h"

/* With --port 0 the pair (P, P + offset) must both be free: tries this many HTTP ports. */
#define PORT_PAIR_TRIES 50

int server_init(struct server *s, const struct config *cfg, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->app_ready = true;   /* app_free copes with a half-built context */
    if (app_init(&s->app, cfg, err, errlen)) return -1;
    if (!cfg->fixtures_file) return 0;
    app_lock(&s->app);   /* the registry's writes are app->mu's (store.h), threads or not */
    int rc = registry_load_file(&s->app, cfg->fixtures_file, err, errlen);
    app_unlock(&s->app);
    return rc ? -1 : 0;
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
    if (!cfg->no_grpc) {
        if (!(s->grpc_api = grpc_api_create(app, 0))) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        grpc_api_transport(s->grpc_api, &app->transport);   /* before any listener: pushes may start at once */
    }
    for (int attempt = 0;; attempt++) {
        if (!(s->http = http_start(app, cfg->host, cfg->port, 0, err, errlen))) return -1;
        if (cfg->no_grpc) break;
        int gport = http_port(s->http) + cfg->grpc_port_offset;
        struct grpc_handlers h;
        grpc_api_handlers(s->grpc_api, &h);
        if (gport <= 65535 && (s->grpc = grpc_server_start(cfg->host, gport, &h, err, errlen))) {
            grpc_api_attach(s->grpc_api, s->grpc);
            atomic_store(&app->grpc_port, grpc_server_port(s->grpc));
            /* config changes reach listening gRPC connections (ConfigChangeNotifyRequest) */
            cs_listen_set_push_hook(cs_listeners(app->cs), grpc_api_config_push, s->grpc_api);
            break;
        }
        bool busy = gport > 65535 || errno == EADDRINUSE;
        if (gport > 65535) snprintf(err, errlen, "gRPC port %d (HTTP port + %d) is out of range", gport, cfg->grpc_port_offset);
        if (cfg->port != 0 || !busy || attempt + 1 >= PORT_PAIR_TRIES) return -1;
        http_stop(s->http);   /* --port 0: another pair */
        s->http = NULL;
    }
    atomic_store(&app->http_port, http_port(s->http));
    return 0;
}

int server_http_port(const struct server *s) { return http_port(s->http); }
int server_grpc_port(const struct server *s) { return atomic_load(&s->app.grpc_port); }

void server_stop(struct server *s)
{
    /* HTTP first (no control plane calls into the transports any more), then the threads that might
     * push, then gRPC: its connections end, and their instances go (queued changes stay unsent) */
    http_stop(s->http);   /* answers requests in flight, then joins the workers */
    s->http = NULL;
    sweeper_stop(s->sweeper);
    s->sweeper = NULL;
    push_stop(s->push);
    s->push = NULL;
    memset(&s->app.transport, 0, sizeof s->app.transport);
    if (s->app.cs) cs_listen_set_push_hook(cs_listeners(s->app.cs), NULL, NULL);
    if (s->grpc_api) grpc_api_attach(s->grpc_api, NULL);   /* what still runs on the loop sends nothing more */
    grpc_server_stop(s->grpc);
    s->grpc = NULL;
    grpc_api_free(s->grpc_api);
    s->grpc_api = NULL;
    atomic_store(&s->app.http_port, 0);
    atomic_store(&s->app.grpc_port, 0);
}

void server_free(struct server *s)
{
    server_stop(s);
    if (s->app_ready) app_free(&s->app);
    s->app_ready = false;
}
