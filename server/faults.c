/*
 * faults.c — fault rules: parse, match, schedule (see faults.h).
 */
#include "nacos_mock/faults.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nacos_mock/params.h"
#include "nacos_mock/util.h"

static const char *const API_NAMES[] = {
    "register", "deregister", "update", "patch", "detail", "list", "beat", "health", "service.create",
    "service.delete", "service.update", "service.get", "service.list", "metrics", "servers", "login", "push", "any",
    "statuses", "metadata.batch", "switches", "liveness", "readiness", "serverlist",
    "nodes", "clients", "client", "client.published", "client.subscribed", "service.publishers",
    "service.subscribers",
    /* gRPC (control-api.md "gRPC") */
    "subscribe", "servercheck", "healthcheck", "setup",
    "config.get", "config.publish", "config.remove", "config.listen", "config.search", "config.history",
    "config.push",
};

/* Pushes (UDP naming pushes, gRPC config pushes) take only drop and delayMs, and "any" is not them. */
static bool is_push(const char *api) { return !strcmp(api, "push") || !strcmp(api, "config.push"); }

bool faults_api_known(const char *api)
{
    for (size_t i = 0; api && i < sizeof API_NAMES / sizeof API_NAMES[0]; i++)
        if (!strcmp(api, API_NAMES[i])) return true;
    return false;
}

struct rule {
    char id[64];
    char *api, *method, *path, *ns, *group, *service, *cluster, *ip, *transport;
    char *data_id, *cgroup;          /* configs: match.dataId, match.group */
    uint64_t service_hash;           /* of the bare service name (after any `group@@`), 0 = any */
    int port;
    int node;                        /* match.node, -1 = any */
    int status;
    int grpc_status;                 /* gRPC only: end the call with this grpc-status, 0 = none */
    char *body;
    int64_t delay_ms, jitter_ms;
    enum reply_drop drop;
    int beat_code;
    double probability;
    long after, times;               /* times < 0: unlimited */
    int64_t for_ms;                  /* < 0: forever */
    int64_t added_ms;
    long hits, seen;
};

struct faults {
    pthread_mutex_t mu;
    struct rule *v;
    size_t n, cap;
    _Atomic size_t n_rules;          /* n, for faults_count without the lock (every request asks) */
    cJSON *initial;                  /* array of the start rules (as given), for reset */
    uint64_t seed, state;
    unsigned long next_id;
    int nodes;                       /* --nodes: match.node is below it */
};

