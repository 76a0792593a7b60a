/*
 * test_events.c — the events stream (control-api.md "Events stream").
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
    events_config(ev, 16, "", "DEFAULT_GROUP", "app.yaml", "abc", "published", "grpc");
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
    assert_non_null(strstr(g.data[6], "\"transport\":\"grpc\""));   /* who changed the config */
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

/* ------------------------------------------------------------------ integration helpers */

static void reg(const struct nm_server *s, const char *form)
{
    struct nm_resp r;
    if (nm_post_form(s, "/nacos/v1/ns/instance", form, &r) != 200)
        fail_msg("register %s -> %ld %s", form, r.status, r.body);
    nm_resp_free(&r);
}

static long jreq(const struct nm_server *s, const char *method, const char *path, const char *json)
{
    struct nm_resp r;
    long st = nm_http(s, method, path, json, json ? JSON_CT : NULL, NULL, &r);
    nm_resp_free(&r);
    return st;
}

static struct nm_sse *open_stream(const struct nm_server *s, const char *path, const char *const *headers)
{
    long st = 0;
    struct nm_sse *c = nm_sse_open(s, path, headers, &st);
    if (!c) fail_msg("GET %s: no stream (status %ld)", path, st);
    return c;
}

/* The next event must be of `kind`; returns it (free with nm_sse_event_free). */
static struct nm_sse_event expect_event(struct nm_sse *c, const char *kind)
{
    struct nm_sse_event ev;
    int rc = nm_sse_next(c, WAIT_MS, &ev);
    if (rc != 1) fail_msg("no '%s' event (%s)", kind, rc ? "timed out" : "the stream ended");
    if (strcmp(ev.event, kind)) fail_msg("event '%s' (%s), expected '%s'", ev.event, ev.data, kind);
    if (!ev.json || !cJSON_IsNumber(cJSON_GetObjectItem(ev.json, "timeMs"))) fail_msg("bad data: %s", ev.data);
    return ev;
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsString(v)) fail_msg("no string '%s'", k);
    return v->valuestring;
}

static double jnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v)) fail_msg("no number '%s'", k);
    return v->valuedouble;
}

/* ------------------------------------------------------------------ integration */

