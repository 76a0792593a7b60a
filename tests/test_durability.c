/*
 * test_durability.c — what a file database (--db FILE, WAL, synchronous=NORMAL) must survive:
 * kill -9 at random moments while a writer registers/deregisters persistent and ephemeral
 * instances and creates/deletes services over HTTP.
 *
 * The writer keeps an exact model of every write the server acknowledged (200 `ok`). At a kill the
 * one request in flight may or may not have landed: both are accepted, and the model adopts what
 * the restarted server shows — but nothing acknowledged may be missing, nothing never sent may be
 * present (a request whose connection was refused was never sent, so it must not have landed), and
 * every ephemeral instance must be gone after the restart while persistent ones stay. Each
 * restart compares GET /__mock/registry with the model exactly (services, their explicit flag,
 * instances and their ephemeral flag).
 *
 * The same for configs (config-api.md §4: "no acknowledged publish lost"): a writer publishes and
 * removes configs (some of 100 KB) while the naming writer runs on the same database file through
 * the registry's own connection — neither may ever see a store error — and after each kill -9 every
 * config is exactly as the acknowledged writes left it (the one in flight: either way).
 *
 * NM_DURABILITY_ROUNDS (default 25) sets the number of kill rounds, NM_DURABILITY_SEED the seed.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define NSVC 5        /* services dur-0 .. dur-4 */
#define NPERS 6       /* persistent slots per service: 10.77.S.(I+1):9000 */
#define NEPH 3        /* ephemeral slots per service:  10.78.S.(I+1):9500 */

enum svc_state { ABSENT = 0, IMPLICIT, EXPLICIT };

struct model {
    int svc[NSVC];
    bool pers[NSVC][NPERS];
    bool eph[NSVC][NEPH];
};

enum op_kind { OP_REG, OP_DEREG, OP_REG_EPH, OP_DEREG_EPH, OP_SVC_CREATE, OP_SVC_DELETE };
static const char *const OP_NAMES[] = {"register", "deregister", "register-ephemeral", "deregister-ephemeral",
                                       "service-create", "service-delete"};

struct op {
    enum op_kind k;
    int s, i;
};

static char g_dir[64];
static char g_db[128];
static struct nm_server *g_srv;

static void apply(struct model *m, const struct op *o)
{
    switch (o->k) {
    case OP_REG:
        m->pers[o->s][o->i] = true;
        if (m->svc[o->s] == ABSENT) m->svc[o->s] = IMPLICIT;
        break;
    case OP_DEREG:
        if (m->svc[o->s] != ABSENT) m->pers[o->s][o->i] = false;
        break;
    case OP_REG_EPH:
        m->eph[o->s][o->i] = true;
        if (m->svc[o->s] == ABSENT) m->svc[o->s] = IMPLICIT;
        break;
    case OP_DEREG_EPH:
        if (m->svc[o->s] != ABSENT) m->eph[o->s][o->i] = false;
        break;
    case OP_SVC_CREATE:
        if (m->svc[o->s] == ABSENT) m->svc[o->s] = EXPLICIT;
        break;
    case OP_SVC_DELETE:
        m->svc[o->s] = ABSENT;
        memset(m->pers[o->s], 0, sizeof m->pers[o->s]);
        memset(m->eph[o->s], 0, sizeof m->eph[o->s]);
        break;
    }
}

/* What a restart leaves: every ephemeral instance gone, services and persistent instances kept. */
static void restart_effect(struct model *m)
{
    memset(m->eph, 0, sizeof m->eph);
}