/* splitmix64: small, fast, and the whole state is one integer, so a seed reproduces a run. */
static uint64_t next_u64(struct faults *f)
{
    uint64_t z = (f->state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* The hash of a service name, never 0 (0 means "no service" in struct rule). */
static uint64_t name_hash(const char *s)
{
    uint64_t h = util_fnv1a(s, strlen(s));
    return h ? h : 1;
}

static double draw(struct faults *f) { return (double)(next_u64(f) >> 11) * (1.0 / 9007199254740992.0); }

double faults_random(struct faults *f)
{
    pthread_mutex_lock(&f->mu);
    double d = draw(f);
    pthread_mutex_unlock(&f->mu);
    return d;
}

uint64_t faults_seed(const struct faults *f) { return f->seed; }

struct faults *faults_create(uint64_t seed)
{
    struct faults *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    pthread_mutex_init(&f->mu, NULL);
    f->seed = f->state = seed;
    f->initial = cJSON_CreateArray();
    f->next_id = 1;
    f->nodes = 1;
    return f;
}

void faults_set_nodes(struct faults *f, int n)
{
    pthread_mutex_lock(&f->mu);
    f->nodes = n > 0 ? n : 1;
    pthread_mutex_unlock(&f->mu);
}

static void rule_free(struct rule *r)
{
    free(r->api); free(r->method); free(r->path); free(r->ns); free(r->group); free(r->service);
    free(r->cluster); free(r->ip); free(r->body); free(r->data_id); free(r->cgroup); free(r->transport);
    memset(r, 0, sizeof *r);
}

void faults_free(struct faults *f)
{
    if (!f) return;
    for (size_t i = 0; i < f->n; i++) rule_free(&f->v[i]);
    free(f->v);
    cJSON_Delete(f->initial);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

/* ------------------------------------------------------------------ parsing */

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int get_str(const cJSON *obj, const char *key, const char *where, char **out, char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsString(v) || !*v->valuestring) {
        snprintf(err, errlen, "field '%s%s' must be a non-empty string", where, key);
        return -1;
    }
    *out = strdup(v->valuestring);
    return *out ? 0 : fail(err, errlen, "out of memory");
}

/* Integer field in [min, max]; absent/null leaves *out. */
static int get_int(const cJSON *obj, const char *key, const char *where, long long min, long long max, long long *out,
                   char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < (double)min ||
        v->valuedouble > (double)max) {
        snprintf(err, errlen, "field '%s%s' must be an integer from %lld to %lld", where, key, min, max);
        return -1;
    }
    *out = (long long)v->valuedouble;
    return 0;
}

static int check_keys(const cJSON *obj, const char *where, const char *const *allowed, char *err, size_t errlen)
{
    for (const cJSON *it = obj->child; it; it = it->next) {
        bool ok = false;
        for (size_t i = 0; allowed[i] && !ok; i++) ok = !strcmp(it->string, allowed[i]);
        if (!ok) {
            snprintf(err, errlen, "unknown field '%s%s'", where, it->string);
            return -1;
        }
    }
    return 0;
}

static const char *const TOP_KEYS[] = {"id", "match", "action", "probability", "after", "times", "forMs",
                                       "hits", "remaining", "expired", NULL};
static const char *const MATCH_KEYS[] = {"api", "method", "path", "namespaceId", "groupName", "serviceName",
                                         "clusterName", "ip", "port", "transport", "dataId", "group", "node", NULL};
static const char *const ACTION_KEYS[] = {"status", "body", "delayMs", "jitterMs", "drop", "beatCode", "grpcStatus",
                                          NULL};

static bool valid_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63) return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("._-:", *s)) return false;
    return true;
}

