/*
 * clients.c — the table of gRPC connection clients (see clients.h). A few thousand connections at
 * most: an array in open order, found by a linear scan of serials (a register looks its client up
 * once). Keys owned per client are a small array too (a client registers a handful of instances).
 */
#include "nacos_mock/clients.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nacos_mock/util.h"

struct clients {
    pthread_mutex_t mu;   /* the array's changes, against clients_touch (which runs without app->mu) */
    struct client **v;
    size_t n, cap;
};

struct clients *clients_create(void)
{
    struct clients *cl = calloc(1, sizeof *cl);
    if (cl) pthread_mutex_init(&cl->mu, NULL);
    return cl;
}

static void client_free(struct client *c)
{
    for (size_t i = 0; i < c->n_owned; i++) free(c->owned[i].ns);
    free(c->owned);
    free(c->client_version);
    free(c->app_name);
    free(c->tenant);
    cJSON_Delete(c->labels);
    free(c);
}

void clients_free(struct clients *cl)
{
    if (!cl) return;
    for (size_t i = 0; i < cl->n; i++) client_free(cl->v[i]);
    free(cl->v);
    pthread_mutex_destroy(&cl->mu);
    free(cl);
}

struct client *clients_get(struct clients *cl, uint64_t serial)
{
    for (size_t i = 0; i < cl->n; i++)
        if (cl->v[i]->serial == serial) return cl->v[i];
    return NULL;
}

struct client *clients_find(struct clients *cl, const char *id)
{
    for (size_t i = 0; i < cl->n; i++)
        if (!strcmp(cl->v[i]->id, id)) return cl->v[i];
    return NULL;
}

bool clients_touch(struct clients *cl, uint64_t serial, int64_t now_ms)
{
    bool setup = false;
    pthread_mutex_lock(&cl->mu);
    struct client *c = clients_get(cl, serial);
    if (c) {
        atomic_store(&c->last_active_ms, now_ms);
        setup = atomic_load(&c->setup);
    }
    pthread_mutex_unlock(&cl->mu);
    return setup;
}

struct client *clients_open(struct clients *cl, uint64_t serial, const char *id, const char *remote, int node,
                            int64_t now_ms)
{
    if (!serial || clients_get(cl, serial)) return NULL;
    pthread_mutex_lock(&cl->mu);
    int grown = util_grow((void **)&cl->v, &cl->cap, cl->n, sizeof *cl->v);
    pthread_mutex_unlock(&cl->mu);
    if (grown) return NULL;
    struct client *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->serial = serial;
    snprintf(c->id, sizeof c->id, "%s", id);
    snprintf(c->remote, sizeof c->remote, "%s", remote);
    c->node = node;
    c->connected_ms = now_ms;
    atomic_init(&c->last_active_ms, now_ms);
    c->client_version = strdup("");
    c->app_name = strdup("");
    c->tenant = strdup("");
    c->labels = cJSON_CreateObject();
    if (!c->client_version || !c->app_name || !c->tenant || !c->labels) {
        client_free(c);
        return NULL;
    }
    pthread_mutex_lock(&cl->mu);
    cl->v[cl->n++] = c;
    pthread_mutex_unlock(&cl->mu);
    return c;
}

int client_set_setup(struct client *c, const char *client_version, const char *tenant, const cJSON *labels)
{
    char *v = strdup(client_version ? client_version : ""), *t = strdup(tenant ? tenant : "");
    cJSON *l = cJSON_CreateObject();
    const cJSON *app = NULL;
    for (const cJSON *e = cJSON_IsObject(labels) ? labels->child : NULL; e && l; e = e->next) {
        if (!cJSON_IsString(e)) continue;
        if (!cJSON_AddStringToObject(l, e->string, e->valuestring)) { cJSON_Delete(l); l = NULL; }
        if (!strcmp(e->string, "AppName")) app = e;
    }
    char *a = strdup(app ? app->valuestring : "");
    if (!v || !t || !l || !a) {
        free(v);
        free(t);
        free(a);
        cJSON_Delete(l);
        return -1;
    }
    free(c->client_version);
    free(c->tenant);
    free(c->app_name);
    cJSON_Delete(c->labels);
    c->client_version = v;
    c->tenant = t;
    c->app_name = a;
    c->labels = l;
    atomic_store(&c->setup, true);
    return 0;
}

void clients_close(struct clients *cl, uint64_t serial)
{
    for (size_t i = 0; i < cl->n; i++) {
        if (cl->v[i]->serial != serial) continue;
        struct client *c = cl->v[i];
        pthread_mutex_lock(&cl->mu);
        memmove(&cl->v[i], &cl->v[i + 1], (cl->n - i - 1) * sizeof *cl->v);   /* keep the open order */
        cl->n--;
        pthread_mutex_unlock(&cl->mu);
        client_free(c);
        return;
    }
}

static bool key_is(const struct client_key *k, const char *ns, const char *service, const char *cluster,
                   const char *ip, int port)
{
    return k->port == port && !strcmp(k->ip, ip) && !strcmp(k->service, service) && !strcmp(k->cluster, cluster) &&
           !strcmp(k->ns, ns);
}

bool client_owns(const struct client *c, const char *ns, const char *service, const char *cluster, const char *ip,
                 int port)
{
    for (size_t i = 0; i < c->n_owned; i++)
        if (key_is(&c->owned[i], ns, service, cluster, ip, port)) return true;
    return false;
}

int client_own(struct client *c, const char *ns, const char *service, const char *cluster, const char *ip, int port)
{
    if (client_owns(c, ns, service, cluster, ip, port)) return 0;
    if (util_grow((void **)&c->owned, &c->cap_owned, c->n_owned, sizeof *c->owned)) return -1;
    size_t a = strlen(ns) + 1, b = strlen(service) + 1, d = strlen(cluster) + 1, e = strlen(ip) + 1;
    char *p = malloc(a + b + d + e);
    if (!p) return -1;
    struct client_key *k = &c->owned[c->n_owned++];
    k->ns = memcpy(p, ns, a);
    k->service = memcpy(p + a, service, b);
    k->cluster = memcpy(p + a + b, cluster, d);
    k->ip = memcpy(p + a + b + d, ip, e);
    k->port = port;
    return 0;
}

void client_disown(struct client *c, const char *ns, const char *service, const char *cluster, const char *ip,
                   int port)
{
    for (size_t i = 0; i < c->n_owned; i++) {
        if (!key_is(&c->owned[i], ns, service, cluster, ip, port)) continue;
        free(c->owned[i].ns);
        c->owned[i] = c->owned[--c->n_owned];
        return;
    }
}

size_t clients_count(const struct clients *cl) { return cl->n; }

void clients_foreach(struct clients *cl, int (*cb)(void *ctx, struct client *c), void *ctx)
{
    for (size_t i = 0; i < cl->n; i++)
        if (cb(ctx, cl->v[i])) return;
}
