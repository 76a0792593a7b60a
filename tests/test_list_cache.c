/*
 * test_list_cache.c — the rendered instance/list cache (list_cache.h): the module alone (state
 * checks, LRU eviction, byte bound), then over real HTTP that no change of the registry is ever
 * answered from an old entry — each change is followed at once by a list, within the same
 * millisecond where the machine allows — and that unchanged lists are answered from the cache
 * (nacos_mock_list_cache_lookups_total on /__mock/metrics).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "nacos_mock/list_cache.h"

/* ------------------------------------------------------------------ the module */

static const char *get(struct list_cache *c, const char *key, struct list_cache_state st)
{
    size_t len = 0;
    char *b = list_cache_copy(c, key, strlen(key), &st, &len);
    static char out[256];
    if (!b) return NULL;
    snprintf(out, sizeof out, "%.*s", (int)len, b);
    free(b);
    return out;
}

static void put(struct list_cache *c, const char *key, struct list_cache_state st, const char *body)
{
    list_cache_put(c, key, strlen(key), &st, body, strlen(body));
}

static void test_module_state_must_match(void **state)
{
    (void)state;
    struct list_cache *c = list_cache_new(1 << 20, 1);
    assert_non_null(c);
    struct list_cache_state s1 = {1, 100, 0};
    put(c, "k", s1, "{\"a\":1}");
    assert_string_equal(get(c, "k", s1), "{\"a\":1}");
    assert_null(get(c, "other", s1));
    /* any other revision, id or generation misses, and drops the stale entry */
    assert_null(get(c, "k", (struct list_cache_state){1, 101, 0}));
    assert_null(get(c, "k", s1));
    put(c, "k", s1, "x");
    assert_null(get(c, "k", (struct list_cache_state){2, 100, 0}));
    put(c, "k", s1, "x");
    assert_null(get(c, "k", (struct list_cache_state){1, 100, 1}));
    /* a key with embedded NULs is compared by length, not as a C string */
    list_cache_put(c, "a\0b", 3, &s1, "ab", 2);
    size_t len = 0;
    assert_null(list_cache_copy(c, "a\0c", 3, &s1, &len));
    char *ab = list_cache_copy(c, "a\0b", 3, &s1, &len);
    assert_non_null(ab);
    assert_int_equal(len, 2);
    free(ab);
    /* a put replaces the entry of the same key */
    put(c, "k", s1, "one");
    put(c, "k", s1, "two");
    assert_string_equal(get(c, "k", s1), "two");
    size_t entries = 0;
    uint64_t hits = 0, misses = 0;
    list_cache_stats(c, &entries, NULL, &hits, &misses, NULL);
    assert_int_equal(entries, 2);
    assert_int_equal(hits, 3);
    assert_int_equal(misses, 6);
    list_cache_clear(c);
    list_cache_stats(c, &entries, NULL, &hits, &misses, NULL);
    assert_int_equal(entries + hits + misses, 0);
    assert_null(get(c, "k", s1));
    list_cache_free(c);
}

static void test_module_evicts_least_recently_used_within_bound(void **state)
{
    (void)state;
    char body[1000];
    memset(body, 'x', sizeof body - 1);
    body[sizeof body - 1] = '\0';
    struct list_cache *c = list_cache_new(4500, 1);   /* room for four 1 KB entries */
    struct list_cache_state st = {1, 1, 0};
    put(c, "a", st, body);
    put(c, "b", st, body);
    put(c, "c", st, body);
    put(c, "d", st, body);
    assert_non_null(get(c, "a", st));   /* a is now the most recent: b is the oldest */
    put(c, "e", st, body);
    assert_null(get(c, "b", st));
    assert_non_null(get(c, "a", st));
    assert_non_null(get(c, "c", st));
    assert_non_null(get(c, "d", st));
    assert_non_null(get(c, "e", st));
    size_t bytes = 0;
    list_cache_stats(c, NULL, &bytes, NULL, NULL, NULL);
    assert_true(bytes <= 4500);
    /* a body larger than the whole cache is not kept (and evicts nothing) */
    char big[5000];
    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    put(c, "big", st, big);
    assert_null(get(c, "big", st));
    assert_non_null(get(c, "e", st));
    list_cache_free(c);
}

/* Threads put, copy and clear at once (run under ThreadSanitizer in stage 10): every copy is whole
 * and belongs to the state asked for — its body names the key and the revision it was put for. */
struct hammer { struct list_cache *c; int id; long bad; };

static void *hammer_main(void *arg)
{
    struct hammer *h = arg;
    char key[16], body[600];
    for (int i = 0; i < 20000; i++) {
        int k = i % 7, rev = (i / 7) % 5 + h->id % 2;
        snprintf(key, sizeof key, "k%d", k);
        struct list_cache_state st = {k + 1, rev, 0};
        int n = snprintf(body, sizeof body, "%s@%d:", key, rev);
        memset(body + n, 'a' + k, sizeof body - (size_t)n - 1);
        body[sizeof body - 1] = '\0';
        if (i % 3 == 0) list_cache_put(h->c, key, strlen(key), &st, body, strlen(body));
        size_t len = 0;
        char *got = list_cache_copy(h->c, key, strlen(key), &st, &len);
        if (got && (len != strlen(body) || strcmp(got, body))) h->bad++;
        free(got);
        if (h->id == 0 && i % 5000 == 4999) list_cache_clear(h->c);
    }
    return NULL;
}

