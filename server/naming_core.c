/*
 * naming_core.c — the naming operations every transport calls (see naming_core.h). Behaviour and
 * wording follow nacos-api.md §2 (1.x semantics; the messages are the v1 `caused:` texts, which the
 * gRPC and v2 adapters carry in their own envelopes).
 */
#include "nacos_mock/naming_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nacos_mock/app.h"
#include "nacos_mock/clients.h"
#include "nacos_mock/log.h"
#include "nacos_mock/store.h"
#include "nacos_mock/subs.h"

/* A store failure: the open transaction (if any) rolled back, the store's message kept. */
static int store_err(struct app *app, struct naming_err *e)
{
    store_rollback(app->store);
    naming_err_set(e, NAMING_STORE, 500, "registry store error: %s", store_errmsg(app->store));
    return -1;
}

int nc_check_key(struct nc_key *k, struct naming_err *e)
{
    if (!k->ns || !*k->ns) k->ns = DEFAULT_NAMESPACE;
    if (!k->cluster || !*k->cluster) k->cluster = DEFAULT_CLUSTER;
    if (naming_check_name("namespaceId", k->ns, strlen(k->ns), e)) return -1;
    if (!k->service || !*k->service) {
        naming_err_set(e, NAMING_PARAM_MISSING, 400, "Param 'serviceName' is required.");
        return -1;
    }
    if (!k->ip || !*k->ip) {
        naming_err_set(e, NAMING_PARAM_MISSING, 400, "Param 'ip' is required.");
        return -1;
    }
    if (naming_check_ip("ip", k->ip, e)) return -1;
    if (k->port < 1 || k->port > 65535) {
        naming_err_set(e, NAMING_PARAM_INVALID, 400, "Param 'port' must be a port from 1 to 65535, got %d", k->port);
        return -1;
    }
    return naming_check_name("clusterName", k->cluster, strlen(k->cluster), e);
}

static int check_weight(double w, struct naming_err *e)
{
    if (w >= 0.0 && w <= 10000.0) return 0;
    naming_err_set(e, NAMING_WEIGHT, 500,
                   "instance format invalid: The weights range from 0.0 to 10000.0 (param 'weight': %g)", w);
    return -1;
}

static int md_ms(const cJSON *md, const char *key, int64_t *out, struct naming_err *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(md, key);
    long long n;
    if (!cJSON_IsString(v)) return 0;
    if (params_strtoll(v->valuestring, &n) || n <= 0) {
        naming_err_set(e, NAMING_INSTANCE_METADATA, 400,
                       "Param 'metadata' key '%s' must be a positive number of milliseconds, got \"%.64s\"", key,
                       v->valuestring);
        return -1;
    }
    *out = n;
    return 0;
}

int nc_instance_timeouts(const struct app *app, const cJSON *md, int64_t *interval, int64_t *timeout,
                         int64_t *delete_timeout, struct naming_err *e)
{
    *interval = app->cfg->beat_interval_ms;
    *timeout = config_unhealthy_timeout_ms(app->cfg);
    *delete_timeout = config_delete_timeout_ms(app->cfg);
    if (md_ms(md, MD_HB_INTERVAL, interval, e) || md_ms(md, MD_HB_TIMEOUT, timeout, e) ||
        md_ms(md, MD_IP_DELETE_TIMEOUT, delete_timeout, e))
        return -1;
    if (*interval > *timeout || *interval > *delete_timeout) {
        naming_err_set(e, NAMING_INSTANCE_METADATA, 500,
                       "Instance 'heart beat interval' must less than 'heart beat timeout' and 'ip delete timeout'. "
                       "(interval %lld ms, timeout %lld ms, delete timeout %lld ms)",
                       (long long)*interval, (long long)*timeout, (long long)*delete_timeout);
        return -1;
    }
    return 0;
}

/* Instance id for a new instance: snowflake-style small integers when the metadata asks for them,
 * else ip#port#cluster#group@@service. */
static int new_instance_id(struct app *app, int64_t service_id, const cJSON *md, const struct nc_key *k, char *out,
                           size_t outlen)
{
    const cJSON *gen = cJSON_GetObjectItemCaseSensitive(md, MD_ID_GENERATOR);
    if (cJSON_IsString(gen) && strcmp(gen->valuestring, "snowflake") == 0) {
        long id;
        if (store_instance_next_numeric_id(app->store, service_id, &id)) return -1;
        snprintf(out, outlen, "%ld", id);
        return 0;
    }
    naming_instance_id(out, outlen, k->ip, k->port, k->cluster, k->service);
    return 0;
}

