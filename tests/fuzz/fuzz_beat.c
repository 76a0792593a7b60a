/*
 * fuzz_beat.c — h_instance_beat with a fuzzed `beat` parameter on an in-process app.
 *
 * One app per process (app_init on :memory:, no listener, no threads); before every input its
 * registry is emptied (store_clear) and reloaded, so every input starts from the same state: service
 * DEFAULT_GROUP@@demo with an unhealthy ephemeral instance 10.0.0.5:8080 (beat interval 3000) and a
 * persistent 10.0.0.6:8080. The request carries serviceName=DEFAULT_GROUP@@demo, ip=10.0.0.5,
 * port=8080 and beat=<the input up to its first NUL>, as the dispatcher would hand it over.
 *
 * Invariants:
 *   - the reply is 200 JSON {clientBeatInterval > 0, code 10200|20404, lightBeatEnabled: true}, or a
 *     400/500 `caused: ...;` text; never anything else, no drop, no delay;
 *   - an error or a 20404 changes nothing in the registry (dump before == dump after);
 *   - a 10200 either registered exactly one new, complete instance (healthy, enabled, weight in
 *     range, interval <= timeouts, clientBeatInterval = its interval) and changed nothing else, or
 *     touched at most one known instance, and only its lastBeatMs (to the request's now) and health.
 */
#include "fuzz.h"

#include <math.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "nacos_mock/app.h"
#include "nacos_mock/config.h"
#include "nacos_mock/handlers.h"
#include "nacos_mock/log.h"
#include "nacos_mock/registry.h"
#include "nacos_mock/reply.h"
#include "nacos_mock/request.h"
#include "nacos_mock/store.h"

static const char BASELINE[] =
    "{\"namespaces\":[{\"namespaceId\":\"public\",\"services\":[{\"name\":\"demo\",\"groupName\":\"DEFAULT_GROUP\","
    "\"instances\":["
    "{\"ip\":\"10.0.0.5\",\"port\":8080,\"healthy\":false,\"lastBeatMs\":0,\"registeredMs\":0,"
    "\"metadata\":{\"preserved.heart.beat.interval\":\"3000\"}},"
    "{\"ip\":\"10.0.0.6\",\"port\":8080,\"ephemeral\":false,\"lastBeatMs\":0,\"registeredMs\":0}]}]}]}";

/* Every instance of the dump, each with "_ns" and "_service" added. Caller deletes. */
static cJSON *flat_instances(const cJSON *dump, long *n_services)
{
    cJSON *out = cJSON_CreateArray();
    *n_services = 0;
    const cJSON *nss = cJSON_GetObjectItemCaseSensitive(dump, "namespaces"), *ns, *svc, *in;
    cJSON_ArrayForEach(ns, nss) {
        cJSON_ArrayForEach(svc, cJSON_GetObjectItemCaseSensitive(ns, "services")) {
            (*n_services)++;
            cJSON_ArrayForEach(in, cJSON_GetObjectItemCaseSensitive(svc, "instances")) {
                cJSON *c = cJSON_Duplicate(in, true);
                cJSON_AddItemToObject(c, "_ns", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(ns, "namespaceId"), 1));
                cJSON_AddItemToObject(c, "_service", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(svc, "name"), 1));
                cJSON_AddItemToArray(out, c);
            }
        }
    }
    return out;
}

static const char *str_of(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static double num_of(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const cJSON *find_same(const cJSON *list, const cJSON *in)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, list) {
        if (!strcmp(str_of(c, "_ns"), str_of(in, "_ns")) && !strcmp(str_of(c, "_service"), str_of(in, "_service")) &&
            !strcmp(str_of(c, "clusterName"), str_of(in, "clusterName")) && !strcmp(str_of(c, "ip"), str_of(in, "ip")) &&
            num_of(c, "port") == num_of(in, "port"))
            return c;
    }
    return NULL;
}

