/*
 * test_events.c — the events module (control-api.md "Events stream").
 *
 * Unit tests of the events module in process (events.h): nothing recorded before the first
 * subscription, order and ids, kind and service filters, parking and waking, replays from `since`
 * (and what counts as a gap), a reader more than the ring behind, batches published only when told,
 * the JSON of each emitter. Integration tests against the real server over HTTP: the wire format and
 * every kind from where it happens (HTTP, the sweeper, gRPC connections, the control plane),
 * Last-Event-ID and ?since= replays, ?kind= and ?serviceName=, bad parameters, --admin-token,
 * keep-alive comments, a slow reader cut off with a final `overflow` event while the server keeps
 * answering, many open streams that hold no worker, a clean stop with streams open, an instance
 * that stops beating seen turning UNHEALTHY on the stream (no polling), and the console's assets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "harness.h"
#include "nacos_mock/events.h"

#define JSON_CT "application/json"
#define SVC "DEFAULT_GROUP@@demo"
#define WAIT_MS 5000

/* ------------------------------------------------------------------ unit: the module */

struct got {
    uint64_t ids[64];
    enum event_kind kinds[64];
    char data[64][1024];
    int n, refuse_after;   /* refuse_after < 0: never */
    int parks, wakes;
    bool may_park;
};

static int take_cb(void *ctx, uint64_t id, enum event_kind kind, const char *data, size_t len)
{
    struct got *g = ctx;
    if ((g->refuse_after >= 0 && g->n >= g->refuse_after) || g->n >= 64) return 1;
    g->ids[g->n] = id;
    g->kinds[g->n] = kind;
    snprintf(g->data[g->n], sizeof g->data[0], "%.*s", (int)len, data);
    g->n++;
    return 0;
}

static bool park_cb(void *ctx)
{
    struct got *g = ctx;
    g->parks++;
    return g->may_park;
}

static void wake_cb(void *ctx) { ((struct got *)ctx)->wakes++; }

static void got_init(struct got *g)
{
    memset(g, 0, sizeof *g);
    g->refuse_after = -1;
    g->may_park = true;
}

static void status_event(struct events *ev, int i) { events_status(ev, 1000 + i, "UP", i % 2 ? "DOWN" : "UP"); }

static void test_off_until_subscribed(void **state)
{
    struct events *ev = events_create();
    assert_non_null(ev);
    assert_false(events_on(ev));
    assert_false(events_on(NULL));
    assert_int_equal(events_emit(ev, EV_STATUS, 1, NULL, NULL, "", 0), 0);
    events_health(ev, 1, "public", SVC, "id", "DEFAULT", "10.0.0.1", 1, "HEALTHY", "UNHEALTHY", 16000);
    assert_int_equal(events_last_id(ev), 0);
    struct got g;
    got_init(&g);
    struct events_sub *s = events_subscribe(ev, &(struct events_filter){0}, 0, wake_cb, &g, NULL);
    assert_non_null(s);
    assert_true(events_on(ev));
    assert_int_equal(events_take(s, take_cb, &g, NULL), 0);   /* nothing from before */
    assert_int_equal(events_emit(ev, EV_STATUS, 2, NULL, NULL, ",\"status\":\"DOWN\"", 16), 1);
    assert_int_equal(events_take(s, take_cb, &g, NULL), 1);
    assert_string_equal(g.data[0], "{\"timeMs\":2,\"status\":\"DOWN\"}");
    events_unsubscribe(s);
    assert_true(events_on(ev));   /* stays on */
    events_free(ev);
}