static int parse_rule(const cJSON *j, struct rule *r, int nodes, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    r->node = -1;
    r->probability = 1.0;
    r->times = -1;
    r->for_ms = -1;
    long long v;
    if (!cJSON_IsObject(j)) return fail(err, errlen, "a fault rule must be a JSON object");
    if (check_keys(j, "", TOP_KEYS, err, errlen)) return -1;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
    if (id && !cJSON_IsNull(id)) {
        if (!cJSON_IsString(id) || !valid_id(id->valuestring))
            return fail(err, errlen, "field 'id' must be 1-63 characters of letters, digits, '.', '_', '-', ':'");
        snprintf(r->id, sizeof r->id, "%s", id->valuestring);
    }
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "match");
    if (!cJSON_IsObject(m)) return fail(err, errlen, "field 'match' is required and must be an object");
    if (check_keys(m, "match.", MATCH_KEYS, err, errlen)) return -1;
    if (get_str(m, "api", "match.", &r->api, err, errlen) || get_str(m, "method", "match.", &r->method, err, errlen) ||
        get_str(m, "path", "match.", &r->path, err, errlen) ||
        get_str(m, "namespaceId", "match.", &r->ns, err, errlen) ||
        get_str(m, "groupName", "match.", &r->group, err, errlen) ||
        get_str(m, "serviceName", "match.", &r->service, err, errlen) ||
        get_str(m, "clusterName", "match.", &r->cluster, err, errlen) || get_str(m, "ip", "match.", &r->ip, err, errlen) ||
        get_str(m, "transport", "match.", &r->transport, err, errlen) ||
        get_str(m, "dataId", "match.", &r->data_id, err, errlen) || get_str(m, "group", "match.", &r->cgroup, err, errlen))
        return -1;
    if (r->transport && strcmp(r->transport, "http") && strcmp(r->transport, "grpc"))
        return fail(err, errlen, "field 'match.transport' must be \"http\" or \"grpc\", got \"%s\"", r->transport);
    if (r->service) {
        const char *sep = strstr(r->service, "@@");
        r->service_hash = name_hash(sep ? sep + 2 : r->service);
    }
    if (!r->api) return fail(err, errlen, "field 'match.api' is required (an API name, or \"any\")");
    if (!faults_api_known(r->api))
        return fail(err, errlen, "field 'match.api' has unknown API name '%s' (see control-api.md)", r->api);
    v = 0;
    if (get_int(m, "port", "match.", 1, 65535, &v, err, errlen)) return -1;
    r->port = (int)v;
    v = -1;
    if (get_int(m, "node", "match.", 0, nodes - 1, &v, err, errlen)) return -1;
    r->node = (int)v;

    const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "action");
    if (!cJSON_IsObject(a)) return fail(err, errlen, "field 'action' is required and must be an object");
    if (check_keys(a, "action.", ACTION_KEYS, err, errlen)) return -1;
    v = 0;
    if (get_int(a, "status", "action.", 100, 599, &v, err, errlen)) return -1;
    r->status = (int)v;
    if (get_str(a, "body", "action.", &r->body, err, errlen)) return -1;
    v = 0;
    if (get_int(a, "delayMs", "action.", 0, 3600000, &v, err, errlen)) return -1;
    r->delay_ms = v;
    v = 0;
    if (get_int(a, "jitterMs", "action.", 0, 3600000, &v, err, errlen)) return -1;
    r->jitter_ms = v;
    v = 0;
    if (get_int(a, "beatCode", "action.", 1, 2147483647LL, &v, err, errlen)) return -1;
    r->beat_code = (int)v;
    v = 0;
    if (get_int(a, "grpcStatus", "action.", 1, 16, &v, err, errlen)) return -1;
    r->grpc_status = (int)v;
    const cJSON *drop = cJSON_GetObjectItemCaseSensitive(a, "drop");
    if (drop && !cJSON_IsNull(drop)) {
        if (!cJSON_IsString(drop)) return fail(err, errlen, "field 'action.drop' must be \"reset\", \"close\" or \"hang\"");
        if (!strcmp(drop->valuestring, "reset")) r->drop = DROP_RESET;
        else if (!strcmp(drop->valuestring, "close")) r->drop = DROP_CLOSE;
        else if (!strcmp(drop->valuestring, "hang")) r->drop = DROP_HANG;
        else return fail(err, errlen, "field 'action.drop' must be \"reset\", \"close\" or \"hang\", got \"%s\"", drop->valuestring);
    }
    bool has_beat = r->beat_code != 0;
    if (!r->status && !r->delay_ms && !r->drop && !has_beat && !r->grpc_status)
        return fail(err, errlen, "field 'action' needs at least one of status, delayMs, drop, beatCode, grpcStatus");
    if (r->drop && (r->status || has_beat || r->grpc_status))
        return fail(err, errlen, "field 'action.drop' cannot be combined with status, beatCode or grpcStatus");
    if (r->grpc_status && (r->status || has_beat))
        return fail(err, errlen, "field 'action.grpcStatus' cannot be combined with status or beatCode");
    if (r->grpc_status && r->transport && strcmp(r->transport, "grpc"))
        return fail(err, errlen, "field 'action.grpcStatus' applies only to gRPC calls (match.transport \"grpc\")");
    if (r->grpc_status && !r->transport && !(r->transport = strdup("grpc")))   /* it implies the transport */
        return fail(err, errlen, "out of memory");
    if (r->status && has_beat) return fail(err, errlen, "field 'action.beatCode' cannot be combined with status");
    if (has_beat && strcmp(r->api, "beat"))
        return fail(err, errlen, "field 'action.beatCode' applies only to match.api \"beat\", not \"%s\"", r->api);
    if (r->body && !r->status) return fail(err, errlen, "field 'action.body' needs action.status");
    if (is_push(r->api) && (r->status || has_beat || r->grpc_status))
        return fail(err, errlen, "match.api \"%s\" (a push) takes only action.drop and action.delayMs", r->api);
    if (!strcmp(r->api, "push") && r->drop == DROP_RESET)
        return fail(err, errlen, "field 'action.drop' for \"push\" must be \"close\" or \"hang\" (UDP has no reset)");

    const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "probability");
    if (p && !cJSON_IsNull(p)) {
        if (!cJSON_IsNumber(p) || !(p->valuedouble >= 0.0 && p->valuedouble <= 1.0))
            return fail(err, errlen, "field 'probability' must be a number from 0 to 1");
        r->probability = p->valuedouble;
    }
    v = 0;
    if (get_int(j, "after", "", 0, 1000000000LL, &v, err, errlen)) return -1;
    r->after = (long)v;
    v = -1;
    if (get_int(j, "times", "", 1, 1000000000LL, &v, err, errlen)) return -1;
    r->times = (long)v;
    v = -1;
    if (get_int(j, "forMs", "", 1, 100000000000LL, &v, err, errlen)) return -1;
    r->for_ms = v;
    return 0;
}

