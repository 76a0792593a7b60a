/*
 * test_push.c — v1 UDP push (nacos-api.md §4) against the real server: a list request with
 * udpPort and a push-capable User-Agent subscribes the HTTP peer (127.0.0.1 here) at that port;
 * every change of the service sends {"type":"dom","data":"<list JSON>","lastRefTime":N}, gzip'd
 * from 1024 bytes; acks stop the single resend that comes ~10 s later.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "harness.h"

#define JAVA_UA "Nacos-Java-Client:v1.4.8"
#define GO_UA "Nacos-Go-Client:v1.1.6"
#define CURL_UA "curl/7.88.1"


/* ------------------------------------------------------------------ UDP side */

struct udp {
    int fd;
    int port;
};

static struct udp udp_open(void)
{
    struct udp u = {.fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)};
    assert_true(u.fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(u.fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t l = sizeof a;
    assert_int_equal(getsockname(u.fd, (struct sockaddr *)&a, &l), 0);
    u.port = ntohs(a.sin_port);
    return u;
}

struct pkt {
    unsigned char raw[65536];
    size_t raw_len;
    bool gzip;
    char *json;                 /* the (inflated) packet text, owned */
    cJSON *outer;               /* parsed packet */
    cJSON *data;                /* parsed `data` */
    long long ref;              /* outer lastRefTime */
    struct sockaddr_in from;
    int64_t at;                 /* mono ms when received */
};

static void pkt_free(struct pkt *p)
{
    free(p->json);
    cJSON_Delete(p->outer);
    cJSON_Delete(p->data);
    free(p);
}

static char *gunzip(const unsigned char *in, size_t n)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(inflateInit2(&z, 15 + 32), Z_OK);
    size_t cap = 1 << 20;
    char *out = malloc(cap + 1);
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)n;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    int rc = inflate(&z, Z_FINISH);
    size_t len = z.total_out;
    inflateEnd(&z);
    if (rc != Z_STREAM_END) fail_msg("gzip packet of %zu bytes does not inflate (%d)", n, rc);
    out[len] = '\0';
    return out;
}