/* An op that the model says is valid now (creates only for absent services, deletes only for present). */
static struct op pick(const struct model *m, uint32_t *rs)
{
    for (;;) {
        struct op o = {.s = (int)(nm_rand(rs) % NSVC)};
        uint32_t r = nm_rand(rs) % 100;
        if (r < 35) o.k = OP_REG, o.i = (int)(nm_rand(rs) % NPERS);
        else if (r < 55) o.k = OP_DEREG, o.i = (int)(nm_rand(rs) % NPERS);
        else if (r < 70) o.k = OP_REG_EPH, o.i = (int)(nm_rand(rs) % NEPH);
        else if (r < 80) o.k = OP_DEREG_EPH, o.i = (int)(nm_rand(rs) % NEPH);
        else if (r < 93) o.k = OP_SVC_CREATE;
        else o.k = OP_SVC_DELETE;
        if (o.k == OP_SVC_CREATE && m->svc[o.s] != ABSENT) continue;
        if (o.k == OP_SVC_DELETE && m->svc[o.s] == ABSENT) continue;
        return o;
    }
}

static long send_op(const struct nm_server *s, const struct op *o, struct nm_resp *r)
{
    switch (o->k) {
    case OP_REG:
        return nm_http(s, "POST", "/nacos/v1/ns/instance",
                       nm_fmt("serviceName=dur-%d&ip=10.77.%d.%d&port=9000&ephemeral=false&metadata=k%%3Dv%d", o->s,
                              o->s, o->i + 1, o->i),
                       NULL, NULL, r);
    case OP_DEREG:
        return nm_http(s, "DELETE",
                       nm_fmt("/nacos/v1/ns/instance?serviceName=dur-%d&ip=10.77.%d.%d&port=9000&ephemeral=false",
                              o->s, o->s, o->i + 1),
                       NULL, NULL, NULL, r);
    case OP_REG_EPH:
        return nm_http(s, "POST", "/nacos/v1/ns/instance",
                       nm_fmt("serviceName=dur-%d&ip=10.78.%d.%d&port=9500", o->s, o->s, o->i + 1), NULL, NULL, r);
    case OP_DEREG_EPH:
        return nm_http(s, "DELETE",
                       nm_fmt("/nacos/v1/ns/instance?serviceName=dur-%d&ip=10.78.%d.%d&port=9500", o->s, o->s,
                              o->i + 1),
                       NULL, NULL, NULL, r);
    case OP_SVC_CREATE:
        return nm_http(s, "POST", "/nacos/v1/ns/service", nm_fmt("serviceName=dur-%d&protectThreshold=0.25", o->s),
                       NULL, NULL, r);
    case OP_SVC_DELETE:
        return nm_http(s, "DELETE", nm_fmt("/nacos/v1/ns/service?serviceName=dur-%d", o->s), NULL, NULL, NULL, r);
    }
    return -1;
}

/* ------------------------------------------------------------------ registry -> model */

static int parse_ip(const char *ip, int net, int *s, int *i)
{
    int a, b, c, d;
    char tail;
    if (sscanf(ip, "%d.%d.%d.%d%c", &a, &b, &c, &d, &tail) != 4 || a != 10 || b != net) return -1;
    *s = c;
    *i = d - 1;
    return 0;
}

/* Reads /__mock/registry into *m; anything the model cannot express is a failure (err filled). */
static int registry_model(const struct nm_server *srv, struct model *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    cJSON *reg = nm_get_json(srv, "/__mock/registry");
    if (!reg) {
        snprintf(err, errlen, "GET /__mock/registry failed");
        return -1;
    }
    int rc = 0;
    const cJSON *ns, *sv, *in;
    cJSON_ArrayForEach(ns, cJSON_GetObjectItemCaseSensitive(reg, "namespaces")) {
        const char *nsid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ns, "namespaceId"));
        cJSON_ArrayForEach(sv, cJSON_GetObjectItemCaseSensitive(ns, "services")) {
            const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(sv, "name"));
            const char *group = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(sv, "groupName"));
            int s = -1;
            char tail;
            if (!nsid || strcmp(nsid, "public") || !group || strcmp(group, "DEFAULT_GROUP") || !name ||
                sscanf(name, "dur-%d%c", &s, &tail) != 1 || s < 0 || s >= NSVC) {
                snprintf(err, errlen, "unexpected service %s/%s@@%s", nsid ? nsid : "?", group ? group : "?",
                         name ? name : "?");
                rc = -1;
                continue;
            }
            m->svc[s] = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(sv, "explicit")) ? EXPLICIT : IMPLICIT;
            cJSON_ArrayForEach(in, cJSON_GetObjectItemCaseSensitive(sv, "instances")) {
                const char *ip = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "ip"));
                int port = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(in, "port"));
                bool eph = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(in, "ephemeral"));
                int is, ii;
                if (ip && !eph && port == 9000 && parse_ip(ip, 77, &is, &ii) == 0 && is == s && ii >= 0 && ii < NPERS) {
                    m->pers[s][ii] = true;
                } else if (ip && eph && port == 9500 && parse_ip(ip, 78, &is, &ii) == 0 && is == s && ii >= 0 &&
                           ii < NEPH) {
                    m->eph[s][ii] = true;
                } else {
                    snprintf(err, errlen, "unexpected instance %s:%d (ephemeral %d) in dur-%d", ip ? ip : "?", port,
                             eph, s);
                    rc = -1;
                }
            }
        }
    }
    cJSON_Delete(reg);
    return rc;
}