static void test_order_and_filters(void **state)
{
    struct events *ev = events_create();
    struct got all, health_demo, grouped;
    got_init(&all);
    got_init(&health_demo);
    got_init(&grouped);
    struct events_sub *a = events_subscribe(ev, &(struct events_filter){0}, EVENTS_SINCE_NOW, wake_cb, &all, NULL);
    struct events_sub *h = events_subscribe(
        ev, &(struct events_filter){.kinds = 1u << EV_HEALTH | 1u << EV_STATUS, .service = "demo"}, EVENTS_SINCE_NOW,
        wake_cb, &health_demo, NULL);
    struct events_sub *g = events_subscribe(ev, &(struct events_filter){.service = "G@@demo"}, EVENTS_SINCE_NOW,
                                            wake_cb, &grouped, NULL);
    events_registry(ev, EV_REGISTERED, 1, "public", SVC, "service created", 0);
    events_health(ev, 2, "public", SVC, "i1", "DEFAULT", "10.0.0.1", 1, "HEALTHY", "UNHEALTHY", 15001);
    events_health(ev, 3, "public", "G@@demo", "i2", "DEFAULT", "10.0.0.2", 1, "HEALTHY", "UNHEALTHY", 15002);
    events_health(ev, 4, "public", "DEFAULT_GROUP@@other", "i3", "DEFAULT", "10.0.0.3", 1, "HEALTHY", "UNHEALTHY", 1);
    status_event(ev, 1);   /* about no service: not for a service filter */
    assert_int_equal(events_take(a, take_cb, &all, NULL), 5);
    for (int i = 0; i < 5; i++) assert_int_equal(all.ids[i], i + 1);
    assert_int_equal(all.kinds[0], EV_REGISTERED);
    assert_int_equal(all.kinds[4], EV_STATUS);
    assert_int_equal(events_take(h, take_cb, &health_demo, NULL), 2);
    assert_int_equal(health_demo.ids[0], 2);
    assert_int_equal(health_demo.ids[1], 3);   /* bare "demo" matches any group */
    assert_int_equal(events_take(g, take_cb, &grouped, NULL), 1);
    assert_int_equal(grouped.ids[0], 3);
    assert_int_equal(events_sub_cursor(g), 5);   /* skipped ones are read too */
    events_unsubscribe(a);
    events_unsubscribe(h);
    events_unsubscribe(g);
    events_free(ev);
}

static void test_park_and_wake(void **state)
{
    struct events *ev = events_create();
    struct got g;
    got_init(&g);
    struct events_sub *s = events_subscribe(ev, &(struct events_filter){.kinds = 1u << EV_HEALTH}, EVENTS_SINCE_NOW,
                                            wake_cb, &g, NULL);
    assert_int_equal(events_take(s, take_cb, &g, park_cb), 0);
    assert_int_equal(g.parks, 1);
    status_event(ev, 0);                       /* not for it: no wake, but read */
    assert_int_equal(g.wakes, 0);
    assert_int_equal(events_sub_cursor(s), 1);
    events_health(ev, 5, "public", SVC, "i", "DEFAULT", "10.0.0.1", 1, "UNHEALTHY", "HEALTHY", 1);
    assert_int_equal(g.wakes, 1);
    events_health(ev, 6, "public", SVC, "i", "DEFAULT", "10.0.0.1", 1, "HEALTHY", "UNHEALTHY", 1);
    assert_int_equal(g.wakes, 1);              /* once per park */
    assert_false(events_poke(s));              /* not parked */
    assert_int_equal(events_take(s, take_cb, &g, park_cb), 2);
    assert_int_equal(g.parks, 1);              /* it took something: no park */
    g.may_park = false;                        /* a reader that must not park (closing, keep-alive due) */
    assert_int_equal(events_take(s, take_cb, &g, park_cb), 0);
    assert_false(events_poke(s));
    g.may_park = true;
    assert_int_equal(events_take(s, take_cb, &g, park_cb), 0);
    assert_true(events_poke(s));               /* keep-alive or shutdown: woken at once */
    assert_int_equal(g.wakes, 2);
    events_unsubscribe(s);
    events_free(ev);
}

