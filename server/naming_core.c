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
#include "nacos_mock/reply.h"
#include "nacos_mock/store.h"
#include "nacos_mock/subs.h"
#include "nacos_mock/util.h"

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
        naming_err_missing(e, "serviceName", "String");
        return -1;
    }
    if (!k->ip || !*k->ip) {
        naming_err_missing(e, "ip", "String");
        return -1;
    }
    if (naming_check_ip("ip", k->ip, e)) return -1;
    if (k->port < 1 || k->port > 65535) {
        naming_err_set(e, NAMING_PARAM_INVALID, 400, "Param 'port' must be a port from 1 to 65535, got %d", k->port);
        return -1;
    }
    return naming_check_name("clusterName", k->cluster, strlen(k->cluster), e);
}

int nc_check_weight(double w, struct naming_err *e)
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

/* A snowflake-style small integer id for a new instance of the service (metadata
 * preserved.instance.id.generator=snowflake; other instances get ip#port#cluster#group@@service, made
 * by prepare). 0, or the store's error (-1, STORE_SLOW). */
static int new_numeric_id(struct app *app, int64_t service_id, char *out, size_t outlen)
{
    long id;
    int rc = store_instance_next_numeric_id(app->store, service_id, &id);
    if (rc) return rc;
    snprintf(out, outlen, "%ld", id);
    return 0;
}

static int check_instance(const struct app *app, struct nc_instance *in, int64_t *interval, int64_t *timeout,
                          int64_t *del, struct naming_err *e)
{
    if (nc_check_key(&in->k, e) || nc_check_weight(in->weight, e)) return -1;
    return nc_instance_timeouts(app, in->metadata, interval, timeout, del, e);
}

/* An instance checked and ready to write: defaults filled (ns, cluster), timings, metadata text, and
 * the id a new instance gets (formatted here, outside any lock; "" when the store must choose it:
 * snowflake-style numeric ids). */
struct prepared {
    struct nc_instance in;
    int64_t interval, timeout, del;
    char *md_text;
    char new_id[GROUPED_MAX + 600];
};

/* Checks in_ into *p (free with prepared_free). 0, or -1 with e. Needs no lock. */
static int prepare(const struct app *app, const struct nc_instance *in_, struct prepared *p, struct naming_err *e)
{
    memset(p, 0, sizeof *p);
    p->in = *in_;
    if (check_instance(app, &p->in, &p->interval, &p->timeout, &p->del, e)) return -1;
    if (!(p->md_text = cJSON_PrintUnformatted(p->in.metadata))) {
        naming_err_set(e, NAMING_STORE, 500, "out of memory");
        return -1;
    }
    const cJSON *gen = cJSON_GetObjectItemCaseSensitive(p->in.metadata, MD_ID_GENERATOR);
    if (!cJSON_IsString(gen) || strcmp(gen->valuestring, "snowflake"))
        naming_instance_id(p->new_id, sizeof p->new_id, p->in.k.ip, p->in.k.port, p->in.k.cluster, p->in.k.service);
    return 0;
}

static void prepared_free(struct prepared *p)
{
    cJSON_free(p->md_text);
    p->md_text = NULL;
}

/* Writes one prepared instance inside the caller's transaction (no commit, no notification): *sid gets
 * its service. 0, -1 with e (NAMING_STORE: the caller rolls back), or STORE_SLOW: an alone transaction
 * (store.h) met what needs app->mu — a new service, a persistent instance with the key, another
 * connection's instance (e untouched; the caller rolls back and writes again under app->mu). */