/* Waits up to timeout_ms for one datagram; NULL when none came. */
static struct pkt *udp_recv(const struct udp *u, int timeout_ms)
{
    struct pollfd pf = {.fd = u->fd, .events = POLLIN};
    if (poll(&pf, 1, timeout_ms) <= 0) return NULL;
    struct pkt *p = calloc(1, sizeof *p);
    socklen_t fl = sizeof p->from;
    ssize_t n = recvfrom(u->fd, p->raw, sizeof p->raw, 0, (struct sockaddr *)&p->from, &fl);
    assert_true(n > 0);
    p->at = nm_mono_ms();
    p->raw_len = (size_t)n;
    p->gzip = n >= 2 && p->raw[0] == 0x1f && p->raw[1] == 0x8b;
    if (p->gzip) {
        p->json = gunzip(p->raw, p->raw_len);
    } else {
        p->json = malloc(p->raw_len + 1);
        memcpy(p->json, p->raw, p->raw_len);
        p->json[p->raw_len] = '\0';
    }
    p->outer = cJSON_Parse(p->json);
    if (!p->outer) fail_msg("packet is not JSON: %s", p->json);
    const cJSON *type = cJSON_GetObjectItem(p->outer, "type"), *data = cJSON_GetObjectItem(p->outer, "data"),
                *ref = cJSON_GetObjectItem(p->outer, "lastRefTime");
    assert_true(cJSON_IsString(type));
    assert_string_equal(type->valuestring, "dom");
    assert_true(cJSON_IsString(data));
    assert_true(cJSON_IsNumber(ref));
    p->ref = (long long)ref->valuedouble;
    assert_true(p->ref > 0 && p->ref < (1LL << 53));
    assert_true((double)p->ref == ref->valuedouble);
    p->data = cJSON_Parse(data->valuestring);
    if (!p->data) fail_msg("packet data is not JSON: %s", data->valuestring);
    /* sent from the loopback, to which we subscribed */
    assert_int_equal(p->from.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    return p;
}

static struct pkt *udp_expect(const struct udp *u, const char *what)
{
    struct pkt *p = udp_recv(u, 3000);
    if (!p) fail_msg("no push on UDP port %d after %s", u->port, what);
    return p;
}

static void udp_expect_none(const struct udp *u, int ms, const char *what)
{
    struct pkt *p = udp_recv(u, ms);
    if (p) fail_msg("unexpected push on UDP port %d %s: %s", u->port, what, p->json);
}

/* push-ack to the address the packet came from; lastRefTime as a string (Java/Go) or number (Node). */
static void ack(const struct udp *u, const struct pkt *p, bool as_number)
{
    char buf[200];
    int n = as_number ? snprintf(buf, sizeof buf, "{\"type\":\"push-ack\",\"lastRefTime\":%lld,\"data\":\"\"}", p->ref)
                      : snprintf(buf, sizeof buf, "{\"type\":\"push-ack\",\"lastRefTime\":\"%lld\",\"data\":\"\"}",
                                 p->ref);
    assert_int_equal(sendto(u->fd, buf, (size_t)n, 0, (const struct sockaddr *)&p->from, sizeof p->from), n);
}

/* ------------------------------------------------------------------ HTTP side */

static void reg(struct nm_server *s, const char *query_extra, const char *svc, const char *ip)
{
    struct nm_resp r;
    nm_post_form(s, "/nacos/v1/ns/instance",
                 nm_fmt("serviceName=%s&ip=%s&port=8080%s", svc, ip, query_extra ? query_extra : ""), &r);
    if (r.status != 200) fail_msg("register %s %s -> %ld %s", svc, ip, r.status, r.body);
    nm_resp_free(&r);
}

static void dereg(struct nm_server *s, const char *svc, const char *ip)
{
    struct nm_resp r;
    nm_http(s, "DELETE", nm_fmt("/nacos/v1/ns/instance?serviceName=%s&ip=%s&port=8080", svc, ip), NULL, NULL, NULL,
            &r);
    assert_int_equal(r.status, 200);
    nm_resp_free(&r);
}

static void beat(struct nm_server *s, const char *svc, const char *ip)
{
    struct nm_resp r;
    nm_http(s, "PUT", nm_fmt("/nacos/v1/ns/instance/beat?serviceName=%s&ip=%s&port=8080", svc, ip), NULL, NULL,
            NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "10200"));
    nm_resp_free(&r);
}

static void advance(struct nm_server *s, long ms)
{
    struct nm_resp r;
    nm_http(s, "POST", "/__mock/clock/advance", nm_fmt("{\"ms\":%ld}", ms), "application/json", NULL, &r);
    assert_int_equal(r.status, 200);
    nm_resp_free(&r);
}

/* GET instance/list with `query` and User-Agent `ua` (subscribes when query has udpPort). */
static cJSON *list_ua(struct nm_server *s, const char *query, const char *ua)
{
    struct nm_resp r;
    nm_http(s, "GET", nm_fmt("/nacos/v1/ns/instance/list?%s", query), NULL, NULL, ua, &r);
    if (r.status != 200) fail_msg("list %s -> %ld %s", query, r.status, r.body);
    cJSON *j = cJSON_Parse(r.body);
    nm_resp_free(&r);
    assert_non_null(j);
    return j;
}

static long long num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(o, key);
    if (!cJSON_IsNumber(v)) fail_msg("field '%s' is not a number", key);
    return (long long)v->valuedouble;
}

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(o, key);
    if (!cJSON_IsString(v)) fail_msg("field '%s' is not a string", key);
    return v->valuestring;
}

static int n_hosts(const cJSON *doc)
{
    return cJSON_GetArraySize(cJSON_GetObjectItem(doc, "hosts"));
}

/* The pushed document equals what the same list request answers now: name, dom, clusters,
 * cacheMillis, checksum and each host's ip, port, healthy in order. */