static void test_lost_when_more_than_the_ring_behind(void **state)
{
    struct events *ev = events_create();
    struct got busy, filtered;
    got_init(&busy);
    got_init(&filtered);
    struct events_sub *b = events_subscribe(ev, &(struct events_filter){0}, EVENTS_SINCE_NOW, wake_cb, &busy, NULL);
    struct events_sub *f = events_subscribe(ev, &(struct events_filter){.kinds = 1u << EV_CONFIG}, EVENTS_SINCE_NOW,
                                            wake_cb, &filtered, NULL);
    assert_int_equal(events_take(f, take_cb, &filtered, park_cb), 0);   /* parked, waiting for config */
    for (int i = 0; i < EVENTS_RING; i++) status_event(ev, i);
    busy.refuse_after = 0;
    assert_int_equal(events_take(b, take_cb, &busy, NULL), 0);   /* exactly the ring behind: nothing lost yet */
    status_event(ev, EVENTS_RING);
    assert_int_equal(events_take(b, take_cb, &busy, NULL), EVENTS_LOST);
    assert_int_equal(events_take(f, take_cb, &filtered, NULL), 0);   /* skipped everything while parked: fine */
    assert_int_equal(filtered.wakes, 0);
    events_unsubscribe(b);
    events_unsubscribe(f);
    events_free(ev);
}

static void test_replay_since(void **state)
{
    struct events *ev = events_create();
    struct got g;
    got_init(&g);
    struct events_sub *on = events_subscribe(ev, &(struct events_filter){0}, EVENTS_SINCE_NOW, wake_cb, &g, NULL);
    for (int i = 0; i < 10; i++) status_event(ev, i);
    bool gap = true;
    struct events_sub *s = events_subscribe(ev, &(struct events_filter){0}, 7, wake_cb, &g, &gap);
    assert_false(gap);
    assert_int_equal(events_take(s, take_cb, &g, NULL), 3);
    assert_int_equal(g.ids[0], 8);
    events_unsubscribe(s);
    got_init(&g);
    s = events_subscribe(ev, &(struct events_filter){0}, 0, wake_cb, &g, &gap);
    assert_false(gap);
    assert_int_equal(events_take(s, take_cb, &g, NULL), 10);
    events_unsubscribe(s);
    got_init(&g);
    s = events_subscribe(ev, &(struct events_filter){0}, 100, wake_cb, &g, &gap);   /* never given here */
    assert_true(gap);
    assert_int_equal(events_take(s, take_cb, &g, NULL), 0);
    status_event(ev, 10);
    assert_int_equal(events_take(s, take_cb, &g, NULL), 1);
    assert_int_equal(g.ids[0], 11);
    events_unsubscribe(s);
    for (int i = 0; i < EVENTS_RING; i++) status_event(ev, i);   /* ids 12 .. RING + 11: 1 .. 11 overwritten */
    got_init(&g);
    g.refuse_after = 1;
    s = events_subscribe(ev, &(struct events_filter){0}, 1, wake_cb, &g, &gap);
    assert_true(gap);                                            /* 2 .. 11 are gone */
    assert_int_equal(events_take(s, take_cb, &g, NULL), 1);
    assert_int_equal(g.ids[0], 12);                              /* the oldest kept */
    events_unsubscribe(s);
    events_unsubscribe(on);
    events_free(ev);
}

static void test_take_refused_stays_unread(void **state)
{
    struct events *ev = events_create();
    struct got g;
    got_init(&g);
    struct events_sub *s = events_subscribe(ev, &(struct events_filter){0}, EVENTS_SINCE_NOW, wake_cb, &g, NULL);
    for (int i = 0; i < 3; i++) status_event(ev, i);
    g.refuse_after = 1;
    assert_int_equal(events_take(s, take_cb, &g, park_cb), 1);
    assert_int_equal(g.parks, 0);   /* more is waiting: never parks */
    g.refuse_after = -1;
    assert_int_equal(events_take(s, take_cb, &g, NULL), 2);
    assert_int_equal(g.ids[1], 2);
    assert_int_equal(g.ids[2], 3);
    events_unsubscribe(s);
    events_free(ev);
}