static void test_every_kind_on_the_wire(void **state)
{
    struct nm_server *s = nm_test_start(NULL);
    struct nm_sse *c = open_stream(s, "/__mock/events", NULL);
    assert_non_null(strstr(nm_sse_content_type(c), "text/event-stream"));
    assert_true(nm_sse_saw(c, "retry: 1000\n", WAIT_MS));

    reg(s, "serviceName=demo&ip=10.0.0.1&port=1&metadata=%7B%22v%22%3A%221%22%7D");
    struct nm_sse_event ev = expect_event(c, "registered");
    uint64_t first = strtoull(ev.id, NULL, 10);
    assert_true(first > 0);
    assert_string_equal(jstr(ev.json, "serviceName"), SVC);
    assert_string_equal(jstr(ev.json, "instanceId"), "10.0.0.1#1#DEFAULT#" SVC);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(ev.json, "healthy")));
    assert_string_equal(jstr(cJSON_GetObjectItem(ev.json, "metadata"), "v"), "1");
    assert_int_equal(jnum(ev.json, "heartBeatTimeoutMs"), 15000);
    nm_sse_event_free(&ev);

    struct nm_resp r;
    nm_http(s, "PUT", "/nacos/v1/ns/instance?serviceName=demo&ip=10.0.0.1&port=1&weight=3", NULL, NULL, NULL, &r);
    nm_resp_free(&r);
    ev = expect_event(c, "updated");
    assert_int_equal(jnum(ev.json, "weight"), 3);
    assert_int_equal(strtoull(ev.id, NULL, 10), first + 1);   /* ids count up one by one */
    nm_sse_event_free(&ev);

    nm_http(s, "DELETE", "/nacos/v1/ns/instance?serviceName=demo&ip=10.0.0.1&port=1", NULL, NULL, NULL, &r);
    nm_resp_free(&r);
    ev = expect_event(c, "deregistered");
    assert_string_equal(jstr(ev.json, "ip"), "10.0.0.1");
    nm_sse_event_free(&ev);

    reg(s, "serviceName=demo&ip=10.0.0.2&port=1");
    ev = expect_event(c, "registered");
    nm_sse_event_free(&ev);
    assert_int_equal(jreq(s, "POST", "/__mock/clock/advance", "{\"ms\":16000}"), 200);
    ev = expect_event(c, "clock");
    assert_int_equal(jnum(ev.json, "advancedMs"), 16000);
    nm_sse_event_free(&ev);
    ev = expect_event(c, "health");
    assert_string_equal(jstr(ev.json, "from"), "HEALTHY");
    assert_string_equal(jstr(ev.json, "to"), "UNHEALTHY");
    assert_true(jnum(ev.json, "sinceLastBeatMs") >= 16000);
    nm_sse_event_free(&ev);
    /* a beat brings it back */
    nm_http(s, "PUT", "/nacos/v1/ns/instance/beat?serviceName=demo&ip=10.0.0.2&port=1", NULL, NULL, NULL, &r);
    nm_resp_free(&r);
    ev = expect_event(c, "health");
    assert_string_equal(jstr(ev.json, "to"), "HEALTHY");
    nm_sse_event_free(&ev);
    assert_int_equal(jreq(s, "POST", "/__mock/clock/advance", "{\"ms\":31000}"), 200);
    ev = expect_event(c, "clock");
    nm_sse_event_free(&ev);
    ev = expect_event(c, "health");
    nm_sse_event_free(&ev);
    ev = expect_event(c, "removed");
    assert_string_equal(jstr(ev.json, "reason"), "expired");
    nm_sse_event_free(&ev);

    assert_int_equal(jreq(s, "PUT", "/__mock/status", "{\"status\":\"DOWN\"}"), 200);
    ev = expect_event(c, "status");
    assert_string_equal(jstr(ev.json, "status"), "DOWN");
    assert_string_equal(jstr(ev.json, "from"), "UP");
    nm_sse_event_free(&ev);
    assert_int_equal(jreq(s, "PUT", "/__mock/status", "{\"status\":\"DOWN\"}"), 200);   /* no change, no event */
    assert_int_equal(jreq(s, "PUT", "/__mock/status", "{\"status\":\"UP\"}"), 200);
    ev = expect_event(c, "status");
    assert_string_equal(jstr(ev.json, "from"), "DOWN");
    nm_sse_event_free(&ev);

    assert_int_equal(jreq(s, "POST", "/__mock/faults",
                          "{\"id\":\"reg500\",\"match\":{\"api\":\"register\"},"
                          "\"action\":{\"status\":500},\"times\":1}"),
                     201);
    nm_post_form(s, "/nacos/v1/ns/instance", "serviceName=demo&ip=10.0.0.3&port=1", &r);
    assert_int_equal(r.status, 500);
    nm_resp_free(&r);
    ev = expect_event(c, "fault");
    assert_string_equal(jstr(ev.json, "ruleId"), "reg500");
    assert_string_equal(jstr(ev.json, "api"), "register");
    assert_int_equal(jnum(cJSON_GetObjectItem(ev.json, "action"), "status"), 500);
    nm_sse_event_free(&ev);

    nm_post_form(s, "/nacos/v1/ns/service", "serviceName=empty", &r);
    nm_resp_free(&r);
    ev = expect_event(c, "registered");
    assert_string_equal(jstr(ev.json, "reason"), "service created");
    assert_null(cJSON_GetObjectItem(ev.json, "instanceId"));
    nm_sse_event_free(&ev);

    /* a gRPC connection (HTTP port + 1000) */
    int gfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)(s->port + 1000))};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(gfd, (struct sockaddr *)&a, sizeof a), 0);
    ev = expect_event(c, "connection");
    assert_string_equal(jstr(ev.json, "state"), "opened");
    char id[128];
    snprintf(id, sizeof id, "%s", jstr(ev.json, "id"));
    nm_sse_event_free(&ev);
    close(gfd);
    ev = expect_event(c, "connection");
    assert_string_equal(jstr(ev.json, "state"), "closed");
    assert_string_equal(jstr(ev.json, "id"), id);
    nm_sse_event_free(&ev);

    assert_int_equal(jreq(s, "POST", "/__mock/reset", NULL), 200);
    ev = expect_event(c, "removed");
    assert_string_equal(jstr(ev.json, "reason"), "reset");
    nm_sse_event_free(&ev);
    nm_sse_close(c);
    nm_test_stop(s);
}