static bool expired(const struct rule *r, int64_t now)
{
    return (r->times >= 0 && r->hits >= r->times) || (r->for_ms >= 0 && now - r->added_ms >= r->for_ms);
}

static cJSON *rule_json(const struct rule *r, int64_t now)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", r->id);
    cJSON *m = cJSON_AddObjectToObject(o, "match");
    const struct { const char *k; const char *v; } ms[] = {
        {"api", r->api}, {"method", r->method}, {"path", r->path}, {"namespaceId", r->ns}, {"groupName", r->group},
        {"serviceName", r->service}, {"clusterName", r->cluster}, {"ip", r->ip}, {"transport", r->transport},
        {"dataId", r->data_id}, {"group", r->cgroup}};
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++)
        if (ms[i].v) cJSON_AddStringToObject(m, ms[i].k, ms[i].v);
    if (r->port) cJSON_AddNumberToObject(m, "port", r->port);
    if (r->node >= 0) cJSON_AddNumberToObject(m, "node", r->node);
    cJSON *a = cJSON_AddObjectToObject(o, "action");
    if (r->status) cJSON_AddNumberToObject(a, "status", r->status);
    if (r->body) cJSON_AddStringToObject(a, "body", r->body);
    if (r->delay_ms) cJSON_AddNumberToObject(a, "delayMs", (double)r->delay_ms);
    if (r->jitter_ms) cJSON_AddNumberToObject(a, "jitterMs", (double)r->jitter_ms);
    if (r->drop) cJSON_AddStringToObject(a, "drop", r->drop == DROP_RESET ? "reset" : r->drop == DROP_CLOSE ? "close" : "hang");
    if (r->beat_code) cJSON_AddNumberToObject(a, "beatCode", r->beat_code);
    if (r->grpc_status) cJSON_AddNumberToObject(a, "grpcStatus", r->grpc_status);
    cJSON_AddNumberToObject(o, "probability", r->probability);
    cJSON_AddNumberToObject(o, "after", (double)r->after);
    if (r->times >= 0) cJSON_AddNumberToObject(o, "times", (double)r->times);
    else cJSON_AddNullToObject(o, "times");
    if (r->for_ms >= 0) cJSON_AddNumberToObject(o, "forMs", (double)r->for_ms);
    else cJSON_AddNullToObject(o, "forMs");
    cJSON_AddNumberToObject(o, "hits", (double)r->hits);
    bool exp = expired(r, now);
    if (exp) cJSON_AddNumberToObject(o, "remaining", 0);
    else if (r->times >= 0) cJSON_AddNumberToObject(o, "remaining", (double)(r->times - r->hits));
    else cJSON_AddNullToObject(o, "remaining");
    cJSON_AddBoolToObject(o, "expired", exp);
    return o;
}

static bool id_taken(const struct faults *f, const char *id)
{
    for (size_t i = 0; i < f->n; i++)
        if (!strcmp(f->v[i].id, id)) return true;
    return false;
}

static int add_locked(struct faults *f, const cJSON *j, int64_t now, cJSON **stored, char *err, size_t errlen)
{
    struct rule r;
    if (parse_rule(j, &r, f->nodes, err, errlen)) {
        rule_free(&r);
        return -1;
    }
    if (!r.id[0]) {
        do snprintf(r.id, sizeof r.id, "fault-%lu", f->next_id++);
        while (id_taken(f, r.id));
    } else if (id_taken(f, r.id)) {
        snprintf(err, errlen, "field 'id': a fault rule with id '%s' exists already", r.id);
        rule_free(&r);
        return -2;
    }
    if (util_grow((void **)&f->v, &f->cap, f->n, sizeof *f->v)) {
        rule_free(&r);
        return fail(err, errlen, "out of memory");
    }
    r.added_ms = now;
    f->v[f->n++] = r;
    atomic_store(&f->n_rules, f->n);
    if (stored) *stored = rule_json(&f->v[f->n - 1], now);
    return 0;
}