static cJSON *data_json(const struct got *g, int i)
{
    cJSON *j = cJSON_Parse(g->data[i]);
    if (!j) fail_msg("not JSON: %s", g->data[i]);
    return j;
}

static void test_batch_publishes_only_when_told(void **state)
{
    struct events *ev = events_create();
    struct got g;
    got_init(&g);
    struct events_sub *s = events_subscribe(ev, &(struct events_filter){0}, EVENTS_SINCE_NOW, wake_cb, &g, NULL);
    struct instance_rec r = {.ns = "public", .service = SVC, .cluster = "DEFAULT", .ip = "10.0.0.1", .port = 8080,
                             .instance_id = "10.0.0.1#8080#DEFAULT#" SVC, .ephemeral = true};
    struct events_batch b = {0};
    events_batch_transition(&b, ev, 50, &r, "HEALTHY", "UNHEALTHY", 15001);
    events_batch_transition(&b, ev, 50, &r, "UNHEALTHY", "REMOVED", 30001);
    assert_int_equal(events_take(s, take_cb, &g, NULL), 0);
    events_batch_discard(&b);   /* a rolled-back sweep: nothing */
    events_batch_transition(&b, ev, 60, &r, "HEALTHY", "UNHEALTHY", 15002);
    events_batch_transition(&b, ev, 60, &r, "UNHEALTHY", "REMOVED", 30002);
    events_batch_publish(ev, &b);
    events_batch_free(&b);
    assert_int_equal(events_take(s, take_cb, &g, NULL), 2);
    assert_int_equal(g.kinds[0], EV_HEALTH);
    assert_int_equal(g.kinds[1], EV_REMOVED);
    cJSON *h = data_json(&g, 0), *rm = data_json(&g, 1);
    assert_string_equal(cJSON_GetObjectItem(h, "to")->valuestring, "UNHEALTHY");
    assert_int_equal(cJSON_GetObjectItem(h, "sinceLastBeatMs")->valuedouble, 15002);
    assert_string_equal(cJSON_GetObjectItem(h, "instanceId")->valuestring, r.instance_id);
    assert_string_equal(cJSON_GetObjectItem(rm, "reason")->valuestring, "expired");
    assert_string_equal(cJSON_GetObjectItem(rm, "from")->valuestring, "UNHEALTHY");
    cJSON_Delete(h);
    cJSON_Delete(rm);
    events_unsubscribe(s);
    events_free(ev);
}