static void assert_same_as_list(struct nm_server *s, const struct pkt *p, const char *query, const char *ua)
{
    cJSON *l = list_ua(s, query, ua);
    const cJSON *d = p->data;
    assert_string_equal(str(d, "name"), str(l, "name"));
    assert_string_equal(str(d, "dom"), str(l, "dom"));
    assert_string_equal(str(d, "clusters"), str(l, "clusters"));
    assert_int_equal(num(d, "cacheMillis"), num(l, "cacheMillis"));
    assert_string_equal(str(d, "checksum"), str(l, "checksum"));
    /* same state, same stamp: clients drop data whose lastRefTime is older than what they hold */
    assert_int_equal(num(d, "lastRefTime"), num(l, "lastRefTime"));
    assert_int_equal(n_hosts(d), n_hosts(l));
    for (int i = 0; i < n_hosts(l); i++) {
        const cJSON *a = cJSON_GetArrayItem(cJSON_GetObjectItem(d, "hosts"), i);
        const cJSON *b = cJSON_GetArrayItem(cJSON_GetObjectItem(l, "hosts"), i);
        assert_string_equal(str(a, "ip"), str(b, "ip"));
        assert_int_equal(num(a, "port"), num(b, "port"));
        assert_int_equal(cJSON_IsTrue(cJSON_GetObjectItem(a, "healthy")), cJSON_IsTrue(cJSON_GetObjectItem(b, "healthy")));
        assert_string_equal(str(a, "instanceId"), str(b, "instanceId"));
    }
    cJSON_Delete(l);
}

static const cJSON *host(const cJSON *doc, const char *ip)
{
    const cJSON *h;
    cJSON_ArrayForEach(h, cJSON_GetObjectItem(doc, "hosts"))
        if (!strcmp(str(h, "ip"), ip)) return h;
    return NULL;
}

static long long subscribe_count(struct nm_server *s)
{
    cJSON *m = nm_get_json(s, "/nacos/v1/ns/operator/metrics");
    assert_non_null(m);
    long long n = num(m, "subscribeCount");
    cJSON_Delete(m);
    return n;
}

/* lastRefTime changes only when the service does, and only grows: also across a clock jump and a reset */
static void test_last_ref_time_only_grows(void **state)
{
    (void)state;
    struct nm_server *s = nm_test_start(NULL);
    reg(s, NULL, "ref", "10.0.0.1");
    cJSON *a = list_ua(s, "serviceName=ref", NULL);
    usleep(20000);
    cJSON *b = list_ua(s, "serviceName=ref", NULL);
    assert_int_equal(num(a, "lastRefTime"), num(b, "lastRefTime"));   /* unchanged service, same stamp */
    reg(s, NULL, "ref", "10.0.0.2");
    cJSON *c = list_ua(s, "serviceName=ref", NULL);
    assert_true(num(c, "lastRefTime") > num(b, "lastRefTime"));
    advance(s, 3600000);
    reg(s, NULL, "ref", "10.0.0.3");
    cJSON *d = list_ua(s, "serviceName=ref", NULL);
    assert_true(num(d, "lastRefTime") > num(c, "lastRefTime"));
    struct nm_resp r;
    assert_int_equal(nm_http(s, "POST", "/__mock/reset", "", "application/json", NULL, &r), 200);
    nm_resp_free(&r);
    reg(s, NULL, "ref", "10.0.0.4");
    cJSON *e = list_ua(s, "serviceName=ref", NULL);
    assert_true(num(e, "lastRefTime") > num(d, "lastRefTime"));
    cJSON_Delete(a);
    cJSON_Delete(b);
    cJSON_Delete(c);
    cJSON_Delete(d);
    cJSON_Delete(e);
    nm_test_stop(s);
}

/* Over HTTP, every path by which a service goes away or is rebuilt: whatever it answers next carries a
 * lastRefTime above the last one a client saw, even when a burst of changes had pushed that stamp
 * ahead of real time (test_store checks the same at one fixed millisecond; this is the whole path). */
static long long ref_of(struct nm_server *s, const char *svc)
{
    cJSON *l = list_ua(s, nm_fmt("serviceName=%s", svc), NULL);
    long long r = num(l, "lastRefTime");
    cJSON_Delete(l);
    return r;
}