int faults_add_json(struct faults *f, const cJSON *rule, int64_t now_ms, bool initial, cJSON **stored, char *err,
                    size_t errlen)
{
    pthread_mutex_lock(&f->mu);
    int rc = add_locked(f, rule, now_ms, stored, err, errlen);
    if (rc == 0 && initial) {
        cJSON *copy = cJSON_Duplicate(rule, true);
        /* remember the id it got (also for "id": null), so a reset restores the same ids — every
         * "id" key goes, since a repeated key would otherwise decide what a reset reads */
        if (copy) {
            while (cJSON_GetObjectItemCaseSensitive(copy, "id")) cJSON_DeleteItemFromObjectCaseSensitive(copy, "id");
            cJSON_AddStringToObject(copy, "id", f->v[f->n - 1].id);
        }
        cJSON_AddItemToArray(f->initial, copy);
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static const char *const COMPACT_INT[] = {"port", "status", "delayMs", "jitterMs", "beatCode", "grpcStatus", "after",
                                          "times", "forMs", "node", NULL};

static bool in_list(const char *k, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (!strcmp(k, list[i])) return true;
    return false;
}

cJSON *faults_compact_to_json(const char *spec, char *err, size_t errlen)
{
    cJSON *o = cJSON_CreateObject(), *m = cJSON_AddObjectToObject(o, "match"), *a = cJSON_AddObjectToObject(o, "action");
    char *copy = strdup(spec ? spec : "");
    if (!copy) goto bad;
    for (char *e = copy; e && *e;) {
        char *comma = strchr(e, ',');
        if (comma) *comma = '\0';
        char *eq = strchr(e, '=');
        if (!eq || eq == e) {
            snprintf(err, errlen, "fault spec entry '%.60s' is not key=value", e);
            goto bad;
        }
        *eq = '\0';
        const char *k = e, *val = eq + 1;
        cJSON *dst = in_list(k, MATCH_KEYS) ? m : in_list(k, ACTION_KEYS) ? a : NULL;
        if (!dst && in_list(k, TOP_KEYS) && strcmp(k, "match") && strcmp(k, "action")) dst = o;
        if (!dst) {
            snprintf(err, errlen, "unknown key '%.60s' in fault spec", k);
            goto bad;
        }
        if (cJSON_GetObjectItemCaseSensitive(dst, k)) {
            snprintf(err, errlen, "key '%.60s' given twice in fault spec", k);
            goto bad;
        }
        if (in_list(k, COMPACT_INT)) {
            long long n;
            if (params_strtoll(val, &n)) {
                snprintf(err, errlen, "key '%.60s' in fault spec must be an integer, got '%.60s'", k, val);
                goto bad;
            }
            cJSON_AddNumberToObject(dst, k, (double)n);
        } else if (!strcmp(k, "probability")) {
            double d;
            if (params_strtod(val, &d)) {
                snprintf(err, errlen, "key 'probability' in fault spec must be a number, got '%.60s'", val);
                goto bad;
            }
            cJSON_AddNumberToObject(dst, k, d);
        } else {
            cJSON_AddStringToObject(dst, k, val);
        }
        e = comma ? comma + 1 : NULL;
    }
    free(copy);
    return o;
bad:
    free(copy);
    cJSON_Delete(o);
    return NULL;
}

cJSON *faults_list_json(struct faults *f, int64_t now_ms)
{
    cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "faults");
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->n; i++) cJSON_AddItemToArray(arr, rule_json(&f->v[i], now_ms));
    pthread_mutex_unlock(&f->mu);
    return o;
}

cJSON *faults_get_json(struct faults *f, const char *id, int64_t now_ms)
{
    cJSON *o = NULL;
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->n && !o; i++)
        if (!strcmp(f->v[i].id, id)) o = rule_json(&f->v[i], now_ms);
    pthread_mutex_unlock(&f->mu);
    return o;
}

int faults_delete(struct faults *f, const char *id)
{
    int rc = 1;
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->n; i++)
        if (!strcmp(f->v[i].id, id)) {
            rule_free(&f->v[i]);
            memmove(&f->v[i], &f->v[i + 1], (f->n - i - 1) * sizeof *f->v);
            f->n--;
            atomic_store(&f->n_rules, f->n);
            rc = 0;
            break;
        }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static void clear_locked(struct faults *f)
{
    for (size_t i = 0; i < f->n; i++) rule_free(&f->v[i]);
    f->n = 0;
    atomic_store(&f->n_rules, 0);
}