static void check_reply(const struct reply *rep, int *code, double *interval)
{
    FUZZ_CHECK(rep->drop == DROP_NONE && rep->delay_ms == 0 && !rep->deferred, "drop/delay set by the handler");
    FUZZ_CHECK(rep->body != NULL, "no body (status %d)", rep->status);
    if (rep->status == 200) {
        FUZZ_CHECK(rep->content_type && !strncmp(rep->content_type, "application/json", 16), "200 as %s",
                   rep->content_type ? rep->content_type : "(none)");
        cJSON *j = cJSON_Parse(rep->body);
        FUZZ_CHECK(cJSON_IsObject(j), "200 body is not a JSON object: %s", rep->body);
        *code = (int)num_of(j, "code");
        *interval = num_of(j, "clientBeatInterval");
        FUZZ_CHECK(*code == 10200 || *code == 20404, "code %d: %s", *code, rep->body);
        FUZZ_CHECK(*interval >= 1, "clientBeatInterval: %s", rep->body);
        FUZZ_CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "lightBeatEnabled")), "%s", rep->body);
        cJSON_Delete(j);
        return;
    }
    FUZZ_CHECK(rep->status == 400 || rep->status == 500, "status %d: %s", rep->status, rep->body);
    FUZZ_CHECK(rep->content_type && !strcmp(rep->content_type, CT_TEXT), "error without text content type");
    FUZZ_CHECK(rep->len >= 9 && !strncmp(rep->body, "caused: ", 8) && rep->body[rep->len - 1] == ';',
               "error body is not `caused: ...;`: %s", rep->body);
    *code = 0;
}

static void check_new_instance(const cJSON *in, double interval)
{
    FUZZ_CHECK(*str_of(in, "instanceId"), "new instance without instanceId");
    FUZZ_CHECK(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(in, "metadata")), "new instance without metadata");
    FUZZ_CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(in, "healthy")), "new instance not healthy");
    FUZZ_CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(in, "enabled")), "new instance not enabled");
    double w = num_of(in, "weight");
    FUZZ_CHECK(w >= 0 && w <= 10000, "new instance weight %g", w);
    double iv = num_of(in, "heartBeatIntervalMs"), to = num_of(in, "heartBeatTimeoutMs"),
           del = num_of(in, "ipDeleteTimeoutMs");
    FUZZ_CHECK(iv >= 1 && iv <= to && iv <= del, "timeouts %g/%g/%g", iv, to, del);
    FUZZ_CHECK(iv == interval, "clientBeatInterval %g but the instance has %g", interval, iv);
}

/* The known instance the beat touched may differ in lastBeatMs and healthy only. */
static bool same_but_beat(const cJSON *before, const cJSON *after, int64_t now_ms)
{
    cJSON *b = cJSON_Duplicate(before, true), *a = cJSON_Duplicate(after, true);
    bool beat_ok = num_of(after, "lastBeatMs") == (double)now_ms &&
                   cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(after, "healthy"));
    const char *const keys[] = {"lastBeatMs", "healthy"};
    for (size_t i = 0; i < 2; i++) {
        cJSON_DeleteItemFromObjectCaseSensitive(b, keys[i]);
        cJSON_DeleteItemFromObjectCaseSensitive(a, keys[i]);
    }
    bool same = cJSON_Compare(a, b, true);
    cJSON_Delete(a);
    cJSON_Delete(b);
    return same && beat_ok;
}

static struct config cfg;
static struct app app;
static bool app_ready;

/* The process's app with the baseline registry and nothing else (opening a store per input would
 * cost most of the time). */