static int write_one(struct app *app, const struct prepared *p, enum nc_write_mode mode, uint64_t owner,
                     int64_t now_ms, int64_t *sid_out, struct naming_err *e)
{
    int rc = -1, g;
    struct instance_rec old = {0};
    bool have_old = false;
    int64_t sid = 0;
    const struct nc_key *k = &p->in.k;
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
    } else if ((g = store_service_ensure(app->store, k->ns, k->service, now_ms, &sid))) {
        rc = g;
        goto store_failed;
    }
    g = store_instance_get(app->store, sid, k->cluster, k->ip, k->port, &old);
    if (g < 0) {
        rc = g;
        goto store_failed;
    }
    have_old = g == 0;
    if (!have_old && mode == NC_UPDATE_EXISTING) {
        naming_err_set(e, NAMING_INSTANCE_NOT_FOUND, 500,
                       "instance not exist: %s:%d in cluster %s of service %s (namespace %s)", k->ip, k->port,
                       k->cluster, k->service, k->ns);
        goto out;
    }
    char idbuf[GROUPED_MAX + 600];
    const char *new_id = p->new_id;
    if (!have_old && !*new_id) {   /* numbered by the store */
        if ((g = new_numeric_id(app, sid, idbuf, sizeof idbuf))) {
            rc = g;
            goto store_failed;
        }
        new_id = idbuf;
    }

    bool register_like = mode == NC_REGISTER || !have_old;
    struct instance_rec rec = {
        .service_id = sid, .cluster = k->cluster, .ip = k->ip, .port = k->port,
        .instance_id = have_old ? NULL : new_id, .weight = p->in.weight, .enabled = p->in.enabled,
        .healthy = register_like ? p->in.healthy : (p->in.healthy_given ? p->in.healthy : old.healthy),
        .ephemeral = register_like ? p->in.ephemeral : (p->in.ephemeral_given ? p->in.ephemeral : old.ephemeral),
        .marked = have_old ? old.marked : false, .metadata = p->md_text, .app = p->in.app,
        .registered_ms = have_old ? old.registered_ms : now_ms,
        .last_beat_ms = register_like ? now_ms : old.last_beat_ms,
        .hb_interval_ms = p->interval, .hb_timeout_ms = p->timeout, .delete_timeout_ms = p->del,
        .owner = register_like ? owner : old.owner,
    };
    if (rec.owner && !rec.ephemeral) rec.owner = 0;   /* only ephemeral instances belong to a connection */
    /* connection clients (clients.h) are kept under app->mu: a write that moves ownership needs it */
    if (((have_old && old.owner && old.owner != rec.owner) || rec.owner) && !app_holds_lock(app)) {
        rc = STORE_SLOW;
        goto out;
    }
    if ((g = store_instance_write(app->store, &rec, have_old ? old.id : 0))) {
        rc = g;
        goto store_failed;
    }
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
    if (rc != STORE_SLOW) {
        rc = -1;
        naming_err_set(e, NAMING_STORE, 500, "registry store error: %s", store_errmsg(app->store));
    }
out:
    if (have_old) store_instance_rec_free(&old);
    return rc;
}

/* nc_register's one transaction: alone (store.h) without app->mu, else under it. 0, -1, STORE_SLOW. */
static int register_once(struct app *app, const struct prepared *p, enum nc_write_mode mode, uint64_t owner,
                         int64_t now_ms, bool alone, struct naming_err *e)
{
    struct store *st = app->store;
    const struct nc_key *k = &p->in.k;
    if (alone ? store_begin_service(st, k->ns, k->service, true) : store_begin(st)) return store_err(app, e);
    int64_t sid = 0;
    int rc = write_one(app, p, mode, owner, now_ms, &sid, e);
    if (rc) {
        store_rollback(st);
        return rc;
    }
    app_service_changed(app, now_ms, sid, k->ns, k->service);
    if (store_commit(st)) return store_err(app, e);
    app_event_instance(app, mode == NC_REGISTER ? EV_REGISTERED : EV_UPDATED, now_ms, k->ns, k->service, k->cluster,
                       k->ip, k->port);
    return 0;
}