static bool model_eq(const struct model *a, const struct model *b)
{
    for (int s = 0; s < NSVC; s++) {
        if (a->svc[s] != b->svc[s]) return false;
        for (int i = 0; i < NPERS; i++)
            if (a->pers[s][i] != b->pers[s][i]) return false;
        for (int i = 0; i < NEPH; i++)
            if (a->eph[s][i] != b->eph[s][i]) return false;
    }
    return true;
}

/* got == want, except that a service the model holds implicitly and empty may have been
 * garbage-collected (after 60 s empty: only in long runs). */
static bool model_matches(const struct model *got, const struct model *want)
{
    struct model w = *want;
    for (int s = 0; s < NSVC; s++) {
        bool empty = true;
        for (int i = 0; i < NPERS; i++) empty = empty && !w.pers[s][i];
        for (int i = 0; i < NEPH; i++) empty = empty && !w.eph[s][i];
        if (w.svc[s] == IMPLICIT && empty && got->svc[s] == ABSENT) w.svc[s] = ABSENT;
    }
    return model_eq(got, &w);
}

static void model_text(const struct model *m, char *out, size_t len)
{
    size_t o = 0;
    for (int s = 0; s < NSVC && o < len; s++) {
        o += (size_t)snprintf(out + o, len - o, "dur-%d:%s[", s,
                              m->svc[s] == ABSENT ? "absent" : m->svc[s] == EXPLICIT ? "explicit" : "implicit");
        for (int i = 0; i < NPERS && o < len; i++) o += (size_t)snprintf(out + o, len - o, "%c", m->pers[s][i] ? 'P' : '.');
        for (int i = 0; i < NEPH && o < len; i++) o += (size_t)snprintf(out + o, len - o, "%c", m->eph[s][i] ? 'E' : '.');
        if (o < len) o += (size_t)snprintf(out + o, len - o, "] ");
    }
}

/* ------------------------------------------------------------------ the writer */

struct writer {
    struct nm_server srv;       /* a copy: the writer only needs base */
    struct model *m;
    uint32_t rs;
    /* results */
    bool in_flight;             /* the last op's outcome is unknown (sent, no answer) */
    struct op last;
    long acked;
    bool refused;               /* the last op's connection was refused: never sent */
    char failure[512];
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    for (;;) {
        struct op o = pick(w->m, &w->rs);
        struct nm_resp r;
        w->last = o;
        w->in_flight = true;
        long st = send_op(&w->srv, &o, &r);
        if (st == 200 && strcmp(r.body, "ok") == 0) {
            apply(w->m, &o);
            w->in_flight = false;
            w->acked++;
        } else if (st < 0) {
            /* the kill: a refused connection means the request never left */
            if (r.curl_code == CURLE_COULDNT_CONNECT) {
                w->in_flight = false;
                w->refused = true;
            }
            nm_resp_free(&r);
            break;
        } else {
            snprintf(w->failure, sizeof w->failure, "%s dur-%d #%d -> %ld %.200s", OP_NAMES[o.k], o.s, o.i, st,
                     r.body);
            w->in_flight = false;
            nm_resp_free(&r);
            break;
        }
        nm_resp_free(&r);
    }
    return NULL;
}