static long long burst_then_ref(struct nm_server *s, const char *svc)
{
    for (int i = 0; i < 40; i++) reg(s, NULL, svc, nm_fmt("10.1.%d.%d", i / 200, i % 200));
    return ref_of(s, svc);
}

static void control(struct nm_server *s, const char *method, const char *path, const char *body)
{
    struct nm_resp r;
    long st = nm_http(s, method, path, body, "application/json", NULL, &r);
    if (st != 200) fail_msg("%s %s -> %ld %s", method, path, st, r.body);
    nm_resp_free(&r);
}

static void test_last_ref_time_grows_across_every_path(void **state)
{
    (void)state;
    struct nm_server *s = nm_test_start((const char *const[]){"--beat-interval-ms", "1000", NULL});
    struct { const char *name; long long before; } seen;
    /* reset */
    seen.before = burst_then_ref(s, "p1");
    control(s, "POST", "/__mock/reset", "");
    assert_true(ref_of(s, "p1") > seen.before);   /* unknown now */
    reg(s, NULL, "p1", "10.0.0.1");
    assert_true(ref_of(s, "p1") > seen.before);
    /* forget (the service stays, emptied) */
    seen.before = burst_then_ref(s, "p2");
    control(s, "POST", "/__mock/forget", "");
    long long after_forget = ref_of(s, "p2");
    assert_true(after_forget > seen.before);
    reg(s, NULL, "p2", "10.0.0.1");
    assert_true(ref_of(s, "p2") > after_forget);
    /* service deletion and re-creation */
    seen.before = burst_then_ref(s, "p3");
    for (int i = 0; i < 40; i++) dereg(s, "p3", nm_fmt("10.1.%d.%d", i / 200, i % 200));
    seen.before = ref_of(s, "p3");
    struct nm_resp r;
    assert_int_equal(nm_http(s, "DELETE", "/nacos/v1/ns/service?serviceName=p3", NULL, NULL, NULL, &r), 200);
    nm_resp_free(&r);
    assert_true(ref_of(s, "p3") > seen.before);
    assert_int_equal(nm_post_form(s, "/nacos/v1/ns/service", "serviceName=p3", &r), 200);
    nm_resp_free(&r);
    assert_true(ref_of(s, "p3") > seen.before);
    reg(s, NULL, "p3", "10.0.0.1");
    assert_true(ref_of(s, "p3") > seen.before);
    /* a snapshot load, after a reset */
    seen.before = burst_then_ref(s, "p4");
    control(s, "POST", "/__mock/reset", "");
    control(s, "POST", "/__mock/registry",
            "{\"namespaces\":[{\"namespaceId\":\"public\",\"services\":[{\"name\":\"DEFAULT_GROUP@@p4\","
            "\"instances\":[{\"ip\":\"10.0.0.9\",\"port\":1}]}]}]}");
    assert_true(ref_of(s, "p4") > seen.before);
    /* the empty-service cleaner (virtual time) */
    seen.before = burst_then_ref(s, "p5");
    advance(s, 3600000);   /* every instance expires, then the empty service is collected */
    advance(s, 3600000);
    assert_true(ref_of(s, "p5") > seen.before);
    reg(s, NULL, "p5", "10.0.0.1");
    assert_true(ref_of(s, "p5") > seen.before);
    nm_test_stop(s);
}

/* ------------------------------------------------------------------ tests */