/* Registers n instances of `service`, each making one event; returns the id of the last. */
static uint64_t make_events(const struct nm_server *s, struct nm_sse *watch, const char *service, int n)
{
    uint64_t last = 0;
    for (int i = 0; i < n; i++) {
        reg(s, nm_fmt("serviceName=%s&ip=10.9.0.%d&port=1", service, i + 1));
        struct nm_sse_event ev = expect_event(watch, "registered");
        last = strtoull(ev.id, NULL, 10);
        nm_sse_event_free(&ev);
    }
    return last;
}

static void test_replay_last_event_id_and_since(void **state)
{
    struct nm_server *s = nm_test_start(NULL);
    struct nm_sse *watch = open_stream(s, "/__mock/events", NULL);   /* recording is on from here */
    uint64_t last = make_events(s, watch, "replay", 5), first = last - 4;

    const char *h[] = {nm_fmt("Last-Event-ID: %llu", (unsigned long long)(first + 1)), NULL};
    struct nm_sse *b = open_stream(s, "/__mock/events?since=0", h);   /* the header wins over since */
    for (uint64_t want = first + 2; want <= last; want++) {
        struct nm_sse_event ev = expect_event(b, "registered");
        assert_int_equal(strtoull(ev.id, NULL, 10), want);
        nm_sse_event_free(&ev);
    }
    nm_sse_close(b);

    struct nm_sse *c = open_stream(s, nm_fmt("/__mock/events?since=%llu", (unsigned long long)(last - 1)), NULL);
    struct nm_sse_event ev = expect_event(c, "registered");
    assert_int_equal(strtoull(ev.id, NULL, 10), last);
    assert_string_equal(jstr(ev.json, "ip"), "10.9.0.5");
    nm_sse_event_free(&ev);
    nm_sse_close(c);

    c = open_stream(s, "/__mock/events?since=0", NULL);   /* everything recorded */
    ev = expect_event(c, "registered");
    assert_int_equal(strtoull(ev.id, NULL, 10), first);
    nm_sse_event_free(&ev);
    nm_sse_close(c);

    /* an id from another process (a restart): a gap, then what comes */
    c = open_stream(s, "/__mock/events?since=999999", NULL);
    assert_int_equal(nm_sse_next(c, WAIT_MS, &ev), 1);
    assert_string_equal(ev.event, "gap");
    assert_string_equal(ev.id, "");
    assert_int_equal(jnum(ev.json, "since"), 999999);
    nm_sse_event_free(&ev);
    reg(s, "serviceName=replay&ip=10.9.1.1&port=1");
    ev = expect_event(c, "registered");
    assert_int_equal(strtoull(ev.id, NULL, 10), last + 1);
    nm_sse_event_free(&ev);
    nm_sse_close(c);

    /* a Last-Event-ID that is not a number is ignored: only new events */
    const char *bad[] = {"Last-Event-ID: abc", NULL};
    c = open_stream(s, "/__mock/events", bad);
    reg(s, "serviceName=replay&ip=10.9.1.2&port=1");
    ev = expect_event(c, "registered");
    assert_string_equal(jstr(ev.json, "ip"), "10.9.1.2");
    nm_sse_event_free(&ev);
    nm_sse_close(c);
    nm_sse_close(watch);
    nm_test_stop(s);
}