static void test_module_concurrent_use(void **state)
{
    (void)state;
    struct list_cache *c = list_cache_new(8 * 1024, 2);   /* small: evictions happen all the time */
    struct hammer h[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        h[i] = (struct hammer){c, i, 0};
        assert_int_equal(pthread_create(&t[i], NULL, hammer_main, &h[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(h[i].bad, 0);
    }
    size_t bytes = 0;
    list_cache_stats(c, NULL, &bytes, NULL, NULL, NULL);
    assert_true(bytes <= 8 * 1024);
    list_cache_free(c);
}

/* ------------------------------------------------------------------ over HTTP */

#define LIST "/nacos/v1/ns/instance/list?serviceName=lc"

static void ok(struct nm_server *s, const char *method, const char *path)
{
    struct nm_resp r;
    long st = nm_http(s, method, path, NULL, NULL, NULL, &r);
    if (st != 200) fail_msg("%s %s -> %ld %s", method, path, st, r.body);
    nm_resp_free(&r);
}

/* The list answer's hosts as "ip:port:healthy" joined by spaces, plus reachProtectionThreshold. */
static const char *hosts(struct nm_server *s, const char *query)
{
    static char out[2048];
    cJSON *j = nm_get_json(s, nm_fmt(LIST "%s", query));
    assert_non_null(j);
    size_t n = 0;
    out[0] = '\0';
    const cJSON *h;
    cJSON_ArrayForEach(h, cJSON_GetObjectItem(j, "hosts")) {
        n += (size_t)snprintf(out + n, sizeof out - n, "%s%s:%d:%d", n ? " " : "",
                              cJSON_GetObjectItem(h, "ip")->valuestring,
                              (int)cJSON_GetNumberValue(cJSON_GetObjectItem(h, "port")),
                              cJSON_IsTrue(cJSON_GetObjectItem(h, "healthy")));
    }
    if (cJSON_IsTrue(cJSON_GetObjectItem(j, "reachProtectionThreshold")))
        snprintf(out + n, sizeof out - n, " protect");
    cJSON_Delete(j);
    return out;
}

#define HITS "nacos_mock_list_cache_lookups_total{result=\"hit\"} "
#define MISSES "nacos_mock_list_cache_lookups_total{result=\"miss\"} "

static void test_unchanged_lists_are_answered_from_the_cache(void **state)
{
    (void)state;
    struct nm_server *s = nm_test_start(NULL);
    ok(s, "POST", "/nacos/v1/ns/instance?serviceName=lc&ip=10.0.0.1&port=1");
    struct nm_resp a, b;
    assert_int_equal(nm_get(s, LIST, &a), 200);
    double hits0 = nm_metric(s, HITS);
    assert_int_equal(nm_get(s, LIST, &b), 200);
    assert_int_equal(nm_metric(s, HITS), hits0 + 1);
    assert_string_equal(a.body, b.body);           /* byte for byte, lastRefTime included */
    assert_string_equal(a.content_type, b.content_type);
    nm_resp_free(&a);
    nm_resp_free(&b);
    /* another shape of the same service is another entry */
    double misses0 = nm_metric(s, MISSES);
    assert_int_equal(nm_get(s, LIST "&healthyOnly=true", &a), 200);
    assert_int_equal(nm_metric(s, MISSES), misses0 + 1);
    nm_resp_free(&a);
    /* a service that never changed answers lastRefTime = now: never cached */
    ok(s, "POST", "/nacos/v1/ns/service?serviceName=empty");
    double hits1 = nm_metric(s, HITS);
    assert_int_equal(nm_get(s, "/nacos/v1/ns/instance/list?serviceName=empty", &a), 200);
    assert_int_equal(nm_get(s, "/nacos/v1/ns/instance/list?serviceName=empty", &b), 200);
    assert_int_equal(nm_metric(s, HITS), hits1);
    nm_resp_free(&a);
    nm_resp_free(&b);
    /* reset empties it and zeroes the counters */
    ok(s, "POST", "/__mock/reset");
    assert_int_equal(nm_metric(s, HITS), 0);
    nm_test_stop(s);
}

static void test_every_change_is_seen_by_the_next_list(void **state)
{
    (void)state;
    struct nm_server *s = nm_test_start(NULL);
    ok(s, "POST", "/nacos/v1/ns/instance?serviceName=lc&ip=10.0.0.1&port=1");
    assert_string_equal(hosts(s, ""), "10.0.0.1:1:1");
    /* register, update, deregister */
    ok(s, "POST", "/nacos/v1/ns/instance?serviceName=lc&ip=10.0.0.2&port=2");
    assert_string_equal(hosts(s, ""), "10.0.0.1:1:1 10.0.0.2:2:1");
    ok(s, "PUT", "/nacos/v1/ns/instance?serviceName=lc&ip=10.0.0.2&port=2&enabled=false");
    assert_string_equal(hosts(s, ""), "10.0.0.1:1:1");
    ok(s, "PUT", "/nacos/v1/ns/instance?serviceName=lc&ip=10.0.0.2&port=2&enabled=true");
    assert_string_equal(hosts(s, ""), "10.0.0.1:1:1 10.0.0.2:2:1");
    ok(s, "DELETE", "/nacos/v1/ns/instance?serviceName=lc&ip=10.0.0.2&port=2");
    assert_string_equal(hosts(s, ""), "10.0.0.1:1:1");
    /* health: a persistent instance through the health API; the threshold through service update */
    ok(s, "POST", "/nacos/v1/ns/instance?serviceName=lc&ip=10.0.0.3&port=3&ephemeral=false");
    assert_string_equal(hosts(s, "&healthyOnly=true"), "10.0.0.1:1:1 10.0.0.3:3:1");
    ok(s, "PUT", "/nacos/v1/ns/health/instance?serviceName=lc&ip=10.0.0.3&port=3&healthy=false");
    assert_string_equal(hosts(s, "&healthyOnly=true"), "10.0.0.1:1:1");
    assert_string_equal(hosts(s, ""), "10.0.0.1:1:1 10.0.0.3:3:0");
    ok(s, "PUT", "/nacos/v1/ns/service?serviceName=lc&protectThreshold=0.9");
    assert_string_equal(hosts(s, ""), "10.0.0.1:1:1 10.0.0.3:3:1 protect");
    ok(s, "PUT", "/nacos/v1/ns/service?serviceName=lc&protectThreshold=0");
    assert_string_equal(hosts(s, ""), "10.0.0.1:1:1 10.0.0.3:3:0");
    /* the sweeper: the ephemeral instance misses its beats */
    struct nm_resp r;
    nm_http(s, "POST", "/__mock/clock/advance", "{\"ms\":16000}", "application/json", NULL, &r);
    assert_int_equal(r.status, 200);
    nm_resp_free(&r);
    /* both unhealthy: 0 / 2 <= threshold 0, so the protect threshold answers all as healthy */
    assert_string_equal(hosts(s, ""), "10.0.0.1:1:1 10.0.0.3:3:1 protect");
    /* a beat restores it */
    ok(s, "PUT", "/nacos/v1/ns/instance/beat?serviceName=lc&ip=10.0.0.1&port=1");
    assert_string_equal(hosts(s, ""), "10.0.0.1:1:1 10.0.0.3:3:0");
    /* forget drops the ephemeral one */
    ok(s, "POST", "/__mock/forget");
    assert_string_equal(hosts(s, ""), "10.0.0.3:3:1 protect");
    /* the service deleted and created again under the same name (its row id may be reused) */
    ok(s, "DELETE", "/nacos/v1/ns/instance?serviceName=lc&ip=10.0.0.3&port=3&ephemeral=false");
    assert_string_equal(hosts(s, ""), "");
    ok(s, "DELETE", "/nacos/v1/ns/service?serviceName=lc");
    ok(s, "POST", "/nacos/v1/ns/instance?serviceName=lc&ip=10.0.0.4&port=4");
    assert_string_equal(hosts(s, ""), "10.0.0.4:4:1");
    /* reset, then the same name again at once */
    for (int i = 0; i < 20; i++) {
        ok(s, "POST", "/__mock/reset");
        ok(s, "POST", nm_fmt("/nacos/v1/ns/instance?serviceName=lc&ip=10.0.1.%d&port=5", i));
        assert_string_equal(hosts(s, ""), nm_fmt("10.0.1.%d:5:1", i));
    }
    /* a registry snapshot loaded over the top */
    nm_http(s, "POST", "/__mock/registry",
            "{\"namespaces\":[{\"namespaceId\":\"public\",\"services\":[{\"name\":\"lc\",\"groupName\":\"DEFAULT_GROUP\","
            "\"instances\":[{\"ip\":\"10.0.2.1\",\"port\":6}]}]}]}",
            "application/json", NULL, &r);
    if (r.status != 200) fail_msg("registry load -> %ld %s", r.status, r.body);
    nm_resp_free(&r);
    assert_string_equal(hosts(s, ""), "10.0.1.19:5:1 10.0.2.1:6:1");
    nm_test_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_module_state_must_match),
        cmocka_unit_test(test_module_evicts_least_recently_used_within_bound),
        cmocka_unit_test(test_module_concurrent_use),
        cmocka_unit_test_teardown(test_unchanged_lists_are_answered_from_the_cache, nm_test_teardown),
        cmocka_unit_test_teardown(test_every_change_is_seen_by_the_next_list, nm_test_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