/* ------------------------------------------------------------------ server lifecycle */

static struct nm_server *start_db(void)
{
    struct nm_server *s = calloc(1, sizeof *s);
    assert_non_null(s);
    const char *args[] = {"--db", g_db, "--beat-interval-ms", "600000", NULL};
    if (nm_start(s, args)) fail_msg("nacos-mock did not start on %s", g_db);
    g_srv = s;
    return s;
}

static void kill_srv(struct nm_server *s)
{
    nm_kill(s);
    unlink(s->err_path);   /* nm_stop removes it; a kill is this test's normal way to stop */
    free(s);
    g_srv = NULL;
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/nm-durability-XXXXXX");
    if (!mkdtemp(g_dir)) return -1;
    snprintf(g_db, sizeof g_db, "%s/registry.db", g_dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (g_srv) {
        fprintf(stderr, "server stderr kept at %s\n", g_srv->err_path);
        nm_kill(g_srv);
        free(g_srv);
        g_srv = NULL;
    }
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        char p[160];
        snprintf(p, sizeof p, "%s%s", g_db, suffix[i]);
        unlink(p);
    }
    rmdir(g_dir);
    return 0;
}

static void must(const struct nm_server *s, const char *method, const char *path, const char *body, long want)
{
    struct nm_resp r;
    nm_http(s, method, path, body, NULL, NULL, &r);
    if (r.status != want) fail_msg("%s %s %s -> %ld %s (want %ld)", method, path, body ? body : "", r.status, r.body, want);
    nm_resp_free(&r);
}

/* ------------------------------------------------------------------ tests */

/* A restart (kill -9) loses every ephemeral instance and keeps the persistent ones, with their data. */
static void test_restart_keeps_persistent_drops_ephemeral(void **state)
{
    (void)state;
    struct nm_server *s = start_db();
    must(s, "POST", "/nacos/v1/ns/service", "serviceName=dur-0&protectThreshold=0.5&metadata=team%3Dcore", 200);
    for (int i = 1; i <= 3; i++)
        must(s, "POST", "/nacos/v1/ns/instance", nm_fmt("serviceName=dur-0&ip=10.78.0.%d&port=9500", i), 200);
    for (int i = 1; i <= 2; i++)
        must(s, "POST", "/nacos/v1/ns/instance",
             nm_fmt("serviceName=dur-0&ip=10.77.0.%d&port=9000&ephemeral=false&weight=3&metadata=k%%3Dv%d", i, i - 1),
             200);
    must(s, "POST", "/nacos/v1/ns/instance", "serviceName=dur-1&ip=10.78.1.1&port=9500", 200);
    struct model m;
    char err[512] = "";
    if (registry_model(s, &m, err, sizeof err)) fail_msg("%s", err);
    assert_true(m.eph[0][0] && m.eph[0][1] && m.eph[0][2] && m.pers[0][0] && m.pers[0][1] && m.eph[1][0]);
    kill_srv(s);

    s = start_db();
    if (registry_model(s, &m, err, sizeof err)) fail_msg("after restart: %s", err);
    struct model want;
    memset(&want, 0, sizeof want);
    want.svc[0] = EXPLICIT;
    want.svc[1] = IMPLICIT;   /* the mock keeps services; only instances are ephemeral */
    want.pers[0][0] = want.pers[0][1] = true;
    if (!model_eq(&m, &want)) {
        char a[512], b[512];
        model_text(&m, a, sizeof a);
        model_text(&want, b, sizeof b);
        fail_msg("after restart the registry is %s, want %s", a, b);
    }
    /* the persistent instances kept their data, and the service its settings */
    cJSON *d = nm_get_json(s, "/nacos/v1/ns/instance?serviceName=dur-0&ip=10.77.0.2&port=9000");
    assert_non_null(d);
    assert_true(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(d, "weight")) == 3.0);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
                            cJSON_GetObjectItemCaseSensitive(d, "metadata"), "k")), "v1");
    cJSON_Delete(d);
    d = nm_get_json(s, "/nacos/v1/ns/service?serviceName=dur-0");
    assert_non_null(d);
    assert_true(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(d, "protectThreshold")) == 0.5);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
                            cJSON_GetObjectItemCaseSensitive(d, "metadata"), "team")), "core");
    cJSON_Delete(d);
    /* a clean stop keeps the same */
    g_srv = NULL;
    assert_int_equal(nm_stop(s), 0);
    free(s);
    s = start_db();
    if (registry_model(s, &m, err, sizeof err)) fail_msg("after a clean restart: %s", err);
    assert_true(model_eq(&m, &want));
    kill_srv(s);
}