void faults_clear(struct faults *f)
{
    pthread_mutex_lock(&f->mu);
    clear_locked(f);
    pthread_mutex_unlock(&f->mu);
}

void faults_reset(struct faults *f, int64_t now_ms)
{
    pthread_mutex_lock(&f->mu);
    clear_locked(f);
    f->state = f->seed;
    f->next_id = 1;
    char err[256];
    for (const cJSON *r = f->initial->child; r; r = r->next) add_locked(f, r, now_ms, NULL, err, sizeof err);
    pthread_mutex_unlock(&f->mu);
}

size_t faults_count(struct faults *f) { return atomic_load(&f->n_rules); }

static bool eq_opt(const char *rule, const char *req) { return !rule || (req && !strcmp(rule, req)); }

static bool rule_matches(const struct rule *r, const struct fault_request *q)
{
    /* (the service hash was compared by the caller) */
    if (!strcmp(r->api, "any")) {
        if (q->api && is_push(q->api)) return false;   /* "any" means requests */
    } else if (!q->api || strcmp(r->api, q->api)) {
        return false;
    }
    /* a request without a transport is an HTTP one */
    if (r->transport && strcmp(r->transport, q->transport ? q->transport : "http")) return false;
    if (r->method && (!q->method || strcasecmp(r->method, q->method))) return false;
    if (!eq_opt(r->path, q->path) || !eq_opt(r->cluster, q->cluster) || !eq_opt(r->ip, q->ip)) return false;
    if (q->about) {   /* about several configs: one of them must have what the rule names */
        const char *g = r->cgroup ? r->cgroup : r->group;
        if ((r->ns || g || r->data_id) && !q->about(q->about_ctx, r->ns, g, r->data_id)) return false;
        if (r->cgroup && r->group && strcmp(r->cgroup, r->group)) return false;
    } else if (!eq_opt(r->ns, q->ns) || !eq_opt(r->data_id, q->data_id) || !eq_opt(r->cgroup, q->group)) {
        return false;
    }
    if (r->port && r->port != q->port) return false;
    if (r->node >= 0 && (!q->on_node || q->node != r->node)) return false;
    if (r->service) {
        const char *sep = strstr(r->service, "@@");
        if (sep) {   /* a grouped rule name pins the group too */
            size_t gl = (size_t)(sep - r->service);
            if (!q->group || strlen(q->group) != gl || strncmp(q->group, r->service, gl)) return false;
            if (!q->service || strcmp(q->service, sep + 2)) return false;
        } else if (!q->service || strcmp(q->service, r->service)) {
            return false;
        }
    }
    if (!q->about && !eq_opt(r->group, q->group)) return false;
    return true;
}

bool faults_match(struct faults *f, const struct fault_request *q, int64_t now_ms, struct fault_hit *hit)
{
    bool fired = false;
    memset(hit, 0, sizeof *hit);
    /* Rules usually name a service: comparing one precomputed hash first makes a rule for another
     * service cost a few instructions instead of the string comparisons (bench: 100 rules). */
    uint64_t qh = q->service ? name_hash(q->service) : 0;
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->n && !fired; i++) {
        struct rule *r = &f->v[i];
        if (r->service_hash && r->service_hash != qh) continue;
        if (expired(r, now_ms) || !rule_matches(r, q)) continue;
        if (++r->seen <= r->after) continue;
        if (r->probability < 1.0 && draw(f) >= r->probability) continue;
        r->hits++;
        fired = true;
        snprintf(hit->id, sizeof hit->id, "%s", r->id);
        hit->status = r->status;
        hit->body = r->body ? strdup(r->body) : NULL;
        hit->delay_ms = r->delay_ms + (r->jitter_ms ? (int64_t)(draw(f) * (double)(r->jitter_ms + 1)) : 0);
        hit->drop = r->drop;
        hit->beat_code = r->beat_code;
        hit->grpc_status = r->grpc_status;
    }
    pthread_mutex_unlock(&f->mu);
    return fired;
}

void fault_hit_free(struct fault_hit *hit)
{
    free(hit->body);
    hit->body = NULL;
}