static void test_subscribe_cache_millis_and_ua(void **state)
{
    struct nm_server *s = nm_test_start(NULL);
    struct udp java = udp_open(), curl = udp_open(), go = udp_open(), none = udp_open();
    cJSON *l = list_ua(s, nm_fmt("serviceName=svc&udpPort=%d", java.port), JAVA_UA);
    assert_int_equal(num(l, "cacheMillis"), 10000);
    cJSON_Delete(l);
    l = list_ua(s, nm_fmt("serviceName=svc&udpPort=%d", curl.port), CURL_UA);
    assert_int_equal(num(l, "cacheMillis"), 3000);
    cJSON_Delete(l);
    l = list_ua(s, nm_fmt("serviceName=svc&udpPort=%d", none.port), NULL);   /* no User-Agent at all */
    assert_int_equal(num(l, "cacheMillis"), 3000);
    cJSON_Delete(l);
    l = list_ua(s, nm_fmt("serviceName=svc&udpPort=%d", go.port), GO_UA);
    assert_int_equal(num(l, "cacheMillis"), 10000);
    cJSON_Delete(l);
    l = list_ua(s, "serviceName=svc", JAVA_UA);   /* no udpPort: no subscription */
    assert_int_equal(num(l, "cacheMillis"), 3000);
    cJSON_Delete(l);
    l = list_ua(s, "serviceName=svc&udpPort=0", JAVA_UA);
    assert_int_equal(num(l, "cacheMillis"), 3000);
    cJSON_Delete(l);
    assert_int_equal(subscribe_count(s), 2);

    int64_t t = nm_mono_ms();
    reg(s, NULL, "svc", "10.0.0.1");
    struct pkt *p = udp_expect(&java, "register");
    assert_true(p->at - t < 1000);   /* coalesced ~50 ms, not Nacos's 1 s */
    assert_false(p->gzip);
    assert_int_equal(p->raw[0], '{');
    assert_string_equal(str(p->data, "dom"), "DEFAULT_GROUP@@svc");   /* Java >= 1.0: grouped */
    assert_int_equal(num(p->data, "cacheMillis"), 10000);
    assert_same_as_list(s, p, nm_fmt("serviceName=svc&udpPort=%d", java.port), JAVA_UA);
    ack(&java, p, false);
    pkt_free(p);
    p = udp_expect(&go, "register");
    assert_string_equal(str(p->data, "name"), "DEFAULT_GROUP@@svc");
    assert_string_equal(str(p->data, "dom"), "svc");                  /* other clients: bare */
    assert_same_as_list(s, p, nm_fmt("serviceName=svc&udpPort=%d", go.port), GO_UA);
    ack(&go, p, false);
    pkt_free(p);
    udp_expect_none(&curl, 300, "to a curl User-Agent");
    udp_expect_none(&none, 1, "without a User-Agent");
    udp_expect_none(&java, 1, "twice for one change");
    close(java.fd);
    close(curl.fd);
    close(go.fd);
    close(none.fd);
    nm_test_stop(s);
}