/* A service left empty by the restart (it had only ephemeral instances) is garbage-collected like
 * any other empty service: it must not linger forever. */
static void test_service_emptied_by_restart_is_collected(void **state)
{
    (void)state;
    struct nm_server *s = start_db();
    must(s, "POST", "/nacos/v1/ns/instance", "serviceName=dur-2&ip=10.78.2.1&port=9500", 200);   /* ephemeral only */
    must(s, "POST", "/nacos/v1/ns/instance", "serviceName=dur-3&ip=10.78.3.1&port=9500", 200);
    must(s, "DELETE", "/nacos/v1/ns/instance?serviceName=dur-3&ip=10.78.3.1&port=9500", NULL, 200);   /* empty before */
    kill_srv(s);
    s = start_db();
    /* 2 minutes of virtual time: past the 60 s empty-service collection */
    must(s, "POST", "/__mock/clock/advance", "{\"ms\":120000}", 200);
    struct model m;
    char err[512] = "";
    if (registry_model(s, &m, err, sizeof err)) fail_msg("%s", err);
    if (m.svc[3] != ABSENT) fail_msg("dur-3 (emptied before the restart) was not collected");
    if (m.svc[2] != ABSENT)
        fail_msg("dur-2, emptied by the restart's ephemeral purge, is still listed 120 s later: it is never "
                 "garbage-collected");
    kill_srv(s);
}

/* NM_DURABILITY_ROUNDS (default 25) and NM_DURABILITY_SEED (default: time and pid), printed. */
static uint32_t rounds_and_seed(const char *what, int *rounds)
{
    const char *e = getenv("NM_DURABILITY_ROUNDS");
    long n = e ? strtol(e, NULL, 10) : 0;
    *rounds = n > 0 && n < 100000 ? (int)n : 25;
    e = getenv("NM_DURABILITY_SEED");
    uint32_t seed = e && *e ? (uint32_t)strtoul(e, NULL, 10) : (uint32_t)time(NULL) ^ (uint32_t)getpid();
    if (!seed) seed = 1;
    printf("%s: seed %u (NM_DURABILITY_SEED to repeat), %d kill rounds\n", what, seed, *rounds);
    return seed;
}