static void test_emitter_fields(void **state)
{
    struct events *ev = events_create();
    struct got g;
    got_init(&g);
    struct events_sub *s = events_subscribe(ev, &(struct events_filter){0}, EVENTS_SINCE_NOW, wake_cb, &g, NULL);
    struct instance_rec r = {.ns = "public", .service = SVC, .cluster = "DEFAULT", .ip = "10.0.0.1", .port = 8080,
                             .instance_id = "x\"y", .weight = 2, .healthy = true, .enabled = true, .ephemeral = false,
                             .metadata = "{\"k\":\"v\"}", .last_beat_ms = 7, .registered_ms = 6, .hb_interval_ms = 5000,
                             .hb_timeout_ms = 15000, .delete_timeout_ms = 30000};
    events_instance(ev, EV_REGISTERED, 10, &r, "conn-1", NULL);
    struct fault_request fr = {.api = "register", .method = "POST", .path = "/nacos/v1/ns/instance", .ns = "public",
                               .service = "demo", .ip = "10.0.0.1", .port = 8080};
    struct fault_hit hit = {.id = "r500", .status = 500, .delay_ms = 20, .drop = DROP_RESET};
    events_fault(ev, 11, "http", &fr, &hit);
    struct fault_hit bare = {.id = "nothing"};
    events_fault(ev, 12, "grpc", &(struct fault_request){.api = "setup"}, &bare);
    events_instance_key(ev, EV_DEREGISTERED, 13, "public", SVC, "DEFAULT", "10.0.0.1", 8080, true, NULL);
    events_registry(ev, EV_REMOVED, 14, NULL, NULL, "reset", -1);
    events_connection(ev, 15, "opened", "1700000000000_127.0.0.1_5000", 0, "127.0.0.1:5000", -1);
    events_config(ev, 16, "", "DEFAULT_GROUP", "app.yaml", "abc", "published");
    events_clock(ev, 17, 16000, 16000);
    assert_int_equal(events_take(s, take_cb, &g, NULL), 8);
    for (int i = 0; i < 8; i++) {
        cJSON *j = data_json(&g, i);
        assert_int_equal(cJSON_GetObjectItem(j, "timeMs")->valuedouble, 10 + i);
        cJSON_Delete(j);
    }
    assert_non_null(strstr(g.data[0], "\"weight\":2.0"));   /* Java's rendering, as the registry dump */
    cJSON *j = data_json(&g, 0);
    assert_string_equal(cJSON_GetObjectItem(j, "instanceId")->valuestring, "x\"y");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "metadata"), "k")->valuestring, "v");
    assert_false(cJSON_IsTrue(cJSON_GetObjectItem(j, "ephemeral")));
    assert_string_equal(cJSON_GetObjectItem(j, "connectionId")->valuestring, "conn-1");
    assert_int_equal(cJSON_GetObjectItem(j, "ipDeleteTimeoutMs")->valuedouble, 30000);
    cJSON_Delete(j);
    j = data_json(&g, 1);
    assert_string_equal(cJSON_GetObjectItem(j, "serviceName")->valuestring, SVC);   /* grouped */
    const cJSON *act = cJSON_GetObjectItem(j, "action");
    assert_int_equal(cJSON_GetObjectItem(act, "status")->valuedouble, 500);
    assert_int_equal(cJSON_GetObjectItem(act, "delayMs")->valuedouble, 20);
    assert_string_equal(cJSON_GetObjectItem(act, "drop")->valuestring, "reset");
    assert_string_equal(cJSON_GetObjectItem(j, "transport")->valuestring, "http");
    cJSON_Delete(j);
    assert_non_null(strstr(g.data[2], "\"action\":{}"));
    assert_non_null(strstr(g.data[2], "\"transport\":\"grpc\""));
    assert_null(strstr(g.data[3], "instanceId"));
    assert_null(strstr(g.data[4], "count"));
    assert_non_null(strstr(g.data[5], "\"state\":\"opened\""));
    assert_non_null(strstr(g.data[6], "\"namespaceId\":\"public\""));
    assert_non_null(strstr(g.data[7], "\"advancedMs\":16000"));
    events_unsubscribe(s);
    events_free(ev);
}

static void test_kind_names(void **state)
{
    for (int k = 0; k < EV_KINDS; k++) {
        const char *n = events_kind_name((enum event_kind)k);
        assert_non_null(n);
        assert_int_equal(events_kind_parse(n, strlen(n)), k);
    }
    assert_int_equal(events_kind_parse("healthy", 7), -1);
    assert_int_equal(events_kind_parse("health", 5), -1);
    assert_null(events_kind_name(EV_KINDS));
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    const char *only = getenv("NM_TEST_FILTER");
    if (only && *only) cmocka_set_test_filter(only);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_off_until_subscribed),
        cmocka_unit_test(test_order_and_filters),
        cmocka_unit_test(test_park_and_wake),
        cmocka_unit_test(test_lost_when_more_than_the_ring_behind),
        cmocka_unit_test(test_replay_since),
        cmocka_unit_test(test_take_refused_stays_unread),
        cmocka_unit_test(test_batch_publishes_only_when_told),
        cmocka_unit_test(test_emitter_fields),
        cmocka_unit_test(test_kind_names),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