static void test_push_follows_changes(void **state)
{
    struct nm_server *s = nm_test_start(NULL);
    struct udp u = udp_open();
    const char *q = nm_fmt("serviceName=svc&udpPort=%d", u.port);
    char query[200];
    snprintf(query, sizeof query, "%s", q);
    cJSON *l = list_ua(s, query, JAVA_UA);
    assert_int_equal(n_hosts(l), 0);
    cJSON_Delete(l);
    long long last_ref = 0;

    reg(s, NULL, "svc", "10.0.0.1");
    struct pkt *p = udp_expect(&u, "register a");
    assert_int_equal(n_hosts(p->data), 1);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(host(p->data, "10.0.0.1"), "healthy")));
    assert_same_as_list(s, p, query, JAVA_UA);
    assert_true(p->ref > last_ref);
    last_ref = p->ref;
    ack(&u, p, false);
    pkt_free(p);

    reg(s, NULL, "svc", "10.0.0.2");
    p = udp_expect(&u, "register b");
    assert_int_equal(n_hosts(p->data), 2);
    assert_same_as_list(s, p, query, JAVA_UA);
    assert_true(p->ref > last_ref);
    last_ref = p->ref;
    ack(&u, p, false);
    pkt_free(p);

    dereg(s, "svc", "10.0.0.1");
    p = udp_expect(&u, "deregister a");
    assert_int_equal(n_hosts(p->data), 1);
    assert_null(host(p->data, "10.0.0.1"));
    assert_same_as_list(s, p, query, JAVA_UA);
    assert_true(p->ref > last_ref);
    last_ref = p->ref;
    ack(&u, p, false);
    pkt_free(p);

    /* the clock: b turns unhealthy while c, just beaten, stays healthy */
    reg(s, NULL, "svc", "10.0.0.3");
    p = udp_expect(&u, "register c");
    assert_true(p->ref > last_ref);
    last_ref = p->ref;
    ack(&u, p, false);
    pkt_free(p);
    advance(s, 14000);
    udp_expect_none(&u, 200, "for a clock advance that changed nothing");
    beat(s, "svc", "10.0.0.3");
    udp_expect_none(&u, 200, "for a beat of a healthy instance");
    advance(s, 1500);
    p = udp_expect(&u, "b turned unhealthy");
    assert_int_equal(n_hosts(p->data), 2);
    assert_false(cJSON_IsTrue(cJSON_GetObjectItem(host(p->data, "10.0.0.2"), "healthy")));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(host(p->data, "10.0.0.3"), "healthy")));
    assert_same_as_list(s, p, query, JAVA_UA);
    assert_true(p->ref > last_ref);
    last_ref = p->ref;
    ack(&u, p, true);
    pkt_free(p);

    /* a beat restores b: pushed too */
    beat(s, "svc", "10.0.0.2");
    p = udp_expect(&u, "b beat again");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(host(p->data, "10.0.0.2"), "healthy")));
    assert_same_as_list(s, p, query, JAVA_UA);
    assert_true(p->ref > last_ref);
    last_ref = p->ref;
    ack(&u, p, false);
    pkt_free(p);

    /* removal by the clock; a clock jump does not end the (real-time) subscription */
    advance(s, 100000000);
    p = udp_expect(&u, "both removed by the clock");
    assert_int_equal(n_hosts(p->data), 0);
    assert_same_as_list(s, p, query, JAVA_UA);
    assert_true(p->ref > last_ref);
    ack(&u, p, false);
    pkt_free(p);
    udp_expect_none(&u, 200, "after the last change");
    close(u.fd);
    nm_test_stop(s);
}

static void test_big_packet_is_gzip(void **state)
{
    struct nm_server *s = nm_test_start(NULL);
    struct udp u = udp_open();
    char query[200];
    snprintf(query, sizeof query, "serviceName=big&udpPort=%d", u.port);
    cJSON_Delete(list_ua(s, query, JAVA_UA));
    char big[1601];
    memset(big, 'x', 1600);
    big[1600] = '\0';
    char md[1700];
    snprintf(md, sizeof md, "{\"blob\":\"%s\"}", big);
    reg(s, nm_fmt("&metadata=%s", nm_enc(md)), "big", "10.0.0.1");
    struct pkt *p = udp_expect(&u, "register with big metadata");
    assert_true(p->gzip);
    assert_true(strlen(p->json) >= 1024);
    assert_true(p->raw_len < strlen(p->json));
    assert_string_equal(str(cJSON_GetObjectItem(host(p->data, "10.0.0.1"), "metadata"), "blob"), big);
    assert_same_as_list(s, p, query, JAVA_UA);
    ack(&u, p, false);
    pkt_free(p);

    /* many instances: still one packet, still gzip */
    for (int i = 2; i <= 40; i++) reg(s, NULL, "big", nm_fmt("10.0.1.%d", i));
    struct pkt *last = NULL;
    while ((p = udp_recv(&u, last ? 300 : 3000))) {
        ack(&u, p, false);
        if (last) pkt_free(last);
        last = p;
    }
    assert_non_null(last);
    assert_true(last->gzip);
    assert_int_equal(n_hosts(last->data), 40);
    assert_same_as_list(s, last, query, JAVA_UA);
    pkt_free(last);
    close(u.fd);
    nm_test_stop(s);
}

/* One ~11 s test for both sides of the retry rule: acked packets (lastRefTime as a string or as a
 * number) are not resent; an unacked one is resent once, unchanged, ~10 s later. */
