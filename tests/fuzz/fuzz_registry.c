/*
 * fuzz_registry.c — registry_load of fuzzed JSON on an in-process app.
 *
 * Two apps per process (app_init on :memory:, no listener, no threads), emptied with store_clear
 * before each use so every input starts from the same state. The first gets a baseline registry
 * (two namespaces, services with and without instances), then loads the input as a snapshot; the
 * second takes the resulting dump. Invariants:
 *   - an error (-1 invalid, -2 store) comes with a message and changes NOTHING: the dump before and
 *     after are equal;
 *   - success reports as many services and instances as the snapshot lists, and every one of them is
 *     in the store afterwards;
 *   - everything in the registry then passes the rules the Nacos API applies (namespace, group,
 *     service and cluster names, ip), and the dump loads into a fresh app giving the same dump (a
 *     snapshot of GET /__mock/registry is always a valid POST /__mock/registry).
 */
#include "fuzz.h"

#include <string.h>

#include <cjson/cJSON.h>

#include "nacos_mock/app.h"
#include "nacos_mock/config.h"
#include "nacos_mock/cs_core.h"
#include "nacos_mock/log.h"
#include "nacos_mock/naming.h"
#include "nacos_mock/registry.h"
#include "nacos_mock/reply.h"
#include "nacos_mock/store.h"

static const char BASELINE[] =
    "{\"namespaces\":["
    "{\"namespaceId\":\"public\",\"services\":["
    "{\"name\":\"order-service\",\"groupName\":\"DEFAULT_GROUP\",\"protectThreshold\":0.5,"
    "\"metadata\":{\"owner\":\"team-orders\"},\"instances\":["
    "{\"ip\":\"127.0.0.1\",\"port\":18081,\"weight\":1.5,\"ephemeral\":false,\"metadata\":{\"zone\":\"a\"}},"
    "{\"ip\":\"127.0.0.1\",\"port\":18082,\"clusterName\":\"B\",\"lastBeatMs\":1000,\"registeredMs\":500}]},"
    "{\"name\":\"empty\",\"groupName\":\"G\",\"explicit\":true,\"selector\":{\"type\":\"label\",\"expression\":\"a\"}}]},"
    "{\"namespaceId\":\"staging\",\"services\":[{\"name\":\"DEFAULT_GROUP@@order-service\","
    "\"instances\":[{\"ip\":\"10.0.0.1\",\"port\":28081,\"healthy\":false,\"lastBeatMs\":0}]}]}]}";

static struct config cfg;
static struct app apps[2];
static bool apps_ready;

/* One of the process's two apps, emptied (opening a store per input would cost most of the time). */
static struct app *empty_app(int i)
{
    if (!apps_ready) {
        log_set_level(LOG_ERROR);
        config_defaults(&cfg);
        cfg.seed_given = true;
        cfg.seed = 1;
        cfg.journal_size = 0;
        char err[512];
        for (int k = 0; k < 2; k++) FUZZ_CHECK(app_init(&apps[k], &cfg, err, sizeof err) == 0, "app_init: %s", err);
        apps_ready = true;
    }
    app_lock(&apps[i]);
    FUZZ_CHECK(store_clear(apps[i].store) == 0, "store_clear failed");
    struct cs_error cerr;
    FUZZ_CHECK(cs_clear(apps[i].cs, "control", &cerr) == CS_OK, "cs_clear failed: %s", cerr.msg);
    app_unlock(&apps[i]);
    return &apps[i];
}

static const char *opt_str(const cJSON *o, const char *k, const char *def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : def;
}

/* After a successful load: every service and instance of the snapshot is in the store. */
static void check_loaded(struct app *app, const cJSON *snap, long n_svc, long n_inst)
{
    long svcs = 0, insts = 0;
    const cJSON *ns, *svc, *in;
    cJSON_ArrayForEach(ns, cJSON_GetObjectItemCaseSensitive(snap, "namespaces")) {
        const char *nsid = opt_str(ns, "namespaceId", DEFAULT_NAMESPACE);
        cJSON_ArrayForEach(svc, cJSON_GetObjectItemCaseSensitive(ns, "services")) {
            svcs++;
            const char *name = opt_str(svc, "name", ""), *group = opt_str(svc, "groupName", DEFAULT_GROUP);
            char grouped[GROUPED_MAX + 8];
            if (strstr(name, GROUP_SEP)) snprintf(grouped, sizeof grouped, "%s", name);
            else snprintf(grouped, sizeof grouped, "%s" GROUP_SEP "%s", group, name);
            struct service_rec s;
            FUZZ_CHECK(store_service_get(app->store, nsid, grouped, &s) == 0, "service %s / %s not loaded", nsid,
                       grouped);
            cJSON_ArrayForEach(in, cJSON_GetObjectItemCaseSensitive(svc, "instances")) {
                insts++;
                struct instance_rec r;
                const cJSON *port = cJSON_GetObjectItemCaseSensitive(in, "port");
                FUZZ_CHECK(cJSON_IsNumber(port), "a loaded instance without a number port");
                const char *cluster = opt_str(in, "clusterName", DEFAULT_CLUSTER), *ip = opt_str(in, "ip", "");
                FUZZ_CHECK(store_instance_get(app->store, s.id, cluster, ip, (int)port->valuedouble, &r) == 0,
                           "instance %s:%g in %s of %s not loaded", ip, port->valuedouble, cluster, grouped);
                store_instance_rec_free(&r);
            }
            store_service_rec_free(&s);
        }
    }
    FUZZ_CHECK(svcs == n_svc && insts == n_inst, "load reported %ld services / %ld instances, snapshot has %ld / %ld",
               n_svc, n_inst, svcs, insts);
}