static int check_instance(const struct app *app, struct nc_instance *in, int64_t *interval, int64_t *timeout,
                          int64_t *del, struct naming_err *e)
{
    if (nc_check_key(&in->k, e) || check_weight(in->weight, e)) return -1;
    return nc_instance_timeouts(app, in->metadata, interval, timeout, del, e);
}

/* Writes one instance inside the caller's transaction (no commit, no notification): *sid gets its
 * service. 0, or -1 with e (NAMING_STORE: the caller rolls back). */
static int write_one(struct app *app, const struct nc_instance *in_, enum nc_write_mode mode, uint64_t owner,
                     int64_t now_ms, int64_t *sid_out, struct naming_err *e)
{
    struct nc_instance in = *in_;
    int64_t interval, timeout, del;
    if (check_instance(app, &in, &interval, &timeout, &del, e)) return -1;
    char *md_text = cJSON_PrintUnformatted(in.metadata);
    if (!md_text) {
        naming_err_set(e, NAMING_STORE, 500, "out of memory");
        return -1;
    }
    int rc = -1;
    struct instance_rec old = {0};
    bool have_old = false;
    int64_t sid = 0;
    const struct nc_key *k = &in.k;
    if (mode == NC_UPDATE_EXISTING) {
        struct service_rec s;
        int f = store_service_get(app->store, k->ns, k->service, &s);
        if (f < 0) goto store_failed;
        if (f == 1) {
            naming_err_set(e, NAMING_SERVICE_NOT_FOUND, 500, "service not found, namespace: %s, service: %s", k->ns,
                           k->service);
            goto out;
        }
        sid = s.id;
        store_service_rec_free(&s);
    } else if (store_service_ensure(app->store, k->ns, k->service, now_ms, &sid)) {
        goto store_failed;
    }
    int g = store_instance_get(app->store, sid, k->cluster, k->ip, k->port, &old);
    if (g < 0) goto store_failed;
    have_old = g == 0;
    if (!have_old && mode == NC_UPDATE_EXISTING) {
        naming_err_set(e, NAMING_INSTANCE_NOT_FOUND, 500,
                       "instance not exist: %s:%d in cluster %s of service %s (namespace %s)", k->ip, k->port,
                       k->cluster, k->service, k->ns);
        goto out;
    }
    char idbuf[GROUPED_MAX + 600];
    if (!have_old && new_instance_id(app, sid, in.metadata, k, idbuf, sizeof idbuf)) goto store_failed;

    bool register_like = mode == NC_REGISTER || !have_old;
    struct instance_rec rec = {
        .service_id = sid, .cluster = k->cluster, .ip = k->ip, .port = k->port,
        .instance_id = have_old ? NULL : idbuf, .weight = in.weight, .enabled = in.enabled,
        .healthy = register_like ? in.healthy : (in.healthy_given ? in.healthy : old.healthy),
        .ephemeral = register_like ? in.ephemeral : (in.ephemeral_given ? in.ephemeral : old.ephemeral),
        .marked = have_old ? old.marked : false, .metadata = md_text, .app = in.app,
        .registered_ms = have_old ? old.registered_ms : now_ms,
        .last_beat_ms = register_like ? now_ms : old.last_beat_ms,
        .hb_interval_ms = interval, .hb_timeout_ms = timeout, .delete_timeout_ms = del,
        .owner = register_like ? owner : old.owner,
    };
    if (rec.owner && !rec.ephemeral) rec.owner = 0;   /* only ephemeral instances belong to a connection */
    if (store_instance_write(app->store, &rec, have_old ? old.id : 0)) goto store_failed;
    /* ownership moves with the instance: a register by another client (or over HTTP) takes it over */
    if (have_old && old.owner && old.owner != rec.owner) {
        struct client *c = clients_get(app->clients, old.owner);
        if (c) client_disown(c, k->ns, k->service, k->cluster, k->ip, k->port);
    }
    if (rec.owner) {
        struct client *c = clients_get(app->clients, rec.owner);
        if (!c || client_own(c, k->ns, k->service, k->cluster, k->ip, k->port)) {
            naming_err_set(e, NAMING_STORE, 500, c ? "out of memory" : "connection %llu is not registered",
                           (unsigned long long)rec.owner);
            goto out;
        }
    }
    *sid_out = sid;
    rc = 0;
    goto out;
store_failed:
    naming_err_set(e, NAMING_STORE, 500, "registry store error: %s", store_errmsg(app->store));
out:
    if (have_old) store_instance_rec_free(&old);
    cJSON_free(md_text);
    return rc;
}

