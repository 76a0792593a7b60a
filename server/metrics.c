/*
 * metrics.c — Prometheus text exposition of nacos-mock's counters (see metrics.h).
 */
#include "nacos_mock/metrics.h"

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "nacos_mock/faults.h"
#include "nacos_mock/util.h"

static const double BUCKETS[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define N_BUCKETS (sizeof BUCKETS / sizeof BUCKETS[0])

struct counter { char transport[8], api[40]; int node, status; unsigned long long n; };
struct histo { char api[40]; unsigned long long bucket[N_BUCKETS], count; double sum; };

/* Request counters are striped: each thread records into the stripe its thread id picks, so workers
 * on different cores do not meet on one lock (and one cache line) for every request; rendering sums
 * the stripes. */
#define STRIPES 16
struct stripe {
    pthread_mutex_t mu;
    struct counter *c;
    size_t nc, capc;
    struct histo *h;
    size_t nh, caph;
} __attribute__((aligned(64)));

struct metrics {
    struct stripe s[STRIPES];
    pthread_mutex_t mu;            /* push and sweep counters (a few per second) */
    long push[PUSH_KIND__COUNT][PUSH__COUNT];
    long sweeps;
    double sweep_last_ms, sweep_max_ms;
};

/* This thread's stripe: its thread id (consecutive for a pool's workers) modulo STRIPES. */
static struct stripe *my_stripe(struct metrics *m)
{
    static _Thread_local int tl_stripe = -1;
    if (tl_stripe < 0) tl_stripe = (int)((unsigned long)syscall(SYS_gettid) % STRIPES);
    return &m->s[tl_stripe];
}

struct metrics *metrics_create(void)
{
    struct metrics *m = aligned_alloc(64, sizeof *m);
    if (!m) return NULL;
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
    for (int i = 0; i < STRIPES; i++) pthread_mutex_init(&m->s[i].mu, NULL);
    return m;
}

void metrics_free(struct metrics *m)
{
    if (!m) return;
    for (int i = 0; i < STRIPES; i++) {
        free(m->s[i].c);
        free(m->s[i].h);
        pthread_mutex_destroy(&m->s[i].mu);
    }
    pthread_mutex_destroy(&m->mu);
    free(m);
}

void metrics_reset(struct metrics *m)
{
    for (int i = 0; i < STRIPES; i++) {
        pthread_mutex_lock(&m->s[i].mu);
        m->s[i].nc = m->s[i].nh = 0;
        pthread_mutex_unlock(&m->s[i].mu);
    }
}

/* The counter for (transport, api, node, status) in the array *v of *n, made when absent; NULL on OOM.
 * node -1 = one node (no node label). */
static struct counter *counter_of(struct counter **v, size_t *n, size_t *cap, const char *transport, const char *api,
                                  int node, int status)
{
    size_t i;
    for (i = 0; i < *n && ((*v)[i].status != status || (*v)[i].node != node || strcmp((*v)[i].api, api) ||
                           strcmp((*v)[i].transport, transport));
         i++) {}
    if (i < *n) return &(*v)[i];
    if (util_grow((void **)v, cap, *n, sizeof **v)) return NULL;
    struct counter *c = &(*v)[(*n)++];
    memset(c, 0, sizeof *c);
    snprintf(c->transport, sizeof c->transport, "%s", transport);
    snprintf(c->api, sizeof c->api, "%s", api);
    c->node = node;
    c->status = status;
    return c;
}

static struct histo *histo_of(struct histo **v, size_t *n, size_t *cap, const char *api)
{
    size_t i;
    for (i = 0; i < *n && strcmp((*v)[i].api, api); i++) {}
    if (i < *n) return &(*v)[i];
    if (util_grow((void **)v, cap, *n, sizeof **v)) return NULL;
    struct histo *h = &(*v)[(*n)++];
    memset(h, 0, sizeof *h);
    snprintf(h->api, sizeof h->api, "%s", api);
    return h;
}

void metrics_record(struct metrics *m, const char *transport, const char *api, int node, int status,
                    double seconds)
{
    if (!m) return;
    if (!api) api = "none";
    if (node < 0) node = -1;
    struct stripe *s = my_stripe(m);
    pthread_mutex_lock(&s->mu);
    struct counter *c = counter_of(&s->c, &s->nc, &s->capc, transport, api, node, status);
    if (c) c->n++;
    struct histo *h = histo_of(&s->h, &s->nh, &s->caph, api);
    if (h) {
        for (size_t b = 0; b < N_BUCKETS; b++)
            if (seconds <= BUCKETS[b]) h->bucket[b]++;
        h->count++;
        h->sum += seconds;
    }
    pthread_mutex_unlock(&s->mu);
}

void metrics_push(struct metrics *m, enum metrics_push_kind kind, enum metrics_push what)
{
    if (!m) return;
    pthread_mutex_lock(&m->mu);
    m->push[kind][what]++;
    pthread_mutex_unlock(&m->mu);
}

void metrics_sweep(struct metrics *m, double ms)
{
    pthread_mutex_lock(&m->mu);
    m->sweeps++;
    m->sweep_last_ms = ms;
    if (ms > m->sweep_max_ms) m->sweep_max_ms = ms;
    pthread_mutex_unlock(&m->mu);
}

/* Label values are escaped per the exposition format: backslash, quote, newline. */
static void label(FILE *f, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"') fputc('\\', f);
        if (*v == '\n') { fputs("\\n", f); continue; }
        fputc(*v, f);
    }
}