static void check_name(const char *field, const char *v)
{
    struct reply rep;
    reply_init(&rep);
    FUZZ_CHECK(*v && naming_check_name_or_reply(field, v, strlen(v), &rep) == 0, "loaded %s \"%s\" the API refuses: %s",
               field, v, rep.body ? rep.body : "empty");
    reply_free(&rep);
}

/* Everything in the registry is something the Nacos API would have accepted. */
static void check_valid(const cJSON *dump)
{
    const cJSON *ns, *svc, *in;
    cJSON_ArrayForEach(ns, cJSON_GetObjectItemCaseSensitive(dump, "namespaces")) {
        check_name("namespaceId", opt_str(ns, "namespaceId", ""));
        cJSON_ArrayForEach(svc, cJSON_GetObjectItemCaseSensitive(ns, "services")) {
            check_name("groupName", opt_str(svc, "groupName", ""));
            check_name("name", opt_str(svc, "name", ""));
            cJSON_ArrayForEach(in, cJSON_GetObjectItemCaseSensitive(svc, "instances")) {
                check_name("clusterName", opt_str(in, "clusterName", ""));
                struct reply rep;
                reply_init(&rep);
                FUZZ_CHECK(naming_check_ip_or_reply("ip", opt_str(in, "ip", ""), &rep) == 0, "loaded ip: %s",
                           rep.body ? rep.body : "");
                reply_free(&rep);
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512] = "";
    struct app *app = empty_app(0);
    cJSON *base = cJSON_Parse(BASELINE);
    app_lock(app);
    FUZZ_CHECK(registry_load(app, base, NULL, err, sizeof err) == 0, "baseline: %s", err);
    app_unlock(app);
    cJSON_Delete(base);

    cJSON *snap = cJSON_ParseWithLength((const char *)data, size);
    long n_svc = -1, n_inst = -1;
    app_lock(app);
    cJSON *before = fuzz_dump_without_now(app);
    struct registry_counts n = {-1, -1, -1};
    int rc = registry_load(app, snap, &n, err, sizeof err);
    n_svc = n.services;
    n_inst = n.instances;
    cJSON *after = fuzz_dump_without_now(app);
    if (rc == 0) check_loaded(app, snap, n_svc, n_inst);
    app_unlock(app);

    if (rc != 0) {
        FUZZ_CHECK(rc == -1 || rc == -2, "registry_load returned %d", rc);
        FUZZ_CHECK(err[0] != '\0', "error %d without a message", rc);
        if (!cJSON_Compare(before, after, true)) {
            char *b = cJSON_PrintUnformatted(before), *a = cJSON_PrintUnformatted(after);
            FUZZ_CHECK(0, "failed load (%d: %s) changed the registry\nbefore: %s\nafter:  %s", rc, err, b, a);
        }
    } else {
        check_valid(after);
        struct app *app2 = empty_app(1);
        app_lock(app2);
        int rc2 = registry_load(app2, after, NULL, err, sizeof err);
        FUZZ_CHECK(rc2 == 0, "the dump does not load back: %s", err);
        cJSON *again = fuzz_dump_without_now(app2);
        app_unlock(app2);
        if (!cJSON_Compare(after, again, true)) {
            char *a = cJSON_PrintUnformatted(after), *g = cJSON_PrintUnformatted(again);
            FUZZ_CHECK(0, "dump -> load -> dump differs\nfirst:  %s\nsecond: %s", a, g);
        }
        cJSON_Delete(again);
    }
    cJSON_Delete(before);
    cJSON_Delete(after);
    cJSON_Delete(snap);
    return 0;
}