static void test_ack_stops_resend(void **state)
{
    struct nm_server *s = nm_test_start(NULL);
    struct udp acks_str = udp_open(), acks_num = udp_open(), silent = udp_open();
    struct udp *all[3] = {&acks_str, &acks_num, &silent};
    for (int i = 0; i < 3; i++)
        cJSON_Delete(list_ua(s, nm_fmt("serviceName=svc&udpPort=%d", all[i]->port), JAVA_UA));
    reg(s, NULL, "svc", "10.0.0.1");
    struct pkt *first[3];
    for (int i = 0; i < 3; i++) first[i] = udp_expect(all[i], "register");
    assert_true(first[0]->ref != first[1]->ref && first[1]->ref != first[2]->ref && first[0]->ref != first[2]->ref);
    ack(&acks_str, first[0], false);
    ack(&acks_num, first[1], true);

    int64_t t0 = first[2]->at;
    struct pkt *resent = NULL;
    int n_resent = 0;
    while (nm_mono_ms() - t0 < 11000) {
        struct pollfd pf[3];
        for (int i = 0; i < 3; i++) pf[i] = (struct pollfd){.fd = all[i]->fd, .events = POLLIN};
        int left = (int)(11000 - (nm_mono_ms() - t0));
        if (left <= 0 || poll(pf, 3, left) <= 0) break;
        if (pf[0].revents || pf[1].revents) {
            struct pkt *p = udp_recv(pf[0].revents ? &acks_str : &acks_num, 0);
            fail_msg("acked subscriber got a resend %lld ms after the push: %s", (long long)(p->at - t0), p->json);
        }
        struct pkt *p = udp_recv(&silent, 0);
        n_resent++;
        if (resent) pkt_free(resent);
        resent = p;
    }
    assert_int_equal(n_resent, 1);
    long long after = resent->at - t0;
    fprintf(stderr, "resend came %lld ms after the first push\n", after);
    assert_true(after >= 9500 && after <= 11000);
    assert_int_equal(resent->ref, first[2]->ref);
    assert_int_equal(resent->raw_len, first[2]->raw_len);
    assert_memory_equal(resent->raw, first[2]->raw, resent->raw_len);
    pkt_free(resent);
    for (int i = 0; i < 3; i++) {
        pkt_free(first[i]);
        close(all[i]->fd);
    }
    nm_test_stop(s);
}

static void test_no_push_for_other_services(void **state)
{
    struct nm_server *s = nm_test_start(NULL);
    struct udp u = udp_open();
    char query[200];
    snprintf(query, sizeof query, "serviceName=alpha&udpPort=%d", u.port);
    cJSON_Delete(list_ua(s, query, JAVA_UA));
    reg(s, NULL, "beta", "10.0.0.1");
    reg(s, NULL, "alpha&groupName=OTHER", "10.0.0.1");     /* same name, other group */
    reg(s, "&namespaceId=dev", "alpha", "10.0.0.1");       /* same name, other namespace */
    udp_expect_none(&u, 400, "about another service");
    reg(s, NULL, "alpha", "10.0.0.9");
    struct pkt *p = udp_expect(&u, "register into alpha");
    assert_string_equal(str(p->data, "name"), "DEFAULT_GROUP@@alpha");
    assert_int_equal(n_hosts(p->data), 1);
    assert_non_null(host(p->data, "10.0.0.9"));
    assert_same_as_list(s, p, query, JAVA_UA);
    ack(&u, p, false);
    pkt_free(p);
    close(u.fd);
    nm_test_stop(s);
}

/* Subscribers with the same query share one rendering of the list (the rendered-list cache), and
 * each still gets the current state. */