int nc_register(struct app *app, const struct nc_instance *in, enum nc_write_mode mode, uint64_t owner,
                int64_t now_ms, struct naming_err *e)
{
    if (store_begin(app->store)) return store_err(app, e);
    int64_t sid = 0;
    if (write_one(app, in, mode, owner, now_ms, &sid, e)) {
        store_rollback(app->store);
        return -1;
    }
    const char *ns = in->k.ns && *in->k.ns ? in->k.ns : DEFAULT_NAMESPACE;
    app_service_changed(app, now_ms, sid, ns, in->k.service);
    if (store_commit(app->store)) return store_err(app, e);
    app_event_instance(app, mode == NC_REGISTER ? EV_REGISTERED : EV_UPDATED, now_ms, ns, in->k.service, in->k.cluster,
                       in->k.ip, in->k.port);
    return 0;
}

/* Deletes one instance inside the caller's transaction. 0 deleted, 1 nothing to delete, -1 error. */
static int delete_one(struct app *app, int64_t sid, const struct nc_key *k, bool ephemeral, uint64_t owner)
{
    if (owner) {
        struct instance_rec r;
        int g = store_instance_get(app->store, sid, k->cluster, k->ip, k->port, &r);
        if (g) return g;
        bool mine = r.owner == owner;
        store_instance_rec_free(&r);
        if (!mine) return 1;   /* another client's (or an HTTP) instance: not this connection's to remove */
    }
    int d = store_instance_delete(app->store, sid, k->cluster, k->ip, k->port, ephemeral);
    if (d == 0 && owner) {
        struct client *c = clients_get(app->clients, owner);
        if (c) client_disown(c, k->ns, k->service, k->cluster, k->ip, k->port);
    }
    return d;
}

int nc_deregister(struct app *app, const struct nc_key *k_, bool ephemeral, uint64_t owner, int64_t now_ms,
                  struct naming_err *e)
{
    struct nc_key k = *k_;
    if (nc_check_key(&k, e)) return -1;
    struct service_rec s;
    int f = store_service_get(app->store, k.ns, k.service, &s);
    if (f < 0) return store_err(app, e);
    if (f == 1) return 0;   /* unknown service or instance: a silent no-op, as in Nacos */
    int d = delete_one(app, s.id, &k, ephemeral, owner);
    if (d == 0) app_service_changed(app, now_ms, s.id, k.ns, k.service);
    if (d == 0)
        events_instance_key(app->events, EV_DEREGISTERED, now_ms, k.ns, k.service, k.cluster, k.ip, k.port, ephemeral,
                            NULL);
    store_service_rec_free(&s);
    return d < 0 ? store_err(app, e) : 0;
}