static void test_filters_and_bad_parameters(void **state)
{
    struct nm_server *s = nm_test_start(NULL);
    struct nm_sse *health = open_stream(s, "/__mock/events?kind=health", NULL);
    struct nm_sse *bare = open_stream(s, "/__mock/events?serviceName=demo&kind=registered,%20deregistered", NULL);
    struct nm_sse *grouped = open_stream(s, "/__mock/events?serviceName=G%40%40demo", NULL);
    reg(s, "serviceName=demo&ip=10.0.0.1&port=1");
    reg(s, "serviceName=G%40%40demo&ip=10.0.0.2&port=1");
    reg(s, "serviceName=other&ip=10.0.0.3&port=1");
    assert_int_equal(jreq(s, "PUT", "/__mock/status", "{\"status\":\"DOWN\"}"), 200);
    assert_int_equal(jreq(s, "PUT", "/__mock/status", "{\"status\":\"UP\"}"), 200);
    assert_int_equal(jreq(s, "POST", "/__mock/clock/advance", "{\"ms\":16000}"), 200);

    struct nm_sse_event ev = expect_event(bare, "registered");
    assert_string_equal(jstr(ev.json, "serviceName"), SVC);
    nm_sse_event_free(&ev);
    ev = expect_event(bare, "registered");
    assert_string_equal(jstr(ev.json, "serviceName"), "G@@demo");   /* a bare name matches any group */
    nm_sse_event_free(&ev);
    ev = expect_event(grouped, "registered");
    assert_string_equal(jstr(ev.json, "serviceName"), "G@@demo");
    nm_sse_event_free(&ev);
    for (int i = 0; i < 3; i++) {   /* the three instances turn UNHEALTHY; nothing else reaches this stream */
        ev = expect_event(health, "health");
        nm_sse_event_free(&ev);
    }
    ev = expect_event(grouped, "health");   /* everything about G@@demo, and only that */
    assert_string_equal(jstr(ev.json, "serviceName"), "G@@demo");
    nm_sse_event_free(&ev);
    assert_int_equal(nm_sse_next(bare, 300, &ev), -1);     /* its kinds only: no health */
    assert_int_equal(nm_sse_next(health, 300, &ev), -1);
    assert_int_equal(nm_sse_next(grouped, 300, &ev), -1);
    nm_sse_close(health);
    nm_sse_close(bare);
    nm_sse_close(grouped);

    const char *bad[][2] = {
        {"/__mock/events?kind=healthy", "kind"},
        {"/__mock/events?kind=health,nope", "nope"},
        {"/__mock/events?since=-1", "since"},
        {"/__mock/events?since=abc", "since"},
        {"/__mock/events?keepAliveMs=5", "keepAliveMs"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct nm_resp r;
        assert_int_equal(nm_get(s, bad[i][0], &r), 400);
        if (!strstr(r.body, bad[i][1])) fail_msg("%s: error '%s' does not name '%s'", bad[i][0], r.body, bad[i][1]);
        assert_non_null(strstr(r.content_type, "application/json"));
        nm_resp_free(&r);
    }
    struct nm_resp r;
    assert_int_equal(nm_http(s, "POST", "/__mock/events", NULL, NULL, NULL, &r), 405);
    nm_resp_free(&r);
    nm_test_stop(s);
}

static void test_admin_token(void **state)
{
    const char *args[] = {"--admin-token", "s3cret", NULL};
    struct nm_server *s = nm_test_start(args);
    long st = 0;
    assert_null(nm_sse_open(s, "/__mock/events", NULL, &st));
    assert_int_equal(st, 401);
    assert_null(nm_sse_open(s, "/__mock/events?token=s3cret&access_token=s3cret", NULL, &st));   /* never in the URL */
    assert_int_equal(st, 401);
    const char *wrong[] = {"Authorization: Bearer nope", NULL};
    assert_null(nm_sse_open(s, "/__mock/events", wrong, &st));
    assert_int_equal(st, 401);
    const char *right[] = {"Authorization: Bearer s3cret", NULL};
    struct nm_sse *c = open_stream(s, "/__mock/events", right);
    reg(s, "serviceName=demo&ip=10.0.0.1&port=1");
    struct nm_sse_event ev = expect_event(c, "registered");
    nm_sse_event_free(&ev);
    nm_sse_close(c);
    /* the console's page needs no token (it holds no data, and asks for the token itself) */
    struct nm_resp r;
    assert_int_equal(nm_get(s, "/__mock/ui/", &r), 200);
    nm_resp_free(&r);
    assert_int_equal(nm_get(s, "/__mock/registry", &r), 401);
    nm_resp_free(&r);
    nm_test_stop(s);
}

static void test_keepalive_comments(void **state)
{
    struct nm_server *s = nm_test_start(NULL);
    struct nm_sse *c = open_stream(s, "/__mock/events?keepAliveMs=200", NULL);
    int64_t t0 = nm_mono_ms();
    assert_true(nm_sse_saw(c, ": keep-alive\n\n", WAIT_MS));
    assert_true(nm_mono_ms() - t0 >= 150);
    reg(s, "serviceName=demo&ip=10.0.0.1&port=1");   /* still streaming after the comment */
    struct nm_sse_event ev;
    assert_int_equal(nm_sse_wait(c, "registered", "10.0.0.1", WAIT_MS, &ev), 1);
    nm_sse_event_free(&ev);
    nm_sse_close(c);
    nm_test_stop(s);
}

/* A snapshot of n instances of service `svc` (ips 10.A.B.C), for POST /__mock/registry. */
static char *snapshot(const char *svc, int n)
{
    size_t cap = 128 + (size_t)n * 40;
    char *b = malloc(cap);
    size_t o = (size_t)snprintf(b, cap, "{\"namespaces\":[{\"namespaceId\":\"public\",\"services\":[{\"name\":\"%s\","
                                        "\"instances\":[", svc);
    for (int i = 0; i < n; i++)
        o += (size_t)snprintf(b + o, cap - o, "%s{\"ip\":\"10.%d.%d.%d\",\"port\":1}", i ? "," : "", 100 + i / 65536,
                              (i / 256) % 256, i % 256);
    snprintf(b + o, cap - o, "]}]}]}");
    return b;
}

static void test_slow_reader_is_cut_off(void **state)
{
    struct nm_server *s = nm_test_start(NULL);
    /* a client that asks for the stream and then reads nothing (a tiny receive buffer) */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    const char *req = "GET /__mock/events HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    struct nm_sse *watch = open_stream(s, "/__mock/events?kind=status", NULL);   /* a reader that keeps up */
    /* the slow one is subscribed once its response has begun (sse.c subscribes before it queues the
     * response): wait for the status line without reading it (MSG_PEEK), so it stays unread */
    char head[16] = "";
    for (int64_t end = nm_mono_ms() + 10000; strncmp(head, "HTTP/1.1 200", 12);) {
        struct pollfd p = {fd, POLLIN, 0};
        if (nm_mono_ms() > end) fail_msg("the slow reader's stream was not answered in 10 s");
        if (poll(&p, 1, 100) != 1) continue;
        ssize_t n = recv(fd, head, sizeof head - 1, MSG_PEEK);
        if (n <= 0) fail_msg("the slow reader's connection closed before its stream began");
        head[n] = '\0';
        if (n >= 12 && strncmp(head, "HTTP/1.1 200", 12)) fail_msg("the slow reader was answered: %s", head);
    }

    /* 15,000 instances expire and are removed: 30,000 events, ~10 MB, past any socket buffer */
    char *snap = snapshot("flood", 15000);
    assert_int_equal(jreq(s, "POST", "/__mock/registry", snap), 200);
    free(snap);
    assert_int_equal(jreq(s, "POST", "/__mock/clock/advance", "{\"ms\":16000}"), 200);
    assert_int_equal(jreq(s, "POST", "/__mock/clock/advance", "{\"ms\":15000}"), 200);
    /* the server was never held up: the stream that keeps up still gets what it asked for at once */
    int64_t t0 = nm_mono_ms();
    assert_int_equal(jreq(s, "PUT", "/__mock/status", "{\"status\":\"DOWN\"}"), 200);
    struct nm_sse_event ev = expect_event(watch, "status");
    nm_sse_event_free(&ev);
    assert_true(nm_mono_ms() - t0 < 2000);
    nm_sse_close(watch);

    /* now read: what was buffered, then the final overflow event and the end of the stream */
    size_t cap = 16 << 20, len = 0;
    char *buf = malloc(cap);
    int64_t until = nm_mono_ms() + 20000;
    bool ended = false;
    while (!ended && nm_mono_ms() < until && len + 1 < cap) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 1000) <= 0) continue;
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n <= 0) break;
        len += (size_t)n;
        buf[len] = '\0';
        ended = len >= 7 && strstr(buf + (len > 64 ? len - 64 : 0), "\r\n0\r\n\r\n") != NULL;
    }
    close(fd);
    if (!ended) fail_msg("the slow reader's stream did not end (%zu bytes read)", len);
    char *ov = strstr(buf, "event: overflow\ndata: ");
    if (!ov) fail_msg("no overflow event in %zu bytes", len);
    assert_non_null(strstr(ov, "slow reader"));
    assert_null(strstr(ov + 10, "event: "));   /* the last event */
    assert_non_null(strstr(buf, "event: registered"));   /* it got what came before it fell behind */
    free(buf);
    nm_test_stop(s);
}