static void test_kill9_rounds(void **state)
{
    (void)state;
    int rounds;
    uint32_t seed = rounds_and_seed("durability", &rounds), rs = seed;

    struct model m;
    char err[512] = "";
    struct nm_server *s = start_db();
    if (registry_model(s, &m, err, sizeof err)) fail_msg("%s", err);   /* whatever the other tests left */
    int64_t t0 = nm_mono_ms();
    long acked = 0, in_flight = 0, landed = 0, refused = 0;
    for (int round = 0; round < rounds; round++) {
        struct writer w = {.srv = *s, .m = &m, .rs = nm_rand(&rs)};
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, writer_main, &w), 0);
        usleep((useconds_t)(20000 + nm_rand(&rs) % 380000));   /* kill at a random moment, 20..400 ms in */
        kill_srv(s);
        pthread_join(th, NULL);
        if (w.failure[0]) fail_msg("round %d: unexpected answer: %s", round, w.failure);
        acked += w.acked;
        refused += w.refused;

        s = start_db();
        struct model got, without = m, with = m;
        restart_effect(&without);
        if (w.in_flight) {
            apply(&with, &w.last);
            restart_effect(&with);
        }
        if (registry_model(s, &got, err, sizeof err)) fail_msg("round %d after restart: %s", round, err);
        if (model_matches(&got, &without)) {
            m = got;
            in_flight += w.in_flight;
        } else if (w.in_flight && model_matches(&got, &with)) {
            m = got;
            in_flight++;
            landed++;
        } else {
            char a[512], b[512], c[512];
            model_text(&got, a, sizeof a);
            model_text(&without, b, sizeof b);
            model_text(&with, c, sizeof c);
            fail_msg("round %d (seed %u): after kill -9 and restart the registry is\n  %s\nwant (acknowledged "
                     "writes)\n  %s%s%s%s%s",
                     round, seed, a, b, w.in_flight ? "\nor, with the request in flight (" : "",
                     w.in_flight ? OP_NAMES[w.last.k] : "", w.in_flight ? ") landed\n  " : "", w.in_flight ? c : "");
        }
    }
    /* one more, with a clean stop: exactly the model */
    g_srv = NULL;
    assert_int_equal(nm_stop(s), 0);
    free(s);
    s = start_db();
    struct model got;
    if (registry_model(s, &got, err, sizeof err)) fail_msg("after the clean stop: %s", err);
    restart_effect(&m);
    if (!model_matches(&got, &m)) {
        char a[512], b[512];
        model_text(&got, a, sizeof a);
        model_text(&m, b, sizeof b);
        fail_msg("after a clean stop the registry is %s, want %s", a, b);
    }
    kill_srv(s);
    char txt[512];
    model_text(&m, txt, sizeof txt);
    printf("durability: %d kill -9 rounds survived in %.1f s; %ld acknowledged writes all kept; %ld kills caught a "
           "request in flight (%ld of them landed), %ld requests refused (never sent, none landed)\n"
           "durability: final registry %s\n",
           rounds, (double)(nm_mono_ms() - t0) / 1000.0, acked, in_flight, landed, refused, txt);
}

/* ------------------------------------------------------------------ configs */

#define NCFG 4   /* configs dur-cfg-0 .. 3 in group DUR */

struct cfg_model {
    char *content[NCFG];   /* NULL = absent */
};

struct cfg_writer {
    struct nm_server srv;
    struct cfg_model *m;
    uint32_t rs;
    unsigned seq;
    bool in_flight, refused;
    int last_k;
    char *last_content;    /* NULL: a removal */
    long acked;
    char failure[512];
};

static void cfg_set(struct cfg_model *m, int k, const char *c)
{
    free(m->content[k]);
    m->content[k] = c ? strdup(c) : NULL;
}

static void *cfg_writer_main(void *arg)
{
    struct cfg_writer *w = arg;
    for (;;) {
        int k = (int)(nm_rand(&w->rs) % NCFG);
        bool remove = nm_rand(&w->rs) % 5 == 0;
        size_t pad = nm_rand(&w->rs) % 8 == 0 ? 100000 : 0;
        char *content = NULL, *form = NULL;
        if (!remove) {
            content = malloc(pad + 64);
            int n = snprintf(content, 64, "v%u-", ++w->seq);
            memset(content + n, 'x', pad);
            content[(size_t)n + pad] = '\0';
            size_t fl = strlen(content) + 64;
            form = malloc(fl);
            snprintf(form, fl, "dataId=dur-cfg-%d&group=DUR&content=%s", k, content);
        }
        free(w->last_content);
        w->last_k = k;
        w->last_content = content;
        w->in_flight = true;
        struct nm_resp r;
        long st = remove ? nm_http(&w->srv, "DELETE", nm_fmt("/nacos/v1/cs/configs?dataId=dur-cfg-%d&group=DUR", k), NULL,
                                   NULL, NULL, &r)
                         : nm_http(&w->srv, "POST", "/nacos/v1/cs/configs", form, NULL, NULL, &r);
        free(form);
        if (st == 200 && strcmp(r.body, "true") == 0) {
            cfg_set(w->m, k, content);
            w->in_flight = false;
            w->acked++;
            nm_resp_free(&r);
            continue;
        }
        if (st < 0) {
            if (r.curl_code == CURLE_COULDNT_CONNECT) {
                w->in_flight = false;
                w->refused = true;
            }
        } else {
            snprintf(w->failure, sizeof w->failure, "%s dur-cfg-%d -> %ld %.200s", remove ? "remove" : "publish", k, st,
                     r.body);
            w->in_flight = false;
        }
        nm_resp_free(&r);
        return NULL;
    }
}

