/*
 * app.c — the context: store, clock, subscribers, clients, faults, journal, metrics, and the change
 * hook (see app.h). Listeners and threads are started above it, in server.c.
 */
#include "nacos_mock/app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "nacos_mock/clients.h"
#include "nacos_mock/cs_core.h"
#include "nacos_mock/faults.h"
#include "nacos_mock/journal.h"
#include "nacos_mock/list_cache.h"
#include "nacos_mock/metrics.h"
#include "nacos_mock/naming.h"
#include "nacos_mock/reply.h"
#include "nacos_mock/store.h"
#include "nacos_mock/subs.h"
#include "nacos_mock/util.h"

static const char *const STATUS_NAMES[] = {"UP", "DOWN", "STARTING", "PAUSED", "WRITE_ONLY", "READ_ONLY", "OFFLINE"};

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

int app_status_of(struct app *app, int node)
{
    if (node < 0 || node >= app->n_nodes) node = 0;
    int own = atomic_load(&app->nodes[node].status);
    return own != STATUS_UP ? own : atomic_load(&app->status);
}

/* The config center's change hook: a `config` event (control-api.md "Events stream"). */
static void config_changed(void *ctx, const struct cs_change *c)
{
    struct app *app = ctx;
    events_config(app->events, clock_now_ms(&app->clock), c->ns, c->group, c->data_id, c->md5, c->action, c->transport);
}

/* Which app's registry lock this thread holds (NULL: none). Per thread, keyed by the app, so two
 * servers in one process (tests) stay apart. */
static _Thread_local const struct app *tl_holder;

void app_lock(struct app *app)
{
    nm_lock(&app->mu, &app->mu_stat, &app->mu_t0);
    tl_holder = app;
}

void app_unlock(struct app *app)
{
    tl_holder = NULL;
    nm_unlock(&app->mu, &app->mu_stat, &app->mu_t0);
}

bool app_holds_lock(const struct app *app) { return tl_holder == app; }

static bool lock_probe(const void *app) { return tl_holder == app; }

int app_init(struct app *app, const struct config *cfg, char *err, size_t errlen)
{
    memset(app, 0, sizeof *app);
    app->cfg = cfg;
    pthread_mutex_init(&app->mu, NULL);
    clock_init(&app->clock);
    atomic_store(&app->status, STATUS_UP);
    app->n_nodes = cfg->nodes >= 1 && cfg->nodes <= APP_MAX_NODES ? cfg->nodes : 1;
    for (int i = 0; i < APP_MAX_NODES; i++) atomic_store(&app->nodes[i].status, STATUS_UP);
    app->started_ms = clock_real_ms();
    app->store = store_open(cfg->db_path, err, errlen);
    if (!app->store) return -1;
    store_set_lock_probe(app->store, lock_probe, app);   /* SQLite only under app->mu (store.h) */
    if (!(app->cs = cs_core_new(cfg->db_path, err, errlen))) return -1;   /* after store_open: the schema */
    if (!(app->list_cache = list_cache_new(LIST_CACHE_MAX_BYTES, LIST_CACHE_STRIPES))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!(app->subs = subs_create()) || !(app->clients = clients_create())) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!(app->events = events_create())) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    cs_set_change_hook(app->cs, config_changed, app);   /* every config change, on the events stream */
    if (!(app->metrics = metrics_create())) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!(app->journal = journal_create((size_t)cfg->journal_size))) {
        snprintf(err, errlen, "out of memory for a journal of %d requests", cfg->journal_size);
        return -1;
    }
    uint64_t seed = cfg->seed;
    if (!cfg->seed_given) {
        FILE *f = fopen("/dev/urandom", "rb");
        if (!f || fread(&seed, sizeof seed, 1, f) != 1) seed = (uint64_t)clock_real_ms() ^ (uint64_t)getpid();
        if (f) fclose(f);
        seed %= 1000000000000ULL;   /* short enough to retype */
    }
    if (auth_init(&app->auth, cfg->auth, seed ^ (uint64_t)clock_real_ms() ^ ((uint64_t)getpid() << 32))) {
        snprintf(err, errlen, "--auth must be USER:PASS");
        return -1;
    }
    if (!(app->faults = faults_create(seed))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    faults_set_nodes(app->faults, app->n_nodes);
    return app_load_start_faults(app, err, errlen);
}