static void reset_app(void)
{
    char err[512];
    if (!app_ready) {
        log_set_level(LOG_ERROR);   /* health transitions would log a line per input */
        config_defaults(&cfg);
        cfg.seed_given = true;
        cfg.seed = 1;
        cfg.journal_size = 0;
        FUZZ_CHECK(app_init(&app, &cfg, err, sizeof err) == 0, "app_init: %s", err);
        app_ready = true;
    }
    cJSON *base = cJSON_Parse(BASELINE);
    app_lock(&app);
    FUZZ_CHECK(store_clear(app.store) == 0, "store_clear failed");
    FUZZ_CHECK(registry_load(&app, base, NULL, err, sizeof err) == 0, "baseline: %s", err);
    app_unlock(&app);
    cJSON_Delete(base);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reset_app();

    char *beat = fuzz_cstr(data, size);

    struct request req;
    memset(&req, 0, sizeof req);
    req.method = "PUT";
    req.path = "/nacos/v1/ns/instance/beat";
    req.user_agent = "Nacos-Java-Client:v1.4.8";
    req.content_type = "application/x-www-form-urlencoded";
    req.body = "";
    params_init(&req.params);
    params_add(&req.params, "serviceName", "DEFAULT_GROUP@@demo");
    params_add(&req.params, "ip", "10.0.0.5");
    params_add(&req.params, "port", "8080");
    params_add(&req.params, "beat", beat);
    struct reply rep;
    reply_init(&rep);

    app_lock(&app);
    cJSON *before = fuzz_dump_without_now(&app);
    req.now_ms = clock_now_ms(&app.clock);
    h_instance_beat(&app, &req, &rep);
    cJSON *after = fuzz_dump_without_now(&app);
    app_unlock(&app);

    int code = 0;
    double interval = 0;
    check_reply(&rep, &code, &interval);
    if (code != 10200) {
        FUZZ_CHECK(cJSON_Compare(before, after, true), "status %d code %d changed the registry: %s", rep.status, code,
                   rep.body);
        if (code == 20404) FUZZ_CHECK(interval == (double)cfg.beat_interval_ms, "20404 with interval %g", interval);
    } else {
        long sb, sa;
        cJSON *fb = flat_instances(before, &sb), *fa = flat_instances(after, &sa);
        int nb = cJSON_GetArraySize(fb), na = cJSON_GetArraySize(fa);
        FUZZ_CHECK(sa == sb, "a beat changed the number of services: %ld -> %ld", sb, sa);
        const cJSON *c;
        if (na == nb + 1) {   /* registered one; the rest untouched */
            int fresh = 0;
            cJSON_ArrayForEach(c, fa) {
                const cJSON *old = find_same(fb, c);
                if (!old) {
                    fresh++;
                    check_new_instance(c, interval);
                } else {
                    FUZZ_CHECK(cJSON_Compare(old, c, true), "a registering beat changed %s:%g", str_of(c, "ip"),
                               num_of(c, "port"));
                }
            }
            FUZZ_CHECK(fresh == 1, "%d new instances", fresh);
        } else {
            FUZZ_CHECK(na == nb, "instances %d -> %d on a 10200", nb, na);
            int changed = 0;
            bool interval_seen = false;
            cJSON_ArrayForEach(c, fa) {
                const cJSON *old = find_same(fb, c);
                FUZZ_CHECK(old, "instance %s:%g replaced", str_of(c, "ip"), num_of(c, "port"));
                if (!cJSON_Compare(old, c, true)) {
                    changed++;
                    FUZZ_CHECK(same_but_beat(old, c, req.now_ms), "a light beat changed more than the beat time");
                    FUZZ_CHECK(num_of(c, "heartBeatIntervalMs") == interval, "clientBeatInterval %g", interval);
                }
                if (num_of(c, "heartBeatIntervalMs") == interval) interval_seen = true;
            }
            FUZZ_CHECK(changed <= 1, "%d instances changed by one beat", changed);
            FUZZ_CHECK(interval_seen, "clientBeatInterval %g is no instance's interval", interval);
        }
        cJSON_Delete(fb);
        cJSON_Delete(fa);
    }

    cJSON_Delete(before);
    cJSON_Delete(after);
    reply_free(&rep);
    request_free(&req);
    free(beat);
    return 0;
}