/* 50 open streams and two workers: the streams hold none (they are suspended), every request is
 * answered, and every stream sees every event. */
static void test_many_streams_hold_no_worker(void **state)
{
    const char *args[] = {"--threads", "2", NULL};
    struct nm_server *s = nm_test_start(args);
    enum { N = 50, REGS = 20 };
    struct nm_sse *c[N];
    for (int i = 0; i < N; i++) c[i] = open_stream(s, "/__mock/events?kind=registered", NULL);
    int64_t t0 = nm_mono_ms();
    for (int i = 0; i < REGS; i++) reg(s, nm_fmt("serviceName=many&ip=10.1.0.%d&port=1", i + 1));
    assert_true(nm_mono_ms() - t0 < 5000);
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < REGS; k++) {
            struct nm_sse_event ev = expect_event(c[i], "registered");
            assert_string_equal(jstr(ev.json, "ip"), nm_fmt("10.1.0.%d", k + 1));
            nm_sse_event_free(&ev);
        }
    }
    for (int i = 0; i < N; i++) nm_sse_close(c[i]);
    nm_test_stop(s);
}

static void test_stop_with_open_streams(void **state)
{
    struct nm_server *s = nm_test_start(NULL);
    enum { N = 20 };
    struct nm_sse *c[N];
    for (int i = 0; i < N; i++) c[i] = open_stream(s, "/__mock/events", NULL);
    int64_t t0 = nm_mono_ms();
    nm_test_stop(s);   /* a clean exit (0) ... */
    assert_true(nm_mono_ms() - t0 < 2000);   /* ... without waiting out the streams */
    for (int i = 0; i < N; i++) {
        struct nm_sse_event ev;
        assert_int_equal(nm_sse_next(c[i], WAIT_MS, &ev), 0);   /* ended */
        nm_sse_close(c[i]);
    }
}