static void test_subscribers_share_one_rendering(void **state)
{
    (void)state;
    struct nm_server *s = nm_test_start(NULL);
    struct udp u[3] = {udp_open(), udp_open(), udp_open()};
    char query[3][200];
    reg(s, NULL, "shared", "10.0.0.1");
    for (int i = 0; i < 3; i++) {
        snprintf(query[i], sizeof query[i], "serviceName=shared&udpPort=%d", u[i].port);
        cJSON_Delete(list_ua(s, query[i], JAVA_UA));
    }
    double hits0 = nm_metric(s, "nacos_mock_list_cache_lookups_total{result=\"hit\"} ");
    reg(s, NULL, "shared", "10.0.0.2");
    struct pkt *p[3];
    for (int i = 0; i < 3; i++) {
        p[i] = udp_expect(&u[i], "register into a service with three subscribers");
        assert_int_equal(n_hosts(p[i]->data), 2);
        assert_non_null(host(p[i]->data, "10.0.0.2"));
    }
    /* the three packets carry the same data; two of the three renderings were cache hits */
    assert_string_equal(str(p[0]->outer, "data"), str(p[1]->outer, "data"));
    assert_string_equal(str(p[0]->outer, "data"), str(p[2]->outer, "data"));
    assert_true(nm_metric(s, "nacos_mock_list_cache_lookups_total{result=\"hit\"} ") >= hits0 + 2);
    for (int i = 0; i < 3; i++) {
        assert_same_as_list(s, p[i], query[i], JAVA_UA);
        ack(&u[i], p[i], false);
        pkt_free(p[i]);
        close(u[i].fd);
    }
    nm_test_stop(s);
}

static void test_push_goes_to_peer_not_client_ip(void **state)
{
    struct nm_server *s = nm_test_start(NULL);
    struct udp u = udp_open();
    char query[200];
    snprintf(query, sizeof query, "serviceName=svc&udpPort=%d&clientIP=10.1.2.3", u.port);
    cJSON *l = list_ua(s, query, JAVA_UA);
    assert_int_equal(num(l, "cacheMillis"), 10000);
    cJSON_Delete(l);
    reg(s, NULL, "svc", "10.0.0.1");
    struct pkt *p = udp_expect(&u, "register (subscribed with clientIP=10.1.2.3)");
    assert_int_equal(n_hosts(p->data), 1);
    ack(&u, p, false);
    pkt_free(p);
    close(u.fd);
    nm_test_stop(s);
}

static void test_subscribe_count(void **state)
{
    struct nm_server *s = nm_test_start(NULL);
    struct udp a = udp_open(), b = udp_open();
    assert_int_equal(subscribe_count(s), 0);
    cJSON_Delete(list_ua(s, nm_fmt("serviceName=svc&udpPort=%d", a.port), JAVA_UA));
    assert_int_equal(subscribe_count(s), 1);
    cJSON_Delete(list_ua(s, nm_fmt("serviceName=svc&udpPort=%d", a.port), JAVA_UA));   /* a refresh */
    assert_int_equal(subscribe_count(s), 1);
    cJSON_Delete(list_ua(s, nm_fmt("serviceName=svc&udpPort=%d", b.port), JAVA_UA));
    assert_int_equal(subscribe_count(s), 2);
    cJSON_Delete(list_ua(s, nm_fmt("serviceName=other&udpPort=%d", a.port), JAVA_UA));
    assert_int_equal(subscribe_count(s), 3);
    cJSON_Delete(list_ua(s, nm_fmt("serviceName=svc&udpPort=%d", b.port + 1), CURL_UA));   /* not push-capable */
    assert_int_equal(subscribe_count(s), 3);
    close(a.fd);
    close(b.fd);
    nm_test_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_subscribe_cache_millis_and_ua, nm_test_teardown),
        cmocka_unit_test_teardown(test_push_follows_changes, nm_test_teardown),
        cmocka_unit_test_teardown(test_big_packet_is_gzip, nm_test_teardown),
        cmocka_unit_test_teardown(test_ack_stops_resend, nm_test_teardown),
        cmocka_unit_test_teardown(test_no_push_for_other_services, nm_test_teardown),
        cmocka_unit_test_teardown(test_subscribers_share_one_rendering, nm_test_teardown),
        cmocka_unit_test_teardown(test_push_goes_to_peer_not_client_ip, nm_test_teardown),
        cmocka_unit_test_teardown(test_subscribe_count, nm_test_teardown),
        cmocka_unit_test_teardown(test_last_ref_time_only_grows, nm_test_teardown),
        cmocka_unit_test_teardown(test_last_ref_time_grows_across_every_path, nm_test_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