int nc_register(struct app *app, const struct nc_instance *in, enum nc_write_mode mode, uint64_t owner,
                int64_t now_ms, struct naming_err *e)
{
    struct prepared p;
    if (prepare(app, in, &p, e)) {
        prepared_free(&p);
        return -1;
    }
    int rc = STORE_SLOW;
    bool mine = !app_holds_lock(app);
    /* an ephemeral instance over HTTP: its service's shard alone, no registry lock, no SQLite */
    if (mine && p.in.ephemeral && !owner) rc = register_once(app, &p, mode, owner, now_ms, true, e);
    if (rc == STORE_SLOW) {
        if (mine) app_lock(app);
        rc = register_once(app, &p, mode, owner, now_ms, false, e);
        if (mine) app_unlock(app);
    }
    prepared_free(&p);
    return rc;
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

/* nc_deregister's one transaction: alone (store.h) without app->mu, else under it. 0, -1, STORE_SLOW. */
static int deregister_once(struct app *app, const struct nc_key *k, bool ephemeral, uint64_t owner, int64_t now_ms,
                           bool alone, struct naming_err *e)
{
    struct store *st = app->store;
    if (alone ? store_begin_service(st, k->ns, k->service, true) : store_begin(st)) return store_err(app, e);
    int64_t id = 0, rev = 0;
    int d = store_service_state(st, k->ns, k->service, &id, &rev);
    if (d == 0) d = delete_one(app, id, k, ephemeral, owner);
    if (d == 0 && store_service_touch(st, id, now_ms, clock_real_ms())) d = -1;
    if (d < 0) {
        if (d == STORE_SLOW) store_rollback(st);
        return d == STORE_SLOW ? d : store_err(app, e);
    }
    if (store_commit(st)) return store_err(app, e);
    if (d == 0) {   /* else an unknown service or instance: a silent no-op, as in Nacos */
        subs_changed(app->subs, k->ns, k->service);
        events_instance_key(app->events, EV_DEREGISTERED, now_ms, k->ns, k->service, k->cluster, k->ip, k->port,
                            ephemeral, NULL);
    }
    return 0;
}

int nc_deregister(struct app *app, const struct nc_key *k_, bool ephemeral, uint64_t owner, int64_t now_ms,
                  struct naming_err *e)
{
    struct nc_key k = *k_;
    if (nc_check_key(&k, e)) return -1;
    int rc = STORE_SLOW;
    bool mine = !app_holds_lock(app);
    if (mine && ephemeral && !owner) rc = deregister_once(app, &k, ephemeral, owner, now_ms, true, e);
    if (rc == STORE_SLOW) {
        if (mine) app_lock(app);
        rc = deregister_once(app, &k, ephemeral, owner, now_ms, false, e);
        if (mine) app_unlock(app);
    }
    return rc;
}

int nc_batch_register(struct app *app, const char *ns, const char *service, const struct nc_instance *v, size_t n,
                      uint64_t owner, int64_t now_ms, struct naming_err *e)
{
    if (!ns || !*ns) ns = DEFAULT_NAMESPACE;
    struct prepared *pv = calloc(n ? n : 1, sizeof *pv);
    if (!pv) {
        naming_err_set(e, NAMING_STORE, 500, "out of memory");
        return -1;
    }
    int rc = -1;
    for (size_t i = 0; i < n; i++) {   /* all or nothing: every instance is checked before anything is written */
        struct nc_instance in = v[i];
        in.k.ns = ns;
        in.k.service = service;
        if (prepare(app, &in, &pv[i], e)) goto out;
    }
    struct client *cl = owner ? clients_get(app->clients, owner) : NULL;
    if (store_begin(app->store)) {
        rc = store_err(app, e);
        goto out;
    }
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
        if (f < 0) {
            rc = store_err(app, e);
            goto out;
        }
        if (f == 0) {
            sid = s.id;
            store_service_rec_free(&s);
            struct nc_key k = {ck->ns, ck->service, ck->cluster, ck->ip, ck->port};
            int d = delete_one(app, sid, &k, true, owner);   /* 0: deleted and disowned */
            if (d < 0) {
                rc = store_err(app, e);
                goto out;
            }
            if (d == 1) client_disown(cl, ck->ns, ck->service, ck->cluster, ck->ip, ck->port);
        } else {
            client_disown(cl, ck->ns, ck->service, ck->cluster, ck->ip, ck->port);
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (write_one(app, &pv[i], NC_REGISTER, owner, now_ms, &sid, e)) {
            store_rollback(app->store);
            goto out;
        }
    }
    rc = 0;
    if (!sid) {   /* an empty batch into a service that does not exist: nothing to change */
        store_rollback(app->store);
        goto out;
    }
    app_service_changed(app, now_ms, sid, ns, service);
    if (store_commit(app->store)) {
        rc = store_err(app, e);
        goto out;
    }
    events_registry(app->events, EV_UPDATED, now_ms, ns, service, "batch register", (long)n);   /* now exactly these */
    for (size_t i = 0; i < n; i++)
        app_event_instance(app, EV_REGISTERED, now_ms, ns, service, v[i].k.cluster, v[i].k.ip, v[i].k.port);
out:
    for (size_t i = 0; i < n; i++) prepared_free(&pv[i]);
    free(pv);
    return rc;
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
    if (nc_check_key(&k, e) || (p->weight && nc_check_weight(*p->weight, e))) return -1;
    int64_t sid = 0;
    struct instance_rec cur;
    /* one transaction: no list sees the change before its stamp (store.h, "Locking") */
    if (store_begin(app->store)) return store_err(app, e);
    int f = find_instance(app, &k, &sid, &cur);
    if (f < 0) return store_err(app, e);
    if (f > 0) {
        store_rollback(app->store);
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
    if (store_commit(app->store)) {
        store_err(app, e);
        goto out;
    }
    app_event_instance(app, EV_UPDATED, now_ms, k.ns, k.service, k.cluster, k.ip, k.port);
    rc = 0;
out:
    if (rc) store_rollback(app->store);
    cJSON_free(md_text);
    store_instance_rec_free(&cur);
    return rc;
}

struct cluster_probe { const char *cluster; long n; };

static int count_cluster(void *ctx, const struct instance_rec *r)
{
    struct cluster_probe *cp = ctx;
    if (!cp->cluster || strcmp(r->cluster, cp->cluster) == 0) cp->n++;
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
    if (store_begin(app->store)) return store_err(app, e);   /* the change and its stamp at once */
    int f = find_instance(app, &k, &sid, &r);
    if (f < 0) return store_err(app, e);
    if (f > 0) store_rollback(app->store);
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
    bool changed = r.healthy != healthy;
    if (changed) {
        if (store_instance_set_health(app->store, r.id, healthy)) rc = store_err(app, e);
        else app_service_changed(app, now_ms, sid, k.ns, k.service);
    }
    if (rc == 0 && store_commit(app->store)) rc = store_err(app, e);
    if (rc == 0 && changed) {
        log_transition(r.instance_id, k.ns, k.service, r.healthy ? "HEALTHY" : "UNHEALTHY",
                       healthy ? "HEALTHY" : "UNHEALTHY", now_ms - r.last_beat_ms);
        events_health(app->events, now_ms, k.ns, k.service, r.instance_id, k.cluster, k.ip, k.port,
                      r.healthy ? "HEALTHY" : "UNHEALTHY", healthy ? "HEALTHY" : "UNHEALTHY", now_ms - r.last_beat_ms);
    }
    store_instance_rec_free(&r);
    return rc;
}

/* The beat in one transaction of its service (alone: without app->mu, store.h), the service stamped
 * when it restores health. 0 found, 1 unknown, -1 error, STORE_SLOW. */
static int beat_once(struct app *app, const struct nc_key *k, int64_t now_ms, bool alone, struct beat_result *br)
{
    struct store *st = app->store;
    store_begin_service(st, k->ns, k->service, alone);
    int f = store_instance_beat(st, k->ns, k->service, k->cluster, k->ip, k->port, now_ms, br);
    if (f == 0 && br->was_unhealthy && store_service_touch(st, br->service_id, now_ms, clock_real_ms())) f = -1;
    if (f < 0) {
        store_rollback(st);
        return f;
    }
    return store_commit(st) ? -1 : f;
}

int nc_beat(struct app *app, const struct nc_key *k_, const struct nc_beat_full *full, int64_t now_ms, int *code,
            int64_t *interval_ms, struct naming_err *e)
{
    struct nc_key k = *k_;
    if (nc_check_key(&k, e)) return -1;
    struct beat_result br;
    int f = STORE_SLOW;
    bool mine = !app_holds_lock(app);
    /* an instance in memory: its service's shard alone, no registry lock (persistent: SQLite, under it) */
    if (mine) f = beat_once(app, &k, now_ms, true, &br);
    if (f == STORE_SLOW) {
        if (mine) app_lock(app);
        f = beat_once(app, &k, now_ms, false, &br);
        if (mine) app_unlock(app);
    }
    if (f < 0) return store_err(app, e);
    if (f == 0) {
        if (br.was_unhealthy) {
            log_transition(br.instance_id, k.ns, k.service, "UNHEALTHY", "HEALTHY", now_ms - br.prev_beat_ms);
            events_health(app->events, now_ms, k.ns, k.service, br.instance_id, k.cluster, k.ip, k.port, "UNHEALTHY",
                          "HEALTHY", now_ms - br.prev_beat_ms);
            subs_changed(app->subs, k.ns, k.service);
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
    if (nc_check_weight(full->weight, e)) {
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
        naming_err_missing(e, "serviceName", "String");
        return -1;
    }
    return 0;
}

/* Checks (*ns, defaulted to public, and service) and looks the service up: 0 found (*s owned), 1
 * unknown (e untouched), -1 with e. */
static int lookup_service(struct app *app, const char **ns, const char *service, struct service_rec *s,
                          struct naming_err *e)
{
    if (!*ns || !**ns) *ns = DEFAULT_NAMESPACE;
    if (check_service(*ns, service, e)) return -1;
    int f = store_service_get(app->store, *ns, service, s);
    return f < 0 ? store_err(app, e) : f;
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

/* Deletes (ns, service): 1.x drops its instances with it, 2.x (empty_only) refuses while it has any. */
static int service_delete(struct app *app, const char *ns, const char *service, bool empty_only, int64_t now_ms,
                          struct naming_err *e)
{
    struct service_rec s;
    int f = lookup_service(app, &ns, service, &s, e);
    if (f < 0) return -1;
    if (f == 1) {
        if (empty_only) naming_err_set(e, NAMING_SERVICE_NOT_FOUND, 400, "service %s not found!", service);
        else naming_err_set(e, NAMING_SERVICE_NOT_FOUND, 400, "specified service not exist, serviceName : %s", service);
        return -1;
    }
    if (empty_only) {
        struct cluster_probe cp = {NULL, 0};
        if (store_instance_foreach(app->store, s.id, count_cluster, &cp)) {
            store_service_rec_free(&s);
            return store_err(app, e);
        }
        if (cp.n) {
            naming_err_set(e, NAMING_SERVICE_NOT_EMPTY, 400,
                           "Service %s is not empty, can't be delete. Please unregister instance first", service);
            store_service_rec_free(&s);
            return -1;
        }
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

int nc_service_delete(struct app *app, const char *ns, const char *service, int64_t now_ms, struct naming_err *e)
{
    return service_delete(app, ns, service, false, now_ms, e);
}

int nc_service_delete_empty(struct app *app, const char *ns, const char *service, int64_t now_ms, struct naming_err *e)
{
    return service_delete(app, ns, service, true, now_ms, e);
}

int nc_service_update(struct app *app, const struct nc_service *s, int64_t now_ms, struct naming_err *e)
{
    const char *ns = s->ns;
    struct service_rec cur;
    int f = lookup_service(app, &ns, s->service, &cur, e);
    if (f < 0) return -1;
    if (f == 1) {
        naming_err_set(e, NAMING_SERVICE_NOT_FOUND, 500, "service %s not found!", s->service);
        return -1;
    }
    /* the threshold changes what lists answer: the change and its stamp in one transaction */
    int rc = store_begin(app->store) || store_service_update(app->store, cur.id, s->protect_threshold, s->metadata,
                                                             s->selector);
    if (rc == 0) app_service_changed(app, now_ms, cur.id, ns, s->service);
    if (rc == 0) rc = store_commit(app->store);
    if (rc == 0) events_registry(app->events, EV_UPDATED, now_ms, ns, s->service, "service updated", -1);
    store_service_rec_free(&cur);
    return rc ? store_err(app, e) : 0;
}

int nc_service_get(struct app *app, const char *ns, const char *service, struct service_rec *out, struct naming_err *e)
{
    int f = lookup_service(app, &ns, service, out, e);
    if (f < 0) return -1;
    if (f == 1) {
        naming_err_set(e, NAMING_SERVICE_NOT_FOUND, 500, "service %s is not found!", service);
        return -1;
    }
    return 0;
}

struct cluster_seen {
    char **names;
    size_t n, cap;
    bool oom;
    void (*cb)(void *ctx, const char *cluster, const char *checker);
    void *ctx;
};

static int cluster_visit(void *ctx, const struct instance_rec *r)
{
    struct cluster_seen *cs = ctx;
    for (size_t i = 0; i < cs->n; i++)
        if (!strcmp(cs->names[i], r->cluster)) return 0;
    char *name = util_grow((void **)&cs->names, &cs->cap, cs->n, sizeof *cs->names) ? NULL : strdup(r->cluster);
    if (!name) {
        cs->oom = true;
        return 1;
    }
    cs->names[cs->n++] = name;
    cs->cb(cs->ctx, r->cluster, r->ephemeral ? "TCP" : "NONE");
    return 0;
}

int nc_service_clusters(struct app *app, int64_t service_id, void (*cb)(void *ctx, const char *cluster,
                                                                         const char *checker),
                        void *ctx, struct naming_err *e)
{
    struct cluster_seen cs = {.cb = cb, .ctx = ctx};
    int rc = store_instance_foreach(app->store, service_id, cluster_visit, &cs);
    for (size_t i = 0; i < cs.n; i++) free(cs.names[i]);
    free(cs.names);
    if (cs.oom) {
        naming_err_set(e, NAMING_STORE, 500, "out of memory");
        return -1;
    }
    return rc ? store_err(app, e) : 0;
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

/* ------------------------------------------------------------------ metadata batch */

struct batch_pick {
    const struct nc_metadata_batch *b;
    struct nc_key *hits;       /* cluster, ip copied into one allocation each (through cluster) */
    size_t n, cap;
    bool oom;
};

static bool batch_named(const struct nc_metadata_batch *b, const struct instance_rec *r)
{
    if (b->n_targets == 0) return true;
    for (size_t i = 0; i < b->n_targets; i++) {
        const struct nc_key *t = &b->targets[i];
        const char *cl = t->cluster && *t->cluster ? t->cluster : DEFAULT_CLUSTER;
        if (t->port == r->port && t->ip && !strcmp(t->ip, r->ip) && !strcmp(cl, r->cluster)) return true;
    }
    return false;
}

static int batch_collect(void *ctx, const struct instance_rec *r)
{
    struct batch_pick *bp = ctx;
    if (r->ephemeral != bp->b->ephemeral || !batch_named(bp->b, r)) return 0;
    size_t lc = strlen(r->cluster) + 1, li = strlen(r->ip) + 1;
    char *p = util_grow((void **)&bp->hits, &bp->cap, bp->n, sizeof *bp->hits) ? NULL : malloc(lc + li);
    if (!p) {
        bp->oom = true;
        return 1;
    }
    bp->hits[bp->n++] = (struct nc_key){.cluster = memcpy(p, r->cluster, lc), .ip = memcpy(p + lc, r->ip, li),
                                        .port = r->port};
    return 0;
}

int nc_metadata_batch(struct app *app, const struct nc_metadata_batch *b, int64_t now_ms,
                      void (*updated)(void *ctx, const struct instance_rec *r), void *ctx, struct naming_err *e)
{
    const char *ns = b->ns;
    struct service_rec s;
    int f = lookup_service(app, &ns, b->service, &s, e);
    if (f < 0) return -1;
    if (f == 1) {
        naming_err_set(e, NAMING_SERVICE_NOT_FOUND, 500, "service not found, namespace: %s, service: %s", ns,
                       b->service);
        return -1;
    }
    int64_t sid = s.id;
    store_service_rec_free(&s);
    /* the instances are picked first: the store cannot be written while it is being walked */
    struct batch_pick bp = {.b = b};
    int rc = -1;
    if (store_instance_foreach(app->store, sid, batch_collect, &bp) || bp.oom) {
        if (bp.oom) naming_err_set(e, NAMING_STORE, 500, "out of memory");
        else store_err(app, e);
        goto out;
    }
    if (store_begin(app->store)) {
        store_err(app, e);
        goto out;
    }
    for (size_t i = 0; i < bp.n; i++) {
        struct instance_rec r;
        if (store_instance_get(app->store, sid, bp.hits[i].cluster, bp.hits[i].ip, bp.hits[i].port, &r) != 0) continue;
        cJSON *md = json_object_or_empty(r.metadata);
        for (const cJSON *kv = b->metadata ? b->metadata->child : NULL; kv && md; kv = kv->next) {
            cJSON_DeleteItemFromObjectCaseSensitive(md, kv->string);
            if (!b->remove && cJSON_IsString(kv)) cJSON_AddStringToObject(md, kv->string, kv->valuestring);
        }
        char *text = md ? cJSON_PrintUnformatted(md) : NULL;
        int bad = nc_instance_timeouts(app, md, &r.hb_interval_ms, &r.hb_timeout_ms, &r.delete_timeout_ms, e);
        cJSON_Delete(md);
        r.metadata = text;
        r.instance_id = NULL;   /* keep */
        int w = bad ? -1 : !text ? -2 : store_instance_upsert(app->store, &r, NULL) ? -3 : 0;
        if (w == 0 && updated) updated(ctx, &r);
        cJSON_free(text);
        store_instance_rec_free(&r);
        if (w) {
            if (w == -2) naming_err_set(e, NAMING_STORE, 500, "out of memory");
            if (w == -3) naming_err_set(e, NAMING_STORE, 500, "registry store error: %s", store_errmsg(app->store));
            store_rollback(app->store);
            goto out;
        }
    }
    if (bp.n) app_service_changed(app, now_ms, sid, ns, b->service);
    if (store_commit(app->store)) {
        store_err(app, e);
        goto out;
    }
    rc = 0;
out:
    for (size_t i = 0; i < bp.n; i++) free((char *)bp.hits[i].cluster);
    free(bp.hits);
    return rc;
}

/* ------------------------------------------------------------------ clients (views) */

/* "ip:port#true" / "ip:port#false". */
static void ipport_id(char *out, size_t n, const char *ip, int port, bool ephemeral)
{
    snprintf(out, n, "%s:%d#%s", ip, port, ephemeral ? "true" : "false");
}

/* Parses an ip:port client id. 0, -1 when id is not of that form. */
static int ipport_parse(const char *id, char *ip, size_t iplen, int *port, bool *ephemeral)
{
    const char *hash = strrchr(id, '#');
    if (!hash || (strcmp(hash + 1, "true") && strcmp(hash + 1, "false"))) return -1;
    const char *colon = hash;
    while (colon > id && colon[-1] != ':') colon--;
    if (colon <= id + 1) return -1;
    char num[16];
    size_t nlen = (size_t)(hash - colon), alen = (size_t)(colon - 1 - id);
    long long p;
    if (nlen == 0 || nlen >= sizeof num || alen >= iplen) return -1;
    memcpy(num, colon, nlen);
    num[nlen] = '\0';
    if (params_strtoll(num, &p) || p < 1 || p > 65535) return -1;
    memcpy(ip, id, alen);
    ip[alen] = '\0';
    *port = (int)p;
    *ephemeral = hash[1] == 't';
    return 0;
}

/* The peer of a connection ("ip:port" or "[ip]:port") split. */
static void conn_client(const struct client *c, struct nc_client *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->id, sizeof out->id, "%s", c->id);
    out->connection = true;
    out->ephemeral = true;
    out->last_updated_ms = c->last_active_ms;
    out->conn = c;
    const char *r = c->remote, *colon = strrchr(r, ':');
    size_t n = colon ? (size_t)(colon - r) : strlen(r);
    if (*r == '[' && n >= 2 && r[n - 1] == ']') {
        r++;
        n -= 2;
    }
    snprintf(out->ip, sizeof out->ip, "%.*s", (int)n, r);
    long long port = 0;
    out->port = colon && params_strtoll(colon + 1, &port) == 0 && port > 0 && port < 65536 ? (int)port : 0;
}

/* The ip:port clients: distinct (ip, port, kind) of the instances no connection owns. */
struct ipport_set {
    struct nc_client *v;
    size_t n, cap;
    bool oom;
    const char *only_ip;       /* collect only this address (lookup by id); NULL = all */
    int only_port;
    bool only_ephemeral;
};

static int ipport_collect(void *ctx, const struct instance_rec *r)
{
    struct ipport_set *set = ctx;
    if (r->owner) return 0;
    if (set->only_ip && (r->port != set->only_port || r->ephemeral != set->only_ephemeral || strcmp(r->ip, set->only_ip)))
        return 0;
    for (size_t i = 0; i < set->n; i++) {   /* the same address in other services: small sets, a scan will do */
        struct nc_client *c = &set->v[i];
        if (c->port == r->port && c->ephemeral == r->ephemeral && !strcmp(c->ip, r->ip)) {
            if (r->last_beat_ms > c->last_updated_ms) c->last_updated_ms = r->last_beat_ms;
            return 0;
        }
    }
    if (util_grow((void **)&set->v, &set->cap, set->n, sizeof *set->v)) {
        set->oom = true;
        return 1;
    }
    struct nc_client *c = &set->v[set->n++];
    memset(c, 0, sizeof *c);
    snprintf(c->ip, sizeof c->ip, "%s", r->ip);
    c->port = r->port;
    c->ephemeral = r->ephemeral;
    c->last_updated_ms = r->last_beat_ms;
    ipport_id(c->id, sizeof c->id, r->ip, r->port, r->ephemeral);
    return 0;
}

static int ipport_order(const void *a, const void *b)
{
    const struct nc_client *x = a, *y = b;
    int c = strcmp(x->ip, y->ip);
    if (c) return c;
    if (x->port != y->port) return x->port < y->port ? -1 : 1;
    return (int)y->ephemeral - (int)x->ephemeral;   /* #true first */
}

static int ipport_clients(struct app *app, struct ipport_set *set, struct naming_err *e)
{
    if (store_instance_foreach_all(app->store, ipport_collect, set) || set->oom) {
        free(set->v);
        set->v = NULL;
        if (set->oom) naming_err_set(e, NAMING_STORE, 500, "out of memory");
        else store_err(app, e);
        return -1;
    }
    if (set->n > 1) qsort(set->v, set->n, sizeof *set->v, ipport_order);
    return 0;
}

struct conn_walk {
    nc_client_cb cb;
    void *ctx;
    int stopped;
};

static int conn_visit(void *ctx, struct client *c)
{
    struct conn_walk *w = ctx;
    struct nc_client v;
    conn_client(c, &v);
    return w->stopped = w->cb(w->ctx, &v);
}

int nc_client_foreach(struct app *app, nc_client_cb cb, void *ctx, struct naming_err *e)
{
    struct ipport_set set = {0};
    if (ipport_clients(app, &set, e)) return -1;
    int stop = 0;
    for (size_t i = 0; i < set.n && !stop; i++) stop = cb(ctx, &set.v[i]);
    free(set.v);
    struct conn_walk w = {cb, ctx, 0};
    if (!stop) clients_foreach(app->clients, conn_visit, &w);
    return 0;
}

int nc_client_get(struct app *app, const char *id, struct nc_client *out, struct naming_err *e)
{
    char ip[300];
    int port;
    bool eph;
    if (ipport_parse(id, ip, sizeof ip, &port, &eph) == 0) {
        struct ipport_set set = {.only_ip = ip, .only_port = port, .only_ephemeral = eph};
        if (ipport_clients(app, &set, e)) return -1;
        bool found = set.n > 0;
        if (found) *out = set.v[0];
        free(set.v);
        if (found) return 0;
    } else {
        const struct client *c = clients_find(app->clients, id);
        if (c) {
            conn_client(c, out);
            return 0;
        }
    }
    naming_err_set(e, NAMING_CLIENT_NOT_FOUND, 404, "clientId [ %s ] not exist", id);
    return -1;
}

struct published_walk {
    const struct nc_client *c;
    store_instance_cb cb;
    void *ctx;
};

static int published_visit(void *ctx, const struct instance_rec *r)
{
    struct published_walk *w = ctx;
    if (r->owner || r->port != w->c->port || r->ephemeral != w->c->ephemeral || strcmp(r->ip, w->c->ip)) return 0;
    return w->cb(w->ctx, r);
}

int nc_client_published(struct app *app, const char *id, store_instance_cb cb, void *ctx, struct naming_err *e)
{
    struct nc_client c;
    if (nc_client_get(app, id, &c, e)) return -1;
    if (!c.connection) {
        struct published_walk w = {&c, cb, ctx};
        return store_instance_foreach_all(app->store, published_visit, &w) ? store_err(app, e) : 0;
    }
    for (size_t i = 0; i < c.conn->n_owned; i++) {
        const struct client_key *k = &c.conn->owned[i];
        struct service_rec s;
        struct instance_rec r;
        int f = store_service_get(app->store, k->ns, k->service, &s);
        if (f < 0) return store_err(app, e);
        if (f == 1) continue;
        int g = store_instance_get(app->store, s.id, k->cluster, k->ip, k->port, &r);
        store_service_rec_free(&s);
        if (g < 0) return store_err(app, e);
        if (g == 1) continue;
        int stop = cb(ctx, &r);
        store_instance_rec_free(&r);
        if (stop) break;
    }
    return 0;
}

int nc_client_subscribed(struct app *app, const char *id,
                         void (*cb)(void *ctx, const char *ns, const char *service, const char *clusters), void *ctx,
                         struct naming_err *e)
{
    struct nc_client c;
    if (nc_client_get(app, id, &c, e)) return -1;
    if (c.connection) subs_foreach_conn(app->subs, c.conn->serial, cb, ctx);
    return 0;
}

struct publisher_walk {
    struct app *app;
    const char *ip;
    int port;
    int (*cb)(void *ctx, const char *client_id, const struct instance_rec *r);
    void *ctx;
};

static int publisher_visit(void *ctx, const struct instance_rec *r)
{
    struct publisher_walk *w = ctx;
    if ((w->ip && strcmp(w->ip, r->ip)) || (w->port && w->port != r->port)) return 0;
    char id[400];
    const struct client *c = r->owner ? clients_get(w->app->clients, r->owner) : NULL;
    if (c) snprintf(id, sizeof id, "%s", c->id);
    else ipport_id(id, sizeof id, r->ip, r->port, r->ephemeral);
    return w->cb(w->ctx, id, r);
}

int nc_service_publishers(struct app *app, const char *ns, const char *service, const char *ip, int port,
                          int (*cb)(void *ctx, const char *client_id, const struct instance_rec *r), void *ctx,
                          struct naming_err *e)
{
    struct service_rec s;
    int f = lookup_service(app, &ns, service, &s, e);
    if (f) return f < 0 ? -1 : 0;   /* an unknown service has none */
    struct publisher_walk w = {app, ip, port, cb, ctx};
    int rc = store_instance_foreach(app->store, s.id, publisher_visit, &w);
    store_service_rec_free(&s);
    return rc ? store_err(app, e) : 0;
}

struct subscriber_walk {
    struct subs *app_subs;
    const char *ns, *service, *ip;
    int port;
    bool hit;
    nc_client_cb cb;
    void *ctx;
};

static void subscriber_match(void *ctx, const char *ns, const char *service, const char *clusters)
{
    struct subscriber_walk *w = ctx;
    if (!strcmp(ns, w->ns) && !strcmp(service, w->service)) w->hit = true;
}

static int subscriber_visit(void *ctx, struct client *c)
{
    struct subscriber_walk *w = ctx;
    struct nc_client v;
    conn_client(c, &v);
    if ((w->ip && strcmp(w->ip, v.ip)) || w->port) return 0;   /* a connection subscriber's port is 0 */
    w->hit = false;
    subs_foreach_conn(w->app_subs, c->serial, subscriber_match, w);
    return w->hit ? w->cb(w->ctx, &v) : 0;
}

int nc_service_subscribers(struct app *app, const char *ns, const char *service, const char *ip, int port,
                           nc_client_cb cb, void *ctx, struct naming_err *e)
{
    if (!ns || !*ns) ns = DEFAULT_NAMESPACE;
    if (check_service(ns, service, e)) return -1;
    struct subscriber_walk w = {.ns = ns, .service = service, .ip = ip, .port = port, .cb = cb, .ctx = ctx,
                                .app_subs = app->subs};
    clients_foreach(app->clients, subscriber_visit, &w);
    return 0;
}

static int count_client(void *ctx, const struct nc_client *c)
{
    struct nc_client_counts *n = ctx;
    if (c->connection) n->connection++;
    else if (c->ephemeral) n->ephemeral_ip_port++;
    else n->persistent_ip_port++;
    return 0;
}

int nc_client_counts(struct app *app, struct nc_client_counts *out, struct naming_err *e)
{
    memset(out, 0, sizeof *out);
    return nc_client_foreach(app, count_client, out, e);
}

/* ------------------------------------------------------------------ connection clients */

int nc_subscribe(struct app *app, uint64_t owner, const char *ns, const char *service, const char *clusters,
                 bool subscribe, struct naming_err *e)
{
    if (!ns || !*ns) ns = DEFAULT_NAMESPACE;
    if (check_service(ns, service, e)) return -1;
    if (!subscribe) {
        subs_remove_conn(app->subs, owner, ns, service);
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
    bool txn = c && c->n_owned && store_begin(app->store) == 0;   /* each removal with its stamp */
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
    if (txn && store_commit(app->store)) store_rollback(app->store);   /* memory: cannot fail */
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