/* The configs as the server has them now. */
static void cfg_read(const struct nm_server *s, struct cfg_model *got)
{
    for (int k = 0; k < NCFG; k++) {
        struct nm_resp r;
        nm_http(s, "GET", nm_fmt("/nacos/v1/cs/configs?dataId=dur-cfg-%d&group=DUR", k), NULL, NULL, NULL, &r);
        if (r.status != 200 && r.status != 404) fail_msg("GET dur-cfg-%d -> %ld %s", k, r.status, r.body);
        got->content[k] = r.status == 200 ? strdup(r.body) : NULL;
        nm_resp_free(&r);
    }
}

static bool cfg_same(const char *a, const char *b) { return (!a && !b) || (a && b && !strcmp(a, b)); }

static void cfg_free(struct cfg_model *m)
{
    for (int k = 0; k < NCFG; k++) cfg_set(m, k, NULL);
}

static void test_config_kill9_rounds(void **state)
{
    (void)state;
    int rounds;
    uint32_t seed = rounds_and_seed("config durability", &rounds), rs = seed;
    struct cfg_model m = {0};
    struct model reg;
    char err[512] = "";
    struct nm_server *s = start_db();
    if (registry_model(s, &reg, err, sizeof err)) fail_msg("%s", err);
    long acked = 0, reg_acked = 0, landed = 0;
    for (int round = 0; round < rounds; round++) {
        struct cfg_writer w = {.srv = *s, .m = &m, .rs = nm_rand(&rs), .seq = (unsigned)round * 100000u};
        struct writer nw = {.srv = *s, .m = &reg, .rs = nm_rand(&rs)};
        pthread_t th, nth;
        assert_int_equal(pthread_create(&th, NULL, cfg_writer_main, &w), 0);
        assert_int_equal(pthread_create(&nth, NULL, writer_main, &nw), 0);
        usleep((useconds_t)(20000 + nm_rand(&rs) % 380000));
        kill_srv(s);
        pthread_join(th, NULL);
        pthread_join(nth, NULL);
        if (w.failure[0]) fail_msg("round %d: config writer: unexpected answer: %s", round, w.failure);
        if (nw.failure[0]) fail_msg("round %d: naming writer (same file): unexpected answer: %s", round, nw.failure);
        acked += w.acked;
        reg_acked += nw.acked;
        s = start_db();
        struct cfg_model got = {0};
        cfg_read(s, &got);
        for (int k = 0; k < NCFG; k++) {
            if (cfg_same(got.content[k], m.content[k])) continue;
            if (w.in_flight && k == w.last_k && cfg_same(got.content[k], w.last_content)) {
                cfg_set(&m, k, w.last_content);   /* the request in flight landed */
                landed++;
                continue;
            }
            fail_msg("round %d (seed %u): dur-cfg-%d is %.40s after kill -9, want %.40s%s", round, seed, k,
                     got.content[k] ? got.content[k] : "(absent)", m.content[k] ? m.content[k] : "(absent)",
                     w.in_flight && k == w.last_k ? " (or the request in flight)" : "");
        }
        cfg_free(&got);
        free(w.last_content);
        if (registry_model(s, &reg, err, sizeof err)) fail_msg("round %d: %s", round, err);   /* adopt it */
    }
    kill_srv(s);
    cfg_free(&m);
    printf("config durability: %d kill -9 rounds; %ld acknowledged config writes all kept (%ld in flight landed), "
           "%ld naming writes on the same file meanwhile, no store error on either\n",
           rounds, acked, landed, reg_acked);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_restart_keeps_persistent_drops_ephemeral, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill9_rounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_service_emptied_by_restart_is_collected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_kill9_rounds, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
