/*
 * fuzz_faults.c — fault rules from arbitrary text: faults_compact_to_json on it (the --fault form),
 * and faults_add_json on cJSON_Parse of it (a rule object, or an array of rules as in --faults).
 *
 * Invariants, on a fresh rule set per input:
 *   - a refused rule comes with a message and adds nothing; an accepted one comes back as `stored`
 *     with its id, and faults_list_json lists exactly the accepted rules, in order, as stored;
 *   - every listed rule, added again to an empty set, is accepted and lists the same (a listing is
 *     valid input), and a request built from its own match fields (transport, dataId, group and node
 *     included) fires it when it cannot be held back (probability 1, after 0), with the rule's
 *     action, and counts the hit;
 *   - faults_match on a few fixed requests never crashes and only names existing rules;
 *   - faults_reset restores exactly the rules added as initial (even-numbered ones): same ids, same
 *     listing as when they were first added.
 */
#include "fuzz.h"

#include <math.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "nacos_mock/faults.h"

#define NOW 1700000000000LL

static const char *str_of(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double num_of(const cJSON *o, const char *k, double def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : def;
}

/* Re-adds a listed rule to an empty set and fires it with a request made of its own match fields. */
static void check_alone(const cJSON *listed)
{
    char err[256] = "";
    struct faults *f = faults_create(7);
    cJSON *stored = NULL;
    int rc = faults_add_json(f, listed, NOW, false, &stored, err, sizeof err);
    FUZZ_CHECK(rc == 0, "a listed rule is refused: %s", err);
    FUZZ_CHECK(cJSON_Compare(stored, listed, true), "re-adding a listed rule changes it");
    cJSON_Delete(stored);

    const cJSON *m = cJSON_GetObjectItemCaseSensitive(listed, "match");
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(listed, "action");
    struct fault_request q = {
        .api = str_of(m, "api"), .method = str_of(m, "method"), .path = str_of(m, "path"),
        .ns = str_of(m, "namespaceId"), .group = str_of(m, "groupName"), .service = str_of(m, "serviceName"),
        .cluster = str_of(m, "clusterName"), .ip = str_of(m, "ip"), .port = (int)num_of(m, "port", 0),
        .transport = str_of(m, "transport"), .data_id = str_of(m, "dataId"),
    };
    FUZZ_CHECK(q.api, "listed rule without match.api");
    if (!strcmp(q.api, "any")) q.api = "register";
    bool consistent = true;
    /* match.group (a config's group) is compared with the request's group as groupName is */
    const char *cgroup = str_of(m, "group");
    if (cgroup) {
        if (q.group && strcmp(q.group, cgroup)) consistent = false;
        q.group = cgroup;
    }
    char group[600];
    const char *sep = q.service ? strstr(q.service, "@@") : NULL;
    if (sep) {   /* a grouped serviceName pins the group */
        snprintf(group, sizeof group, "%.*s", (int)(sep - q.service), q.service);
        if (q.group && strcmp(q.group, group)) consistent = false;
        q.group = group;
        q.service = sep + 2;
    }
    const cJSON *node = cJSON_GetObjectItemCaseSensitive(m, "node");
    if (cJSON_IsNumber(node)) {   /* a request on that node's listener; a push is on none, so never fires */
        q.on_node = true;
        q.node = node->valueint;
        if (!strcmp(q.api, "push") || !strcmp(q.api, "config.push")) consistent = false;
    }
    bool must_fire = consistent && num_of(listed, "probability", -1) == 1.0 && num_of(listed, "after", -1) == 0;
    struct fault_hit hit;
    bool fired = faults_match(f, &q, NOW, &hit);
    FUZZ_CHECK(fired || !must_fire, "rule %s does not fire on its own match fields", str_of(listed, "id"));
    if (fired) {
        FUZZ_CHECK(!strcmp(hit.id, str_of(listed, "id")), "hit names %s", hit.id);
        FUZZ_CHECK(hit.status == (int)num_of(a, "status", 0), "hit status %d", hit.status);
        FUZZ_CHECK(hit.beat_code == (int)num_of(a, "beatCode", 0), "hit beatCode %d", hit.beat_code);
        const char *body = str_of(a, "body");
        FUZZ_CHECK(body ? hit.body && !strcmp(hit.body, body) : !hit.body, "hit body");
        double d = num_of(a, "delayMs", 0), j = num_of(a, "jitterMs", 0);
        FUZZ_CHECK((double)hit.delay_ms >= d && (double)hit.delay_ms <= d + j, "delay %lld", (long long)hit.delay_ms);
        const char *drop = str_of(a, "drop");
        enum reply_drop want = !drop ? DROP_NONE : !strcmp(drop, "reset") ? DROP_RESET
                             : !strcmp(drop, "close") ? DROP_CLOSE : DROP_HANG;
        FUZZ_CHECK(hit.drop == want, "hit drop %d", (int)hit.drop);
        fault_hit_free(&hit);
        cJSON *list = faults_list_json(f, NOW);
        const cJSON *r0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(list, "faults"), 0);
        FUZZ_CHECK(num_of(r0, "hits", -1) == 1, "a hit is not counted");
        cJSON_Delete(list);
    }
    faults_free(f);
}