/* The way to wait for a health transition in real time: on the stream, not by polling lists. */
static void test_wait_for_unhealthy_on_the_stream(void **state)
{
    const char *args[] = {"--beat-interval-ms", "200", "--sweep-interval-ms", "50", NULL};
    struct nm_server *s = nm_test_start(args);
    struct nm_sse *c = open_stream(s, "/__mock/events?kind=health&serviceName=demo", NULL);
    int64_t t0 = nm_mono_ms();
    reg(s, "serviceName=demo&ip=10.0.0.7&port=8080");   /* and it never beats */
    struct nm_sse_event ev;
    assert_int_equal(nm_sse_wait(c, "health", "\"instanceId\":\"10.0.0.7#8080#DEFAULT#" SVC "\"", 3000, &ev), 1);
    int64_t dt = nm_mono_ms() - t0;
    assert_string_equal(jstr(ev.json, "to"), "UNHEALTHY");
    assert_true(jnum(ev.json, "sinceLastBeatMs") > 600);   /* 3 missed beats of 200 ms */
    assert_true(dt >= 600);
    nm_sse_event_free(&ev);
    nm_sse_close(c);
    nm_test_stop(s);
}

/* Raw GET of path: the status line and headers (the response head), lower-cased names kept as sent. */
static char *raw_head(const struct nm_server *s, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) fail_msg("connect");
    const char *req = nm_fmt("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
    if (write(fd, req, strlen(req)) < 0) fail_msg("write");
    static char buf[1 << 20];
    size_t len = 0;
    ssize_t n;
    while ((n = read(fd, buf + len, sizeof buf - 1 - len)) > 0) len += (size_t)n;
    buf[len] = '\0';
    close(fd);
    char *end = strstr(buf, "\r\n\r\n");
    if (end) end[2] = '\0';
    return strdup(buf);
}