int nc_batch_register(struct app *app, const char *ns, const char *service, const struct nc_instance *v, size_t n,
                      uint64_t owner, int64_t now_ms, struct naming_err *e)
{
    if (!ns || !*ns) ns = DEFAULT_NAMESPACE;
    for (size_t i = 0; i < n; i++) {   /* all or nothing: every instance is checked before anything is written */
        struct nc_instance in = v[i];
        int64_t a, b, c;
        if (check_instance(app, &in, &a, &b, &c, e)) return -1;
    }
    struct client *cl = owner ? clients_get(app->clients, owner) : NULL;
    if (store_begin(app->store)) return store_err(app, e);
    int64_t sid = 0;
    /* what this connection owned in the service and the batch no longer names goes */
    for (size_t i = 0; cl && i < cl->n_owned;) {
        struct client_key *ck = &cl->owned[i];
        bool kept = false;
        for (size_t j = 0; j < n && !kept; j++) {
            const struct nc_key *nk = &v[j].k;
            const char *cluster = nk->cluster && *nk->cluster ? nk->cluster : DEFAULT_CLUSTER;
            kept = nk->port == ck->port && !strcmp(nk->ip, ck->ip) && !strcmp(cluster, ck->cluster);
        }
        if (kept || strcmp(ck->ns, ns) || strcmp(ck->service, service)) {
            i++;
            continue;
        }
        struct service_rec s;
        int f = store_service_get(app->store, ns, service, &s);
        if (f < 0) return store_err(app, e);
        if (f == 0) {
            sid = s.id;
            store_service_rec_free(&s);
            struct nc_key k = {ck->ns, ck->service, ck->cluster, ck->ip, ck->port};
            int d = delete_one(app, sid, &k, true, owner);   /* 0: deleted and disowned */
            if (d < 0) return store_err(app, e);
            if (d == 1) client_disown(cl, ck->ns, ck->service, ck->cluster, ck->ip, ck->port);
        } else {
            client_disown(cl, ck->ns, ck->service, ck->cluster, ck->ip, ck->port);
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct nc_instance in = v[i];
        in.k.ns = ns;
        in.k.service = service;
        if (write_one(app, &in, NC_REGISTER, owner, now_ms, &sid, e)) {
            store_rollback(app->store);
            return -1;
        }
    }
    if (!sid) {   /* an empty batch into a service that does not exist: nothing to change */
        store_rollback(app->store);
        return 0;
    }
    app_service_changed(app, now_ms, sid, ns, service);
    if (store_commit(app->store)) return store_err(app, e);
    events_registry(app->events, EV_UPDATED, now_ms, ns, service, "batch register", (long)n);   /* now exactly these */
    for (size_t i = 0; i < n; i++)
        app_event_instance(app, EV_REGISTERED, now_ms, ns, service, v[i].k.cluster, v[i].k.ip, v[i].k.port);
    return 0;
}

/* Finds (service, instance) for k. 0 found (owned *inst, *sid), 1 service unknown, 2 instance unknown,
 * -1 store error. */
static int find_instance(struct app *app, const struct nc_key *k, int64_t *sid, struct instance_rec *inst)
{
    struct service_rec s;
    int f = store_service_get(app->store, k->ns, k->service, &s);
    if (f < 0) return -1;
    if (f == 1) return 1;
    *sid = s.id;
    store_service_rec_free(&s);
    int g = store_instance_get(app->store, *sid, k->cluster, k->ip, k->port, inst);
    if (g < 0) return -1;
    return g == 0 ? 0 : 2;
}

int nc_patch(struct app *app, const struct nc_key *k_, const struct nc_patch *p, int64_t now_ms, struct naming_err *e)
{
    struct nc_key k = *k_;
    if (nc_check_key(&k, e) || (p->weight && check_weight(*p->weight, e))) return -1;
    int64_t sid = 0;
    struct instance_rec cur;
    int f = find_instance(app, &k, &sid, &cur);
    if (f < 0) return store_err(app, e);
    if (f > 0) {
        naming_err_set(e, NAMING_INSTANCE_NOT_FOUND, 400, "instance not found: %s:%d in cluster %s of service %s "
                       "(namespace %s)", k.ip, k.port, k.cluster, k.service, k.ns);
        return -1;
    }
    int rc = -1;
    struct instance_rec in = cur;
    char *md_text = NULL;
    if (p->metadata) {
        if (nc_instance_timeouts(app, p->metadata, &in.hb_interval_ms, &in.hb_timeout_ms, &in.delete_timeout_ms, e))
            goto out;
        if (!(md_text = cJSON_PrintUnformatted(p->metadata))) {
            naming_err_set(e, NAMING_STORE, 500, "out of memory");
            goto out;
        }
        in.metadata = md_text;
    }
    if (p->weight) in.weight = *p->weight;
    if (p->healthy) in.healthy = *p->healthy;
    if (p->enabled) in.enabled = *p->enabled;
    if (p->app) in.app = p->app;
    in.instance_id = NULL;   /* keep */
    if (store_instance_upsert(app->store, &in, NULL)) {
        store_err(app, e);
        goto out;
    }
    app_service_changed(app, now_ms, sid, k.ns, k.service);
    app_event_instance(app, EV_UPDATED, now_ms, k.ns, k.service, k.cluster, k.ip, k.port);
    rc = 0;
out:
    cJSON_free(md_text);
    store_instance_rec_free(&cur);
    return rc;
}

struct cluster_probe { const char *cluster; long n; };

static int count_cluster(void *ctx, const struct instance_rec *r)
{
    struct cluster_probe *cp = ctx;
    if (strcmp(r->cluster, cp->cluster) == 0) cp->n++;
    return 0;
}

int nc_detail(struct app *app, const struct nc_key *k_, struct instance_rec *out, struct naming_err *e)
{
    struct nc_key k = *k_;
    if (nc_check_key(&k, e)) return -1;
    int64_t sid = 0;
    int f = find_instance(app, &k, &sid, out);
    if (f < 0) return store_err(app, e);
    if (f == 1) {
        naming_err_set(e, NAMING_SERVICE_NOT_FOUND, 500, "no service %s found!", k.service);
        return -1;
    }
    if (f == 2) {
        struct cluster_probe cp = {k.cluster, 0};
        store_instance_foreach(app->store, sid, count_cluster, &cp);
        if (cp.n == 0)
            naming_err_set(e, NAMING_INSTANCE_NOT_FOUND, 500, "no ips found for cluster %s in service %s", k.cluster,
                           k.service);
        else
            naming_err_set(e, NAMING_INSTANCE_NOT_FOUND, 500, "no matched ip found! (%s:%d in cluster %s of service %s)",
                           k.ip, k.port, k.cluster, k.service);
        return -1;
    }
    return 0;
}

int nc_set_health(struct app *app, const struct nc_key *k_, bool healthy, int64_t now_ms, struct naming_err *e)
{
    struct nc_key k = *k_;
    if (nc_check_key(&k, e)) return -1;
    int64_t sid = 0;
    struct instance_rec r;
    int f = find_instance(app, &k, &sid, &r);
    if (f < 0) return store_err(app, e);
    if (f == 1) {
        naming_err_set(e, NAMING_SERVICE_NOT_FOUND, 500, "no service %s found!", k.service);
        return -1;
    }
    if (f == 2) {
        naming_err_set(e, NAMING_INSTANCE_NOT_FOUND, 500, "no matched ip found! (%s:%d in cluster %s of service %s)",
                       k.ip, k.port, k.cluster, k.service);
        return -1;
    }
    int rc = 0;
    if (r.healthy != healthy) {
        if (store_instance_set_health(app->store, r.id, healthy)) {
            rc = store_err(app, e);
        } else {
            log_transition(r.instance_id, k.ns, k.service, r.healthy ? "HEALTHY" : "UNHEALTHY",
                           healthy ? "HEALTHY" : "UNHEALTHY", now_ms - r.last_beat_ms);
            events_health(app->events, now_ms, k.ns, k.service, r.instance_id, k.cluster, k.ip, k.port,
                          r.healthy ? "HEALTHY" : "UNHEALTHY", healthy ? "HEALTHY" : "UNHEALTHY",
                          now_ms - r.last_beat_ms);
            app_service_changed(app, now_ms, sid, k.ns, k.service);
        }
    }
    store_instance_rec_free(&r);
    return rc;
}

int nc_beat(struct app *app, const struct nc_key *k_, const struct nc_beat_full *full, int64_t now_ms, int *code,
            int64_t *interval_ms, struct naming_err *e)
{
    struct nc_key k = *k_;
    if (nc_check_key(&k, e)) return -1;
    struct beat_result br;
    int f = store_instance_beat(app->store, k.ns, k.service, k.cluster, k.ip, k.port, now_ms, &br);
    if (f < 0) return store_err(app, e);
    if (f == 0) {
        if (br.was_unhealthy) {
            log_transition(br.instance_id, k.ns, k.service, "UNHEALTHY", "HEALTHY", now_ms - br.prev_beat_ms);
            events_health(app->events, now_ms, k.ns, k.service, br.instance_id, k.cluster, k.ip, k.port, "UNHEALTHY",
                          "HEALTHY", now_ms - br.prev_beat_ms);
            app_service_changed(app, now_ms, br.service_id, k.ns, k.service);
        }
        *code = NC_BEAT_OK;
        *interval_ms = br.interval_ms;
        return 0;
    }
    *interval_ms = app->cfg->beat_interval_ms;
    if (!full) {   /* light beat for an instance we do not know: the client must re-register */
        *code = NC_BEAT_UNKNOWN;
        return 0;
    }
    /* a full beat for an unknown instance registers it, as Nacos does */
    struct nc_instance in = {.k = k, .weight = full->weight, .enabled = true, .healthy = true,
                             .ephemeral = full->ephemeral, .metadata = full->metadata};
    if (check_weight(full->weight, e)) {
        naming_err_set(e, NAMING_WEIGHT, 500,
                       "instance format invalid: The weights range from 0.0 to 10000.0 (beat 'weight': %g)",
                       full->weight);
        return -1;
    }
    int64_t tmo, del;
    if (nc_register(app, &in, NC_REGISTER, 0, now_ms, e) ||
        nc_instance_timeouts(app, full->metadata, interval_ms, &tmo, &del, e))
        return -1;
    *code = NC_BEAT_OK;
    return 0;
}

/* ------------------------------------------------------------------ services */

static int check_service(const char *ns, const char *service, struct naming_err *e)
{
    if (naming_check_name("namespaceId", ns, strlen(ns), e)) return -1;
    if (!service || !*service) {
        naming_err_set(e, NAMING_PARAM_MISSING, 400, "Param 'serviceName' is required.");
        return -1;
    }
    return 0;
}

int nc_service_create(struct app *app, const struct nc_service *s, int64_t now_ms, struct naming_err *e)
{
    const char *ns = s->ns && *s->ns ? s->ns : DEFAULT_NAMESPACE;
    if (check_service(ns, s->service, e)) return -1;
    int rc = store_service_create(app->store, ns, s->service, s->protect_threshold, s->metadata, s->selector, true,
                                  now_ms, NULL);
    if (rc < 0) return store_err(app, e);
    if (rc == 1) {
        naming_err_set(e, NAMING_SERVICE_EXISTS, 400, "specified service already exists, serviceName : %s", s->service);
        return -1;
    }
    events_registry(app->events, EV_REGISTERED, now_ms, ns, s->service, "service created", 0);
    return 0;
}

int nc_service_delete(struct app *app, const char *ns, const char *service, int64_t now_ms, struct naming_err *e)
{
    if (!ns || !*ns) ns = DEFAULT_NAMESPACE;
    if (check_service(ns, service, e)) return -1;
    struct service_rec s;
    int f = store_service_get(app->store, ns, service, &s);
    if (f < 0) return store_err(app, e);
    if (f == 1) {
        naming_err_set(e, NAMING_SERVICE_NOT_FOUND, 400, "specified service not exist, serviceName : %s", service);
        return -1;
    }
    /* 1.x drops the instances with the service; subscribers see an empty list. Connection-owned
     * instances go too (their clients no longer own them). */
    int rc = store_service_delete(app->store, s.id);
    store_service_rec_free(&s);
    if (rc < 0) return store_err(app, e);
    app_service_changed(app, now_ms, 0, ns, service);
    events_registry(app->events, EV_REMOVED, now_ms, ns, service, "service deleted", -1);
    return 0;
}

int nc_service_update(struct app *app, const struct nc_service *s, int64_t now_ms, struct naming_err *e)
{
    const char *ns = s->ns && *s->ns ? s->ns : DEFAULT_NAMESPACE;
    if (check_service(ns, s->service, e)) return -1;
    struct service_rec cur;
    int f = store_service_get(app->store, ns, s->service, &cur);
    if (f < 0) return store_err(app, e);
    if (f == 1) {
        naming_err_set(e, NAMING_SERVICE_NOT_FOUND, 500, "service %s not found!", s->service);
        return -1;
    }
    int rc = store_service_update(app->store, cur.id, s->protect_threshold, s->metadata, s->selector);
    if (rc == 0) app_service_changed(app, now_ms, cur.id, ns, s->service);   /* the threshold changes what lists answer */
    if (rc == 0) events_registry(app->events, EV_UPDATED, now_ms, ns, s->service, "service updated", -1);
    store_service_rec_free(&cur);
    return rc ? store_err(app, e) : 0;
}

int nc_service_get(struct app *app, const char *ns, const char *service, struct service_rec *out, struct naming_err *e)
{
    if (!ns || !*ns) ns = DEFAULT_NAMESPACE;
    if (check_service(ns, service, e)) return -1;
    int f = store_service_get(app->store, ns, service, out);
    if (f < 0) return store_err(app, e);
    if (f == 1) {
        naming_err_set(e, NAMING_SERVICE_NOT_FOUND, 500, "service %s is not found!", service);
        return -1;
    }
    return 0;
}

int nc_service_list(struct app *app, const char *ns, const char *group, long page_no, long page_size,
                    store_service_cb cb, void *ctx, long *total, struct naming_err *e)
{
    if (!ns || !*ns) ns = DEFAULT_NAMESPACE;
    if (!group || !*group) group = DEFAULT_GROUP;
    if (naming_check_name("namespaceId", ns, strlen(ns), e) || naming_check_name("groupName", group, strlen(group), e))
        return -1;
    long start = (page_no - 1) * page_size;
    if (start < 0) start = 0;
    if (store_service_list(app->store, ns, group, start, page_size > 0 ? page_size : 0, cb, ctx, total))
        return store_err(app, e);
    return 0;
}

/* ------------------------------------------------------------------ connection clients */

int nc_subscribe(struct app *app, uint64_t owner, const char *ns, const char *service, const char *clusters,
                 bool subscribe, struct naming_err *e)
{
    if (!ns || !*ns) ns = DEFAULT_NAMESPACE;
    if (check_service(ns, service, e)) return -1;
    if (!subscribe) {
        subs_remove_conn(app->subs, owner, ns, service, clusters ? clusters : "");
        return 0;
    }
    if (subs_add_conn(app->subs, owner, ns, service, clusters ? clusters : "")) {
        naming_err_set(e, NAMING_STORE, 500, "out of memory");
        return -1;
    }
    return 0;
}

void nc_client_closed(struct app *app, uint64_t owner, int64_t now_ms, long *removed)
{
    long n = 0;
    struct client *c = clients_get(app->clients, owner);
    while (c && c->n_owned) {
        struct client_key *ck = &c->owned[c->n_owned - 1];
        struct service_rec s;
        if (store_service_get(app->store, ck->ns, ck->service, &s) == 0) {
            struct nc_key k = {ck->ns, ck->service, ck->cluster, ck->ip, ck->port};
            char ns[NAME_MAX_BYTES + 1], svc[GROUPED_MAX], cluster[NAME_MAX_BYTES + 1], ip[NAME_MAX_BYTES + 1];
            snprintf(ns, sizeof ns, "%s", ck->ns);
            snprintf(svc, sizeof svc, "%s", ck->service);
            snprintf(cluster, sizeof cluster, "%s", ck->cluster);   /* ck goes with the instance */
            snprintf(ip, sizeof ip, "%s", ck->ip);
            int64_t sid = s.id;
            store_service_rec_free(&s);
            if (delete_one(app, sid, &k, true, owner) == 0) {   /* disowns ck */
                n++;
                app_service_changed(app, now_ms, sid, ns, svc);
                events_instance_key(app->events, EV_REMOVED, now_ms, ns, svc, cluster, ip, k.port, true,
                                    "connection closed");
                continue;
            }
        }
        client_disown(c, ck->ns, ck->service, ck->cluster, ck->ip, ck->port);
    }
    subs_drop_conn(app->subs, owner);
    clients_close(app->clients, owner);
    if (removed) *removed = n;
}

int nc_client_kill(struct app *app, const char *connection_id, int64_t now_ms)
{
    struct client *c = clients_find(app->clients, connection_id);
    if (!c) return -1;
    uint64_t serial = c->serial;
    nc_client_closed(app, serial, now_ms, NULL);   /* now, not when the transport gets to it */
    if (app->transport.close_conn) app->transport.close_conn(app->transport.ctx, serial);
    return 0;
}

static int collect_serial(void *ctx, struct client *c)
{
    struct { uint64_t *v; size_t n; } *s = ctx;
    s->v[s->n++] = c->serial;
    return 0;
}

long nc_client_kill_all(struct app *app, int64_t now_ms)
{
    size_t n = clients_count(app->clients);
    struct { uint64_t *v; size_t n; } s = {calloc(n ? n : 1, sizeof(uint64_t)), 0};
    if (s.v) clients_foreach(app->clients, collect_serial, &s);
    for (size_t i = 0; i < s.n; i++) nc_client_closed(app, s.v[i], now_ms, NULL);
    free(s.v);
    if (app->transport.close_all) app->transport.close_all(app->transport.ctx);
    return (long)n;
}