static const char *const PUSH_RESULTS[PUSH__COUNT] = {"sent", "acked", "resent", "failed", "dropped"};

char *metrics_render(struct metrics *m, const struct metrics_gauges *g, size_t *len)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f) return NULL;

    fprintf(f, "# HELP nacos_mock_requests_total Requests answered, by transport, API and status (HTTP status; gRPC: "
               "the Nacos resultCode; 0 = no answer).\n"
               "# TYPE nacos_mock_requests_total counter\n");
    struct counter *mc = NULL;   /* the stripes summed */
    struct histo *mh = NULL;
    size_t nc = 0, capc = 0, nh = 0, caph = 0;
    for (int k = 0; k < STRIPES; k++) {
        struct stripe *st = &m->s[k];
        pthread_mutex_lock(&st->mu);
        for (size_t i = 0; i < st->nc; i++) {
            struct counter *c = counter_of(&mc, &nc, &capc, st->c[i].transport, st->c[i].api, st->c[i].node,
                                           st->c[i].status);
            if (c) c->n += st->c[i].n;
        }
        for (size_t i = 0; i < st->nh; i++) {
            struct histo *h = histo_of(&mh, &nh, &caph, st->h[i].api);
            if (!h) continue;
            for (size_t b = 0; b < N_BUCKETS; b++) h->bucket[b] += st->h[i].bucket[b];
            h->count += st->h[i].count;
            h->sum += st->h[i].sum;
        }
        pthread_mutex_unlock(&st->mu);
    }
    for (size_t i = 0; i < nc; i++) {
        if (mc[i].node >= 0)   /* several nodes: which one answered */
            fprintf(f, "nacos_mock_requests_total{api=\"%s\",node=\"%d\",status=\"%d\",transport=\"%s\"} %llu\n",
                    mc[i].api, mc[i].node, mc[i].status, mc[i].transport, mc[i].n);
        else
            fprintf(f, "nacos_mock_requests_total{api=\"%s\",status=\"%d\",transport=\"%s\"} %llu\n", mc[i].api,
                    mc[i].status, mc[i].transport, mc[i].n);
    }
    fprintf(f, "# HELP nacos_mock_request_duration_seconds Time from request arrival to answer, by API.\n"
               "# TYPE nacos_mock_request_duration_seconds histogram\n");
    for (size_t i = 0; i < nh; i++) {
        for (size_t b = 0; b < N_BUCKETS; b++)
            fprintf(f, "nacos_mock_request_duration_seconds_bucket{api=\"%s\",le=\"%g\"} %llu\n", mh[i].api,
                    BUCKETS[b], mh[i].bucket[b]);
        fprintf(f, "nacos_mock_request_duration_seconds_bucket{api=\"%s\",le=\"+Inf\"} %llu\n", mh[i].api, mh[i].count);
        fprintf(f, "nacos_mock_request_duration_seconds_sum{api=\"%s\"} %.9g\n", mh[i].api, mh[i].sum);
        fprintf(f, "nacos_mock_request_duration_seconds_count{api=\"%s\"} %llu\n", mh[i].api, mh[i].count);
    }
    free(mc);
    free(mh);
    pthread_mutex_lock(&m->mu);
    long push[PUSH_KIND__COUNT][PUSH__COUNT], sweeps = m->sweeps;
    memcpy(push, m->push, sizeof push);
    double sweep_last = m->sweep_last_ms, sweep_max = m->sweep_max_ms;
    pthread_mutex_unlock(&m->mu);

    fprintf(f, "# HELP nacos_mock_faults_injected_total Requests or pushes a fault rule acted on, by rule.\n"
               "# TYPE nacos_mock_faults_injected_total counter\n");
    cJSON *rules = g->faults ? faults_list_json(g->faults, g->now_ms) : NULL;
    for (const cJSON *r = rules ? cJSON_GetObjectItemCaseSensitive(rules, "faults")->child : NULL; r; r = r->next) {
        fputs("nacos_mock_faults_injected_total{rule=\"", f);
        label(f, cJSON_GetObjectItemCaseSensitive(r, "id")->valuestring);
        fprintf(f, "\"} %.0f\n", cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "hits")));
    }
    cJSON_Delete(rules);

    fprintf(f, "# HELP nacos_mock_list_cache_lookups_total instance/list answers looked up in the rendered-answer cache.\n"
               "# TYPE nacos_mock_list_cache_lookups_total counter\n"
               "nacos_mock_list_cache_lookups_total{result=\"hit\"} %llu\n"
               "nacos_mock_list_cache_lookups_total{result=\"miss\"} %llu\n",
            (unsigned long long)g->list_cache_hits, (unsigned long long)g->list_cache_misses);
    fprintf(f, "# HELP nacos_mock_list_cache_bytes Bytes held by the rendered-answer cache.\n"
               "# TYPE nacos_mock_list_cache_bytes gauge\nnacos_mock_list_cache_bytes %zu\n", g->list_cache_bytes);
    fprintf(f, "# HELP nacos_mock_services Services in the registry.\n# TYPE nacos_mock_services gauge\n"
               "nacos_mock_services %ld\n", g->services);
    fprintf(f, "# HELP nacos_mock_instances Instances in the registry, by health.\n# TYPE nacos_mock_instances gauge\n"
               "nacos_mock_instances{health=\"healthy\"} %ld\nnacos_mock_instances{health=\"unhealthy\"} %ld\n",
            g->healthy, g->instances - g->healthy);

    fprintf(f, "# HELP nacos_mock_sweeps_total Health sweeps run by the sweeper thread.\n"
               "# TYPE nacos_mock_sweeps_total counter\nnacos_mock_sweeps_total %ld\n", sweeps);
    fprintf(f, "# HELP nacos_mock_sweep_duration_seconds Duration of the last and the longest sweep.\n"
               "# TYPE nacos_mock_sweep_duration_seconds gauge\n"
               "nacos_mock_sweep_duration_seconds{sweep=\"last\"} %.6f\n"
               "nacos_mock_sweep_duration_seconds{sweep=\"max\"} %.6f\n", sweep_last / 1000.0, sweep_max / 1000.0);

    fprintf(f, "# HELP nacos_mock_push_subscribers UDP push subscriptions.\n# TYPE nacos_mock_push_subscribers gauge\n"
               "nacos_mock_push_subscribers %ld\n", g->udp_subscribers);
    fprintf(f, "# HELP nacos_mock_pushes_total UDP push packets, by outcome.\n# TYPE nacos_mock_pushes_total counter\n");
    for (int r = 0; r < PUSH__COUNT; r++)
        fprintf(f, "nacos_mock_pushes_total{result=\"%s\"} %ld\n", PUSH_RESULTS[r], push[PUSH_UDP][r]);
    fprintf(f, "# HELP nacos_mock_grpc_connections Open gRPC connections.\n# TYPE nacos_mock_grpc_connections gauge\n"
               "nacos_mock_grpc_connections %ld\n", g->grpc_connections);
    fprintf(f, "# HELP nacos_mock_grpc_subscribers gRPC service subscriptions.\n"
               "# TYPE nacos_mock_grpc_subscribers gauge\nnacos_mock_grpc_subscribers %ld\n", g->grpc_subscribers);
    fprintf(f, "# HELP nacos_mock_grpc_pushes_total NotifySubscriberRequest pushes, by outcome.\n"
               "# TYPE nacos_mock_grpc_pushes_total counter\n");
    for (int r = 0; r < PUSH__COUNT; r++)
        if (r != PUSH_RESENT)
            fprintf(f, "nacos_mock_grpc_pushes_total{result=\"%s\"} %ld\n", PUSH_RESULTS[r], push[PUSH_GRPC][r]);

    fprintf(f, "# HELP nacos_mock_config_listeners Listened config keys: of held v1 long polls (http), of gRPC connections (grpc).\n"
               "# TYPE nacos_mock_config_listeners gauge\n"
               "nacos_mock_config_listeners{transport=\"http\"} %ld\nnacos_mock_config_listeners{transport=\"grpc\"} %ld\n",
            g->config_poll_keys, g->config_conn_keys);
    fprintf(f, "# HELP nacos_mock_config_pushes_total Config change notifications handed to listening gRPC connections.\n"
               "# TYPE nacos_mock_config_pushes_total counter\nnacos_mock_config_pushes_total %llu\n", g->config_pushes);

    fprintf(f, "# HELP nacos_mock_config_push_results_total ConfigChangeNotifyRequests to gRPC listeners, by outcome.\n"
               "# TYPE nacos_mock_config_push_results_total counter\n");
    for (int r = 0; r < PUSH__COUNT; r++)
        if (r != PUSH_RESENT)
            fprintf(f, "nacos_mock_config_push_results_total{result=\"%s\"} %ld\n", PUSH_RESULTS[r], push[PUSH_CONFIG][r]);

    if (g->n_locks) {
        fprintf(f, "# HELP nacos_mock_lock_held_seconds_total Time the lock class was held (lock-stats build).\n"
                   "# TYPE nacos_mock_lock_held_seconds_total counter\n");
        for (size_t i = 0; i < g->n_locks; i++)
            fprintf(f, "nacos_mock_lock_held_seconds_total{lock=\"%s\"} %.9f\n", g->locks[i].name,
                    (double)g->locks[i].t.held_ns / 1e9);
        fprintf(f, "# HELP nacos_mock_lock_acquired_total Acquisitions of the lock class (lock-stats build).\n"
                   "# TYPE nacos_mock_lock_acquired_total counter\n");
        for (size_t i = 0; i < g->n_locks; i++)
            fprintf(f, "nacos_mock_lock_acquired_total{lock=\"%s\"} %llu\n", g->locks[i].name,
                    (unsigned long long)g->locks[i].t.acquired);
        fprintf(f, "# HELP nacos_mock_lock_waited_total Acquisitions that found the lock held (lock-stats build).\n"
                   "# TYPE nacos_mock_lock_waited_total counter\n");
        for (size_t i = 0; i < g->n_locks; i++)
            fprintf(f, "nacos_mock_lock_waited_total{lock=\"%s\"} %llu\n", g->locks[i].name,
                    (unsigned long long)g->locks[i].t.waited);
    }
    fprintf(f, "# HELP nacos_mock_up 1 while the emulated server status is UP.\n# TYPE nacos_mock_up gauge\n"
               "nacos_mock_up %d\n", g->up);
    if (g->n_nodes > 1) {
        fprintf(f, "# HELP nacos_mock_node_up 1 while the node's own status is UP (PUT /__mock/nodes/{i}), by node.\n"
                   "# TYPE nacos_mock_node_up gauge\n");
        for (int i = 0; i < g->n_nodes && i < METRICS_MAX_NODES; i++)
            fprintf(f, "nacos_mock_node_up{node=\"%d\"} %d\n", i,
                    !g->node_status[i] || !strcmp(g->node_status[i], "UP"));
        fprintf(f, "# HELP nacos_mock_node_grpc_connections Open gRPC connections, by node.\n"
                   "# TYPE nacos_mock_node_grpc_connections gauge\n");
        for (int i = 0; i < g->n_nodes && i < METRICS_MAX_NODES; i++)
            fprintf(f, "nacos_mock_node_grpc_connections{node=\"%d\"} %ld\n", i, g->node_connections[i]);
    }
    fprintf(f, "# HELP nacos_mock_uptime_seconds Seconds since start (real time).\n# TYPE nacos_mock_uptime_seconds gauge\n"
               "nacos_mock_uptime_seconds %.3f\n", g->uptime_s);
    fclose(f);
    *len = n;
    return buf;
}