int app_load_start_faults(struct app *app, char *err, size_t errlen)
{
    const struct config *cfg = app->cfg;
    char why[512];
    for (size_t i = 0; i < cfg->n_fault_specs; i++) {
        cJSON *j = faults_compact_to_json(cfg->fault_specs[i], why, sizeof why);
        int rc = j ? faults_add_json(app->faults, j, clock_now_ms(&app->clock), true, NULL, why, sizeof why) : -1;
        cJSON_Delete(j);
        if (rc) {
            snprintf(err, errlen, "--fault '%s': %s", cfg->fault_specs[i], why);
            return -1;
        }
    }
    if (!cfg->faults_file) return 0;
    char *text = util_read_file(cfg->faults_file, NULL);
    if (!text) {
        snprintf(err, errlen, "--faults %s: cannot read the file", cfg->faults_file);
        return -1;
    }
    cJSON *arr = cJSON_Parse(text);
    free(text);
    int rc = 0;
    if (!cJSON_IsArray(arr)) {
        snprintf(err, errlen, "--faults %s: the file must hold a JSON array of fault rules", cfg->faults_file);
        rc = -1;
    }
    int idx = 0;
    for (const cJSON *r = arr ? arr->child : NULL; rc == 0 && r; r = r->next, idx++) {
        if (faults_add_json(app->faults, r, clock_now_ms(&app->clock), true, NULL, why, sizeof why)) {
            snprintf(err, errlen, "--faults %s: rule [%d]: %s", cfg->faults_file, idx, why);
            rc = -1;
        }
    }
    cJSON_Delete(arr);
    return rc;
}

void app_free(struct app *app)
{
    store_close(app->store);
    app->store = NULL;
    cs_core_free(app->cs);   /* after http_stop: every held poll has ended */
    app->cs = NULL;
    list_cache_free(app->list_cache);
    app->list_cache = NULL;
    faults_free(app->faults);
    app->faults = NULL;
    journal_free(app->journal);
    app->journal = NULL;
    metrics_free(app->metrics);
    app->metrics = NULL;
    clients_free(app->clients);
    app->clients = NULL;
    subs_free(app->subs);
    app->subs = NULL;
    events_free(app->events);
    app->events = NULL;
    pthread_mutex_destroy(&app->mu);
}

/* Stamps follow real time (store.h), so a virtual clock reset never makes new data look older than cached data. */
void app_service_changed(struct app *app, int64_t now_ms, int64_t service_id, const char *ns, const char *service)
{
    if (service_id) store_service_touch(app->store, service_id, now_ms, clock_real_ms());
    subs_changed(app->subs, ns, service);
}

/* The instance as the store has it now, emitted; alone (store.h) without app->mu. 0, STORE_SLOW. */
static int event_instance_once(struct app *app, enum event_kind kind, int64_t now_ms, const char *ns,
                               const char *service, const char *cluster, const char *ip, int port, bool alone)
{
    struct store *st = app->store;
    store_begin_service(st, ns, service, alone);
    struct service_rec s;
    struct instance_rec r;
    int g = store_service_get(st, ns, service, &s);
    if (g == 0) {
        g = store_instance_get(st, s.id, cluster, ip, port, &r);
        store_service_rec_free(&s);
    }
    if (g == 0 && r.owner && alone) g = STORE_SLOW;   /* its connection's id: the clients are under app->mu */
    store_commit(st);
    if (g == 0) {
        const struct client *c = r.owner ? clients_get(app->clients, r.owner) : NULL;
        events_instance(app->events, kind, now_ms, &r, c ? c->id : NULL, NULL);
    }
    if (g == 0 || (g == STORE_SLOW && r.owner)) store_instance_rec_free(&r);
    return g == STORE_SLOW ? g : 0;
}

void app_event_instance(struct app *app, enum event_kind kind, int64_t now_ms, const char *ns, const char *service,
                        const char *cluster, const char *ip, int port)
{
    if (!events_on(app->events)) return;
    ns = ns && *ns ? ns : DEFAULT_NAMESPACE;
    cluster = cluster && *cluster ? cluster : DEFAULT_CLUSTER;
    bool mine = !app_holds_lock(app);
    if (!mine || event_instance_once(app, kind, now_ms, ns, service, cluster, ip, port, true) == STORE_SLOW) {
        if (mine) app_lock(app);
        event_instance_once(app, kind, now_ms, ns, service, cluster, ip, port, false);
        if (mine) app_unlock(app);
    }
}

int app_services_touch(struct app *app, int64_t now_ms, const int64_t *ids, size_t n)
{
    return store_service_touch_many(app->store, ids, n, now_ms, clock_real_ms());
}

void app_reply_store_error(struct app *app, struct reply *rep)
{
    store_rollback(app->store);
    reply_caused(rep, 500, "registry store error: %s", store_errmsg(app->store));
}