static void check_rules(const cJSON *const *rules, size_t n)
{
    struct faults *f = faults_create(42);
    cJSON *accepted = cJSON_CreateArray(), *initial = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) {
        char err[256] = "";
        cJSON *stored = NULL;
        bool init = i % 2 == 0;
        int rc = faults_add_json(f, rules[i], NOW, init, &stored, err, sizeof err);
        if (rc) {
            FUZZ_CHECK(rc == -1 || rc == -2, "faults_add_json returned %d", rc);
            FUZZ_CHECK(err[0] && !stored, "refused without a message, or with a stored rule");
            continue;
        }
        FUZZ_CHECK(stored && str_of(stored, "id"), "accepted rule without a stored id");
        cJSON_AddItemToArray(accepted, cJSON_Duplicate(stored, true));
        if (init) cJSON_AddItemToArray(initial, cJSON_Duplicate(stored, true));
        cJSON_Delete(stored);
    }
    FUZZ_CHECK(faults_count(f) == (size_t)cJSON_GetArraySize(accepted), "count %zu", faults_count(f));

    cJSON *list = faults_list_json(f, NOW);
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(list, "faults");
    FUZZ_CHECK(cJSON_Compare(arr, accepted, true), "the listing is not the accepted rules");
    const cJSON *r;
    cJSON_ArrayForEach(r, arr) check_alone(r);

    static const struct fault_request probes[] = {
        {.api = "beat", .method = "PUT", .path = "/nacos/v1/ns/instance/beat", .ns = "public",
         .group = "DEFAULT_GROUP", .service = "order", .cluster = "DEFAULT", .ip = "10.0.0.5", .port = 8080},
        {.api = "register", .method = "POST"},
        {.api = "push", .ns = "public", .service = "demo"},
        {0},
    };
    for (size_t k = 0; k < sizeof probes / sizeof probes[0]; k++) {
        for (int rep = 0; rep < 3; rep++) {
            struct fault_hit hit;
            if (faults_match(f, &probes[k], NOW + rep * 1000, &hit)) {
                bool known = false;
                cJSON_ArrayForEach(r, arr) known = known || !strcmp(str_of(r, "id"), hit.id);
                FUZZ_CHECK(known, "hit names unknown rule %s", hit.id);
                fault_hit_free(&hit);
            }
        }
    }
    cJSON_Delete(list);

    faults_reset(f, NOW);   /* restored as added at NOW: counters and windows as when first added */
    list = faults_list_json(f, NOW);
    const cJSON *restored = cJSON_GetObjectItemCaseSensitive(list, "faults");
    if (!cJSON_Compare(restored, initial, true)) {
        char *w = cJSON_PrintUnformatted(initial), *g = cJSON_PrintUnformatted(restored);
        FUZZ_CHECK(0, "reset does not restore the initial rules\nwant: %s\ngot:  %s", w, g);
    }
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(list, "faults"))
        FUZZ_CHECK(faults_delete(f, str_of(r, "id")) == 0, "cannot delete %s", str_of(r, "id"));
    FUZZ_CHECK(faults_count(f) == 0 && faults_delete(f, "no-such-rule") == 1, "delete");
    cJSON_Delete(list);
    cJSON_Delete(accepted);
    cJSON_Delete(initial);
    faults_free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);

    char err[256] = "";
    cJSON *c = faults_compact_to_json(text, err, sizeof err);
    if (!c) {
        FUZZ_CHECK(err[0], "compact form refused without a message");
    } else {
        FUZZ_CHECK(cJSON_IsObject(c), "compact form gave a non-object");
        const cJSON *one[] = {c};
        check_rules(one, 1);
        cJSON_Delete(c);
    }

    cJSON *j = cJSON_ParseWithLength((const char *)data, size);
    if (cJSON_IsArray(j)) {
        int n = cJSON_GetArraySize(j);
        const cJSON **rules = malloc(((size_t)n + 1) * sizeof *rules);
        FUZZ_CHECK(rules, "out of memory");
        for (int i = 0; i < n; i++) rules[i] = cJSON_GetArrayItem(j, i);
        check_rules(rules, (size_t)n);
        free(rules);
    } else if (j) {
        const cJSON *one[] = {j};
        check_rules(one, 1);
    }
    cJSON_Delete(j);
    free(text);
    return 0;
}