static void test_console_assets(void **state)
{
    struct nm_server *s = nm_test_start(NULL);
    const char *files[][2] = {
        {"/__mock/ui/", "text/html"}, {"/__mock/ui", "text/html"}, {"/__mock/ui/index.html", "text/html"},
        {"/__mock/ui/app.js", "text/javascript"}, {"/__mock/ui/app.css", "text/css"},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        struct nm_resp r;
        assert_int_equal(nm_get(s, files[i][0], &r), 200);
        if (strncmp(r.content_type, files[i][1], strlen(files[i][1])))
            fail_msg("%s: content type %s", files[i][0], r.content_type);
        assert_true(r.len > 100);
        nm_resp_free(&r);
    }
    char *head = raw_head(s, "/__mock/ui/");
    assert_non_null(strstr(head, "Content-Security-Policy: default-src 'none'; script-src 'self'"));
    assert_non_null(strstr(head, "Cache-Control: no-cache"));
    free(head);
    struct nm_resp r;
    assert_int_equal(nm_get(s, "/__mock/ui/", &r), 200);
    assert_non_null(strstr(r.body, "<script src=\"/__mock/ui/app.js\""));
    assert_null(strstr(r.body, "http://"));   /* nothing fetched from outside */
    assert_null(strstr(r.body, "https://"));
    nm_resp_free(&r);
    assert_int_equal(nm_get(s, "/__mock/ui/nope.js", &r), 404);
    nm_resp_free(&r);
    assert_int_equal(nm_get(s, "/__mock/uix", &r), 404);
    nm_resp_free(&r);
    nm_test_stop(s);
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
        cmocka_unit_test_teardown(test_every_kind_on_the_wire, nm_test_teardown),
        cmocka_unit_test_teardown(test_replay_last_event_id_and_since, nm_test_teardown),
        cmocka_unit_test_teardown(test_filters_and_bad_parameters, nm_test_teardown),
        cmocka_unit_test_teardown(test_admin_token, nm_test_teardown),
        cmocka_unit_test_teardown(test_keepalive_comments, nm_test_teardown),
        cmocka_unit_test_teardown(test_slow_reader_is_cut_off, nm_test_teardown),
        cmocka_unit_test_teardown(test_many_streams_hold_no_worker, nm_test_teardown),
        cmocka_unit_test_teardown(test_stop_with_open_streams, nm_test_teardown),
        cmocka_unit_test_teardown(test_wait_for_unhealthy_on_the_stream, nm_test_teardown),
        cmocka_unit_test_teardown(test_console_assets, nm_test_teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
