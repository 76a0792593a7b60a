/*
 * test_config_api.c — the config center over HTTP against the real server (config-api.md §1, §2, §4):
 * v1 get / publish / remove with every header and error of the contract, namespaces, CAS, gray
 * release refused, search and detail, history, the v2 Open API's envelope; the long-poll listener
 * (answers at once on a stale md5, holds otherwise and answers within moments of a change — checked
 * by order: the poll is seen held on /__mock/metrics before the change is made —, the deadline,
 * No-Hangup, malformed input, tenant spellings echoed, a client that leaves); byte-exact contents of
 * 1 MB and 10 MiB; fault rules on config.* (a faulted call changes nothing; a hung or delayed
 * listener); journal and metrics; snapshots, --fixtures, reset and forget; server status; and 1,000
 * long polls held at once, all answered by one change.
 */
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define CFG "/nacos/v1/cs/configs"
#define LISTENER "/nacos/v1/cs/configs/listener"
#define GAUGE_HTTP "nacos_mock_config_listeners{transport=\"http\"} "

static struct nm_server *S;

static int group_setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_ALL);
    S = calloc(1, sizeof *S);
    const char *args[] = {"--quiet", NULL};
    return S && nm_start(S, args) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    int rc = S ? nm_stop(S) : 0;
    free(S);
    curl_global_cleanup();
    return rc;
}

/* ---------------------------------------------------------------- helpers */

static long req(const struct nm_server *s, const char *method, const char *path, const char *body, struct nm_resp *r)
{
    return nm_http(s, method, path, body, NULL, "nacos-mock-test", r);
}

/* POST a form to /configs; asserts `want`. */
static void publish_s(const struct nm_server *s, const char *form, long want)
{
    struct nm_resp r;
    req(s, "POST", CFG, form, &r);
    if (r.status != want) fail_msg("publish %.200s -> %ld %s (want %ld)", form, r.status, r.body, want);
    if (want == 200) assert_string_equal(r.body, "true");
    nm_resp_free(&r);
}

static void publish(const char *form) { publish_s(S, form, 200); }

/* GET content of a config; NULL when 404. Caller frees. */
static char *content_s(const struct nm_server *s, const char *data_id, const char *extra)
{
    struct nm_resp r;
    req(s, "GET", nm_fmt(CFG "?dataId=%s&group=G%s", data_id, extra ? extra : ""), NULL, &r);
    if (r.status == 404) {
        assert_string_equal(r.body, "config data not exist\n");
        nm_resp_free(&r);
        return NULL;
    }
    if (r.status != 200) fail_msg("get %s -> %ld %s", data_id, r.status, r.body);
    return r.body;   /* the caller frees it */
}

static char *content(const char *data_id) { return content_s(S, data_id, NULL); }

/* Expects status and exact body. */
static void expect(const char *method, const char *path, const char *body, long status, const char *want)
{
    struct nm_resp r;
    req(S, method, path, body, &r);
    if (r.status != status || (want && strcmp(r.body, want)))
        fail_msg("%s %s %.120s -> %ld '%s', want %ld '%s'", method, path, body ? body : "", r.status, r.body, status,
                 want ? want : "*");
    nm_resp_free(&r);
}

static double gauge(const struct nm_server *s) { return nm_metric(s, GAUGE_HTTP); }

/* Waits (up to 10 s) until the http listener gauge reads n. */
static void wait_listeners(const struct nm_server *s, double n)
{
    int64_t end = nm_mono_ms() + 10000;
    while (gauge(s) != n) {
        if (nm_mono_ms() > end) fail_msg("listener gauge stays %g, want %g", gauge(s), n);
        usleep(2000);
    }
}

/* Listening-Configs text for keys "dataId\2group\2md5[\2tenant]\1" (percent-encoded as the form wants). */
static const char *lc(const char *raw) { return nm_fmt("Listening-Configs=%s", nm_enc(raw)); }

struct poll_call {
    const struct nm_server *s;
    char body[2048];
    const char *headers[4];
    long status;
    char answer[1024];
    int64_t t0, t1;
    int curl_code;
};

static void *poll_main(void *arg)
{
    struct poll_call *p = arg;
    struct nm_resp r;
    p->t0 = nm_mono_ms();
    nm_http_h(p->s, "POST", LISTENER, p->body, NULL, "nacos-mock-test", p->headers, &r);
    p->t1 = nm_mono_ms();
    p->status = r.status;
    p->curl_code = r.curl_code;
    snprintf(p->answer, sizeof p->answer, "%s", r.body ? r.body : "");
    nm_resp_free(&r);
    return NULL;
}

/* A poll with Long-Pulling-Timeout `timeout` (NULL: no header) on the raw keys, run now. */
static void poll_now(struct poll_call *p, const char *keys, const char *timeout, const char *extra_header)
{
    memset(p, 0, sizeof *p);
    p->s = S;
    snprintf(p->body, sizeof p->body, "%s", lc(keys));
    static __thread char th[64];
    int k = 0;
    if (timeout) {
        snprintf(th, sizeof th, "Long-Pulling-Timeout: %s", timeout);
        p->headers[k++] = th;
    }
    if (extra_header) p->headers[k++] = extra_header;
    poll_main(p);
}

/* ---------------------------------------------------------------- v1 get / publish / remove */

static void test_publish_get_headers(void **state)
{
    (void)state;
    publish("dataId=h.yaml&group=G&content=a%3A+1%0A&type=yaml&appName=app1&encryptedDataKey=k1");
    struct nm_resp r;
    req(S, "GET", CFG "?dataId=h.yaml&group=G", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "a: 1\n");
    char v[128];
    assert_string_equal(nm_resp_header(&r, "Content-MD5", v, sizeof v), "e0ccdaf42c593022e15b18cc0e96d201");
    assert_string_equal(nm_resp_header(&r, "Config-Type", v, sizeof v), "yaml");
    assert_string_equal(nm_resp_header(&r, "Content-Type", v, sizeof v), "text/plain;charset=UTF-8");
    assert_string_equal(nm_resp_header(&r, "Pragma", v, sizeof v), "no-cache");
    assert_string_equal(nm_resp_header(&r, "Expires", v, sizeof v), "Thu, 01 Jan 1970 00:00:00 GMT");
    assert_string_equal(nm_resp_header(&r, "Cache-Control", v, sizeof v), "no-cache,no-store");
    assert_string_equal(nm_resp_header(&r, "Encrypted-Data-Key", v, sizeof v), "k1");
    assert_non_null(nm_resp_header(&r, "Last-Modified", v, sizeof v));
    assert_int_equal(strlen(v), 29);   /* Thu, 04 Dec 2026 14:33:06 GMT */
    assert_string_equal(v + 25, " GMT");
    nm_resp_free(&r);
    /* content type by type; an unknown type is text */
    const struct { const char *type, *ct; } types[] = {{"json", "application/json;charset=UTF-8"},
                                                        {"xml", "application/xml;charset=UTF-8"},
                                                        {"html", "text/html;charset=UTF-8"},
                                                        {"properties", "text/plain;charset=UTF-8"},
                                                        {"exe", "text/plain;charset=UTF-8"}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        publish(nm_fmt("dataId=t-%zu&group=G&content=x&type=%s", i, types[i].type));
        req(S, "GET", nm_fmt(CFG "?dataId=t-%zu&group=G", i), NULL, &r);
        assert_string_equal(nm_resp_header(&r, "Content-Type", v, sizeof v), types[i].ct);
        assert_string_equal(nm_resp_header(&r, "Config-Type", v, sizeof v), i == 4 ? "text" : types[i].type);
        assert_null(nm_resp_header(&r, "Encrypted-Data-Key", v, sizeof v));
        nm_resp_free(&r);
    }
    /* the npm client's way: blank optional parameters are absent */
    publish("dataId=npm&group=G&content=c&tenant=&type=&appName=");
    char *c = content("npm");
    assert_string_equal(c, "c");
    free(c);
    /* absent, and removal (also of an absent config) answers true */
    assert_null(content("nope"));
    expect("DELETE", CFG "?dataId=npm&group=G", NULL, 200, "true");
    expect("DELETE", CFG "?dataId=npm&group=G", NULL, 200, "true");
    assert_null(content("npm"));
}

static void test_namespaces(void **state)
{
    (void)state;
    publish("dataId=ns&group=G&content=pub");
    publish("dataId=ns&group=G&content=dev&tenant=dev");
    const char *spell[] = {"", "&tenant=", "&tenant=public", "&tenant=null", "&tenant=PUBLIC"};
    for (size_t i = 0; i < 5; i++) {
        char *c = content_s(S, "ns", spell[i]);
        assert_string_equal(c, "pub");
        free(c);
    }
    char *c = content_s(S, "ns", "&tenant=dev");
    assert_string_equal(c, "dev");
    free(c);
    assert_null(content_s(S, "ns", "&tenant=test"));
    publish("dataId=ns&group=G&content=pub2&tenant=public");   /* the same config as tenant "" */
    c = content("ns");
    assert_string_equal(c, "pub2");
    free(c);
}

/* Every error of the catalogue, and nothing changed by any. */
static void test_errors_change_nothing(void **state)
{
    (void)state;
    publish("dataId=keep&group=G&content=kept");
    static char big[300];
    memset(big, 'a', 257);
    const struct { const char *form; long status; const char *body; } cases[] = {
        {"group=G&content=x", 400, "caused: Required request parameter 'dataId' for method parameter type String is not present;"},
        {"dataId=keep&content=x", 400, "caused: Required request parameter 'group' for method parameter type String is not present;"},
        {"dataId=keep&group=G", 400, "caused: Required request parameter 'content' for method parameter type String is not present;"},
        {"dataId=kee%2Fp&group=G&content=x", 400, "Param 'dataId' is illegal, illegal characters should not appear in the param."},
        {nm_fmt("dataId=%s&group=G&content=x", big), 400, "Param 'dataId' is illegal, length should not exceed 256."},
        {"dataId=keep&group=G+G&content=x", 400, "Param 'group' is illegal, illegal characters should not appear in the param."},
        {"dataId=keep&group=G&content=x&tenant=a.b", 400,
         "Param 'namespaceId/tenant' is illegal, illegal characters should not appear in the param."},
        {"dataId=keep&group=G&content=", 400, "caused: content is blank : ;"},
        {"dataId=keep&group=G&content=+%0A+", 400, "caused: content is blank : ;"},
        {"dataId=keep&group=G&content=a%00b", 400, "caused: Param 'content' contains a NUL byte;"},
        {"dataId=keep&group=G&content=a%C3%28", 400, "caused: invalid content: not valid UTF-8 at byte 1;"},
        {"dataId=keep&group=G&content=%ED%A0%80", 400, "caused: invalid content: not valid UTF-8 at byte 0;"},
        {"dataId=keep&group=G&content=x&config_tags=a,b,c,d,e,f", 400, "caused: too much config_tags, over 5;"},
        {"dataId=keep&group=G&content=x&tag=beta", 400,
         "caused: Param 'tag' is set: gray release ('tag' / 'betaIps') is not supported by nacos-mock;"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) expect("POST", CFG, cases[i].form, cases[i].status, cases[i].body);
    char desc[200];
    memset(desc, 'd', 129);
    desc[129] = '\0';
    expect("POST", CFG, nm_fmt("dataId=keep&group=G&content=x&desc=%s", desc), 400, "caused: too long desc, over 128;");
    /* betaIps is a header */
    struct nm_resp r;
    const char *beta[] = {"betaIps: 10.0.0.1", NULL};
    nm_http_h(S, "POST", CFG, "dataId=keep&group=G&content=x", NULL, NULL, beta, &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "'betaIps'"));
    nm_resp_free(&r);
    /* reads and removes validate too */
    expect("GET", CFG "?dataId=keep", NULL, 400,
           "caused: Required request parameter 'group' for method parameter type String is not present;");
    expect("DELETE", CFG "?dataId=ke%20ep&group=G", NULL, 400,
           "Param 'dataId' is illegal, illegal characters should not appear in the param.");
    expect("GET", CFG "?dataId=keep&group=G&tag=beta", NULL, 404, "config data not exist\n");   /* gray: none */
    char *c = content("keep");
    assert_string_equal(c, "kept");
    free(c);
}

/* 10 MiB + 1 byte is refused clearly (the body cap lets it through on this route); 10 MiB exactly
 * and 1 MB round-trip byte for byte; the 1 MiB cap stays everywhere else. */
static void test_big_contents(void **state)
{
    (void)state;
    size_t sizes[] = {1000000, 10u * 1024 * 1024, 10u * 1024 * 1024 + 1};
    for (size_t k = 0; k < 3; k++) {
        size_t n = sizes[k];
        char *content_raw = malloc(n + 1);
        for (size_t i = 0; i < n; i++) content_raw[i] = (char)('a' + i % 26);
        memcpy(content_raw + 10, "\xe4\xb8\xad \n\t%&+=", 10);   /* multi-byte, and what forms encode */
        content_raw[n] = '\0';
        /* form-encode it */
        char *form = malloc(n * 3 + 64);
        size_t o = (size_t)snprintf(form, 64, "dataId=big-%zu&group=G&content=", k);
        for (size_t i = 0; i < n; i++) {
            unsigned char ch = (unsigned char)content_raw[i];
            if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')) form[o++] = (char)ch;
            else o += (size_t)snprintf(form + o, 4, "%%%02X", ch);
        }
        form[o] = '\0';
        struct nm_resp r;
        req(S, "POST", CFG, form, &r);
        if (k < 2) {
            if (r.status != 200) fail_msg("publish of %zu bytes -> %ld %s", n, r.status, r.body);
            nm_resp_free(&r);
            req(S, "GET", nm_fmt(CFG "?dataId=big-%zu&group=G", k), NULL, &r);
            assert_int_equal(r.status, 200);
            assert_int_equal(r.len, n);
            assert_memory_equal(r.body, content_raw, n);
        } else {
            assert_int_equal(r.status, 400);
            assert_string_equal(r.body, "caused: invalid content, over 10485760;");
            nm_resp_free(&r);
            req(S, "GET", nm_fmt(CFG "?dataId=big-%zu&group=G", k), NULL, &r);
            assert_int_equal(r.status, 404);
        }
        nm_resp_free(&r);
        free(form);
        free(content_raw);
    }
    /* elsewhere the 1 MiB cap still holds */
    char *body = malloc(2 * 1024 * 1024);
    memset(body, 'a', 2 * 1024 * 1024 - 1);
    body[2 * 1024 * 1024 - 1] = '\0';
    memcpy(body, "serviceName=x&ip=1.2.3.4&port=1&metadata=", 41);
    struct nm_resp r;
    req(S, "POST", "/nacos/v1/ns/instance", body, &r);
    assert_int_equal(r.status, 413);
    nm_resp_free(&r);
    req(S, "DELETE", CFG, body, &r);   /* remove is not a large-body route */
    assert_int_equal(r.status, 413);
    nm_resp_free(&r);
    free(body);
}

static void test_cas(void **state)
{
    (void)state;
    struct nm_resp r;
    const char *h[] = {"casMd5: 00000000000000000000000000000000", NULL};
    nm_http_h(S, "POST", CFG, "dataId=cas&group=G&content=v1", NULL, NULL, h, &r);   /* absent: created */
    assert_int_equal(r.status, 200);
    nm_resp_free(&r);
    nm_http_h(S, "POST", CFG, "dataId=cas&group=G&content=v2", NULL, NULL, h, &r);
    assert_int_equal(r.status, 500);
    assert_string_equal(r.body, "caused: Cas publish fail, server md5 may have changed.;");
    nm_resp_free(&r);
    const char *good[] = {"casMd5: 6654c734ccab8f440ff0825eb443dc7f", NULL};   /* md5("v1") */
    nm_http_h(S, "POST", CFG, "dataId=cas&group=G&content=v2", NULL, NULL, good, &r);
    assert_int_equal(r.status, 200);
    nm_resp_free(&r);
    char *c = content("cas");
    assert_string_equal(c, "v2");
    free(c);
}

/* ---------------------------------------------------------------- search, detail, history, v2 */

static void test_search_and_detail(void **state)
{
    (void)state;
    for (int i = 0; i < 12; i++) publish(nm_fmt("dataId=srch-%02d.yaml&group=SG&content=c%d&appName=a%d", i, i, i % 2));
    publish("dataId=srch-00.yaml&group=SG&content=other&tenant=dev");
    cJSON *j = nm_get_json(S, CFG "?search=blur&dataId=srch-*&group=SG&pageNo=2&pageSize=5");
    assert_non_null(j);
    assert_int_equal(cJSON_GetObjectItem(j, "totalCount")->valueint, 12);
    assert_int_equal(cJSON_GetObjectItem(j, "pageNumber")->valueint, 2);
    assert_int_equal(cJSON_GetObjectItem(j, "pagesAvailable")->valueint, 3);
    cJSON *items = cJSON_GetObjectItem(j, "pageItems");
    assert_int_equal(cJSON_GetArraySize(items), 5);
    cJSON *it = cJSON_GetArrayItem(items, 0);
    assert_string_equal(cJSON_GetObjectItem(it, "dataId")->valuestring, "srch-05.yaml");
    assert_true(cJSON_IsString(cJSON_GetObjectItem(it, "id")));
    assert_string_equal(cJSON_GetObjectItem(it, "tenant")->valuestring, "");
    assert_string_equal(cJSON_GetObjectItem(it, "content")->valuestring, "c5");
    assert_string_equal(cJSON_GetObjectItem(it, "type")->valuestring, "text");
    assert_non_null(cJSON_GetObjectItem(it, "md5"));
    cJSON_Delete(j);
    j = nm_get_json(S, CFG "?search=accurate&dataId=&group=SG&appName=a1&pageNo=1&pageSize=10");
    assert_int_equal(cJSON_GetObjectItem(j, "totalCount")->valueint, 6);
    cJSON_Delete(j);
    j = nm_get_json(S, CFG "?search=accurate&dataId=srch-*&group=SG");   /* accurate: '*' is a character */
    assert_int_equal(cJSON_GetObjectItem(j, "totalCount")->valueint, 0);
    cJSON_Delete(j);
    j = nm_get_json(S, CFG "?search=accurate&dataId=srch-00.yaml&group=&tenant=dev");
    assert_int_equal(cJSON_GetObjectItem(j, "totalCount")->valueint, 1);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "pageItems"), 0), "tenant")->valuestring, "dev");
    cJSON_Delete(j);
    expect("GET", CFG "?search=blur&pageSize=501", NULL, 400, "caused: Param 'pageSize' must be from 1 to 500, got 501;");
    expect("GET", CFG "?search=blur&pageNo=x", NULL, 400, "caused: Param 'pageNo' is not a number: For input string: \"x\";");

    publish("dataId=detail&group=SG&content=d&desc=about&config_tags=t1,t2&src_user=alice");
    j = nm_get_json(S, CFG "?show=all&dataId=detail&group=SG");
    assert_string_equal(cJSON_GetObjectItem(j, "desc")->valuestring, "about");
    assert_string_equal(cJSON_GetObjectItem(j, "configTags")->valuestring, "t1,t2");
    assert_string_equal(cJSON_GetObjectItem(j, "createUser")->valuestring, "alice");
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(j, "createTime")));
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(j, "modifyTime")));
    cJSON_Delete(j);
    expect("GET", CFG "?show=all&dataId=nope&group=SG", NULL, 200, "");
}

static void test_history(void **state)
{
    (void)state;
    publish("dataId=hist&group=G&content=one&src_user=u1");
    publish("dataId=hist&group=G&content=two");
    expect("DELETE", CFG "?dataId=hist&group=G", NULL, 200, "true");
    cJSON *j = nm_get_json(S, "/nacos/v1/cs/history?search=accurate&dataId=hist&group=G&pageNo=1&pageSize=10");
    assert_non_null(j);
    assert_int_equal(cJSON_GetObjectItem(j, "totalCount")->valueint, 3);
    cJSON *items = cJSON_GetObjectItem(j, "pageItems");
    const char *ops[] = {"D", "U", "I"}, *contents[] = {"two", "one", "one"};
    for (int i = 0; i < 3; i++) {
        cJSON *it = cJSON_GetArrayItem(items, i);
        assert_string_equal(cJSON_GetObjectItem(it, "opType")->valuestring, ops[i]);
        assert_string_equal(cJSON_GetObjectItem(it, "content")->valuestring, contents[i]);
        assert_string_equal(cJSON_GetObjectItem(it, "srcIp")->valuestring, "127.0.0.1");
        assert_int_equal(cJSON_GetObjectItem(it, "lastId")->valueint, -1);
        assert_int_equal(strlen(cJSON_GetObjectItem(it, "createdTime")->valuestring), 28);   /* ...00.000+0000 */
    }
    char nid[32];
    snprintf(nid, sizeof nid, "%s", cJSON_GetObjectItem(cJSON_GetArrayItem(items, 2), "id")->valuestring);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(items, 2), "srcUser")->valuestring, "u1");
    cJSON_Delete(j);
    j = nm_get_json(S, nm_fmt("/nacos/v1/cs/history?nid=%s&dataId=hist&group=G", nid));
    assert_string_equal(cJSON_GetObjectItem(j, "opType")->valuestring, "I");
    cJSON_Delete(j);
    struct nm_resp r;
    req(S, "GET", nm_fmt("/nacos/v1/cs/history?nid=%s&dataId=other&group=G", nid), NULL, &r);
    assert_int_equal(r.status, 404);
    nm_resp_free(&r);
    req(S, "GET", "/nacos/v1/cs/history?nid=99999999", NULL, &r);
    assert_int_equal(r.status, 404);
    nm_resp_free(&r);
}

static void test_v2(void **state)
{
    (void)state;
    expect("POST", "/nacos/v2/cs/config", "dataId=v2&group=G&namespaceId=dev&content=hello", 200,
           "{\"code\":0,\"message\":\"success\",\"data\":true}");
    struct nm_resp r;
    req(S, "GET", "/nacos/v2/cs/config?dataId=v2&group=G&namespaceId=dev", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"code\":0,\"message\":\"success\",\"data\":\"hello\"}");
    char v[64];
    assert_string_equal(nm_resp_header(&r, "Content-Type", v, sizeof v), "application/json;charset=UTF-8");
    assert_string_equal(nm_resp_header(&r, "Content-MD5", v, sizeof v), "5d41402abc4b2a76b9719d911017c592");
    nm_resp_free(&r);
    char *c = content_s(S, "v2", "&tenant=dev");   /* one store for v1 and v2 */
    assert_string_equal(c, "hello");
    free(c);
    expect("GET", "/nacos/v2/cs/config?dataId=v2&group=G", NULL, 404,
           "{\"code\":20004,\"message\":\"resource not found\",\"data\":\"config data not exist\"}");
    expect("GET", "/nacos/v2/cs/config?dataId=v2", NULL, 400,
           "{\"code\":10000,\"message\":\"parameter missing\",\"data\":\"caused: Required request parameter 'group' for "
           "method parameter type String is not present;\"}");
    expect("POST", "/nacos/v2/cs/config", "dataId=v%2F2&group=G&content=x", 400,
           "{\"code\":20002,\"message\":\"parameter validate error\",\"data\":\"Param 'dataId' is illegal, illegal "
           "characters should not appear in the param.\"}");
    const char *h[] = {"casMd5: 1", NULL};
    nm_http_h(S, "POST", "/nacos/v2/cs/config", "dataId=v2&group=G&namespaceId=dev&content=x", NULL, NULL, h, &r);
    assert_int_equal(r.status, 500);
    assert_non_null(strstr(r.body, "\"code\":20005"));
    nm_resp_free(&r);
    expect("DELETE", "/nacos/v2/cs/config?dataId=v2&group=G&namespaceId=dev", NULL, 200,
           "{\"code\":0,\"message\":\"success\",\"data\":true}");
    assert_null(content_s(S, "v2", "&tenant=dev"));
}

/* ---------------------------------------------------------------- the listener */

static void test_listener_at_once(void **state)
{
    (void)state;
    publish("dataId=l1&group=G&content=v1");
    publish("dataId=l2&group=G&content=v1&tenant=dev");
    struct poll_call p;
    /* stale md5s: answered at once with every differing key (an absent config has md5 "") */
    poll_now(&p, "l1\2G\2stale\1l2\2G\2" "6654c734ccab8f440ff0825eb443dc7f\2dev\1nope\2G\2\1gone\2G\2x\1", "30000", NULL);
    assert_int_equal(p.status, 200);
    assert_string_equal(p.answer, "l1%02G%01gone%02G%01\n");
    assert_true(p.t1 - p.t0 < 5000);
    /* the tenant is echoed as spelled: "public" stays, "" is left out */
    poll_now(&p, "l1\2G\2stale\2public\1l1\2G\2stale\2\1", "30000", NULL);
    assert_string_equal(p.answer, "l1%02G%02public%01l1%02G%01\n");
    /* up to date, and no Long-Pulling-Timeout header, or No-Hangup: an empty answer at once */
    poll_now(&p, "l1\2G\2" "6654c734ccab8f440ff0825eb443dc7f\1", NULL, NULL);
    assert_int_equal(p.status, 200);
    assert_string_equal(p.answer, "");
    poll_now(&p, "l1\2G\2" "6654c734ccab8f440ff0825eb443dc7f\1", "30000", "Long-Pulling-Timeout-No-Hangup: true");
    assert_string_equal(p.answer, "");
    assert_true(p.t1 - p.t0 < 5000);
    /* the deadline: Long-Pulling-Timeout - 500 ms, then an empty answer */
    poll_now(&p, "l1\2G\2" "6654c734ccab8f440ff0825eb443dc7f\1", "700", NULL);
    assert_int_equal(p.status, 200);
    assert_string_equal(p.answer, "");
    assert_true(p.t1 - p.t0 >= 195);
    poll_now(&p, "l1\2G\2" "6654c734ccab8f440ff0825eb443dc7f\1", "0", NULL);   /* floor 0 */
    assert_string_equal(p.answer, "");
    /* URL-decoded once more, as Nacos does: %02 inside the decoded value is a separator too */
    struct nm_resp r;
    nm_http(S, "POST", LISTENER, "Listening-Configs=l1%2502G%2502stale%2501", NULL, NULL, &r);
    assert_string_equal(r.body, "l1%02G%01\n");
    nm_resp_free(&r);
    /* a trailing key without its terminator is no key */
    poll_now(&p, "l1\2G\2stale", NULL, NULL);
    assert_int_equal(p.status, 200);
    assert_string_equal(p.answer, "");
}

static void test_listener_malformed(void **state)
{
    (void)state;
    struct poll_call p;
    poll_now(&p, "a\2G\2m\2t\2x\1", "30000", NULL);
    assert_int_equal(p.status, 400);
    assert_non_null(strstr(p.answer, "more than 3 separators"));
    poll_now(&p, "a\2G\1", "30000", NULL);
    assert_int_equal(p.status, 400);
    assert_non_null(strstr(p.answer, "at least 2"));
    poll_now(&p, "a\1", "30000", NULL);
    assert_int_equal(p.status, 400);
    poll_now(&p, "a\2G\2m\1", "soon", NULL);
    assert_int_equal(p.status, 400);
    assert_non_null(strstr(p.answer, "Long-Pulling-Timeout"));
    poll_now(&p, "a\2G\2m\1", "-5", NULL);
    assert_int_equal(p.status, 400);
    expect("POST", LISTENER, "Listening-Configs=", 400, NULL);
    expect("POST", LISTENER, "tenant=x", 400,
           "caused: invalid probeModify: Param 'Listening-Configs' is missing or blank;");
    /* 10,001 keys */
    size_t cap = 10001 * 24 + 64, o = 0;
    char *body = malloc(cap);
    o += (size_t)snprintf(body, cap, "Listening-Configs=");
    for (int i = 0; i < 10001; i++) o += (size_t)snprintf(body + o, cap - o, "k%d%%02G%%02%%01", i);
    struct nm_resp r;
    nm_http(S, "POST", LISTENER, body, NULL, NULL, &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "more than 10000 keys"));
    nm_resp_free(&r);
    body[o - (sizeof "k10000%02G%02%01" - 1)] = '\0';   /* 10,000 exactly: fine */
    nm_http(S, "POST", LISTENER, body, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    nm_resp_free(&r);
    free(body);
    assert_int_equal(gauge(S), 0);
}

/* Held: a change of another key, and an identical publish, leave it held; a change of its key answers it. */
static void test_listener_held_until_change(void **state)
{
    (void)state;
    publish("dataId=w&group=G&content=v1");
    publish("dataId=other&group=G&content=v1");
    struct poll_call p = {.s = S};
    snprintf(p.body, sizeof p.body, "%s", lc("w\2G\2" "6654c734ccab8f440ff0825eb443dc7f\2null\1"));
    const char *h[] = {"Long-Pulling-Timeout: 60000", NULL};
    memcpy(p.headers, h, sizeof h);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, poll_main, &p), 0);
    wait_listeners(S, 1);
    publish("dataId=other&group=G&content=v2");   /* not its key */
    publish("dataId=w&group=G&content=v1");       /* its key, same content: no change */
    publish("dataId=w&group=G&content=v1&tenant=dev");   /* another namespace */
    /* still held: the gauge says 1 after all those were answered (each publish is done before the next) */
    assert_int_equal(gauge(S), 1);
    int64_t t = nm_mono_ms();
    publish("dataId=w&group=G&content=v2");
    pthread_join(th, NULL);
    assert_int_equal(p.status, 200);
    assert_string_equal(p.answer, "w%02G%02null%01\n");   /* "null" as spelled */
    assert_true(p.t1 - t < 2000);                          /* within moments, not at the 59.5 s deadline */
    assert_int_equal(gauge(S), 0);

    /* a removal is a change too; a v2 publish and a control-plane load wake v1 polls alike */
    const char *sources[][3] = {{"DELETE", CFG "?dataId=w&group=G", NULL},
                                {"POST", "/nacos/v2/cs/config", "dataId=w&group=G&content=v3"},
                                {"POST", "/__mock/registry", "{\"configs\":[{\"dataId\":\"w\",\"group\":\"G\",\"content\":\"v4\"}]}"}};
    for (int i = 0; i < 3; i++) {
        memset(&p, 0, sizeof p);
        p.s = S;
        /* listen with the current md5 ("" when absent) */
        struct nm_resp r;
        req(S, "GET", CFG "?dataId=w&group=G", NULL, &r);
        char md5[40] = "";
        if (r.status == 200) nm_resp_header(&r, "Content-MD5", md5, sizeof md5);
        nm_resp_free(&r);
        snprintf(p.body, sizeof p.body, "%s", lc(nm_fmt("w\2G\2%s\1", md5)));
        memcpy(p.headers, h, sizeof h);
        assert_int_equal(pthread_create(&th, NULL, poll_main, &p), 0);
        wait_listeners(S, 1);
        nm_http(S, sources[i][0], sources[i][1], sources[i][2],
                i == 2 ? "application/json" : NULL, NULL, &r);
        assert_int_equal(r.status, 200);
        nm_resp_free(&r);
        pthread_join(th, NULL);
        if (strcmp(p.answer, "w%02G%01\n")) fail_msg("source %d: answer '%s'", i, p.answer);
    }
}

/* A client that gives up is forgotten (its listener goes) well before its deadline. */
static void test_listener_client_gone(void **state)
{
    (void)state;
    publish("dataId=gone&group=G&content=v1");
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, nm_fmt("%s" LISTENER, S->base));
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, lc("gone\2G\2" "6654c734ccab8f440ff0825eb443dc7f\1"));
    struct curl_slist *h = curl_slist_append(NULL, "Long-Pulling-Timeout: 60000");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 300L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    assert_int_equal(curl_easy_perform(c), CURLE_OPERATION_TIMEDOUT);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    wait_listeners(S, 0);   /* the peer check runs every second */
    /* then journalled (just after the listener went) without a status, as a dropped connection */
    int64_t end = nm_mono_ms() + 10000;
    for (bool seen = false; !seen;) {
        cJSON *j = nm_get_json(S, "/__mock/requests?api=config.listen&limit=1");
        cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "requests"), 0);
        seen = cJSON_IsNull(cJSON_GetObjectItem(e, "status"));
        cJSON_Delete(j);
        if (!seen && nm_mono_ms() > end) fail_msg("no journal entry without a status for the abandoned poll");
        if (!seen) usleep(2000);
    }
}

/* ---------------------------------------------------------------- faults, journal, metrics, status */

static void add_fault(const struct nm_server *s, const char *rule)
{
    struct nm_resp r;
    nm_http(s, "POST", "/__mock/faults", rule, "application/json", NULL, &r);
    if (r.status != 201) fail_msg("fault %s -> %ld %s", rule, r.status, r.body);
    nm_resp_free(&r);
}

static void clear_faults(void)
{
    struct nm_resp r;
    nm_http(S, "DELETE", "/__mock/faults", NULL, NULL, NULL, &r);
    nm_resp_free(&r);
}

static void test_faults(void **state)
{
    (void)state;
    publish("dataId=f1&group=G&content=v1");
    /* a 500 on get, only for f1 */
    add_fault(S, "{\"match\":{\"api\":\"config.get\",\"dataId\":\"f1\"},\"action\":{\"status\":500}}");
    expect("GET", CFG "?dataId=f1&group=G", NULL, 500, "caused: nacos-mock injected fault 'fault-1' (HTTP 500);");
    expect("GET", CFG "?dataId=f2&group=G", NULL, 404, NULL);
    expect("GET", "/nacos/v2/cs/config?dataId=f1&group=G", NULL, 500, NULL);   /* v2 is config.get too */
    clear_faults();
    /* a faulted publish changes nothing; group and namespace match */
    add_fault(S, "{\"match\":{\"api\":\"config.publish\",\"group\":\"G\",\"namespaceId\":\"public\"},\"action\":{\"status\":503}}");
    expect("POST", CFG, "dataId=f1&group=G&content=v2", 503, NULL);
    expect("POST", CFG, "dataId=f1&group=H&content=v2", 200, "true");
    char *c = content("f1");
    assert_string_equal(c, "v1");
    free(c);
    clear_faults();
    /* config.listen: status answers at once; hang never answers and registers nothing */
    add_fault(S, "{\"match\":{\"api\":\"config.listen\",\"dataId\":\"f1\"},\"action\":{\"status\":500},\"times\":1}");
    struct poll_call p;
    poll_now(&p, "zz\2G\2\1f1\2G\2" "6654c734ccab8f440ff0825eb443dc7f\1", "30000", NULL);   /* f1 is its 2nd key */
    assert_int_equal(p.status, 500);
    poll_now(&p, "f2\2G\2x\1", "30000", NULL);   /* not its key: answered normally */
    assert_int_equal(p.status, 200);
    add_fault(S, "{\"id\":\"stuck\",\"match\":{\"api\":\"config.listen\"},\"action\":{\"drop\":\"hang\"},\"times\":1}");
    CURL *cu = curl_easy_init();
    curl_easy_setopt(cu, CURLOPT_URL, nm_fmt("%s" LISTENER, S->base));
    curl_easy_setopt(cu, CURLOPT_POSTFIELDS, lc("f1\2G\2stale\1"));   /* stale: would answer at once */
    curl_easy_setopt(cu, CURLOPT_TIMEOUT_MS, 500L);
    curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
    assert_int_equal(curl_easy_perform(cu), CURLE_OPERATION_TIMEDOUT);
    curl_easy_cleanup(cu);
    assert_int_equal(gauge(S), 0);
    /* delayMs delays the start of the poll: the journal's durationMs shows delay + hold */
    add_fault(S, "{\"id\":\"slow\",\"match\":{\"api\":\"config.listen\"},\"action\":{\"delayMs\":300},\"times\":1}");
    poll_now(&p, "f1\2G\2" "6654c734ccab8f440ff0825eb443dc7f\1", "800", NULL);   /* hold 300 ms */
    assert_int_equal(p.status, 200);
    assert_true(p.t1 - p.t0 >= 590);
    cJSON *j = nm_get_json(S, "/__mock/requests?api=config.listen&limit=1");
    cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "requests"), 0);
    assert_string_equal(cJSON_GetObjectItem(e, "fault")->valuestring, "slow");
    assert_true(cJSON_GetObjectItem(e, "durationMs")->valuedouble >= 590);
    assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "params"), "Listening-Configs"));
    cJSON_Delete(j);
    clear_faults();
    /* a rule for a push takes only drop / delayMs */
    struct nm_resp r;
    nm_http(S, "POST", "/__mock/faults", "{\"match\":{\"api\":\"config.push\"},\"action\":{\"status\":500}}",
            "application/json", NULL, &r);
    assert_int_equal(r.status, 400);
    nm_resp_free(&r);
}

static void test_journal_and_metrics(void **state)
{
    (void)state;
    publish("dataId=jm&group=G&content=journal%20me");
    cJSON *j = nm_get_json(S, "/__mock/requests?api=config.publish&limit=1");
    cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "requests"), 0);
    cJSON *params = cJSON_GetObjectItem(e, "params");
    assert_string_equal(cJSON_GetObjectItem(params, "dataId")->valuestring, "jm");
    assert_string_equal(cJSON_GetObjectItem(params, "content")->valuestring, "journal me");
    assert_string_equal(cJSON_GetObjectItem(e, "path")->valuestring, CFG);
    cJSON_Delete(j);
    assert_true(nm_metric(S, "nacos_mock_requests_total{api=\"config.publish\",status=\"200\",transport=\"http\"} ") >= 1);
    assert_true(nm_metric(S, "nacos_mock_config_pushes_total ") == 0);
    assert_true(nm_metric(S, "nacos_mock_config_listeners{transport=\"grpc\"} ") == 0);
    /* the search API name */
    struct nm_resp r;
    req(S, "GET", CFG "?search=blur&dataId=jm", NULL, &r);
    nm_resp_free(&r);
    assert_true(nm_metric(S, "nacos_mock_requests_total{api=\"config.search\",status=\"200\",transport=\"http\"} ") >= 1);
}

static void test_server_status(void **state)
{
    (void)state;
    publish("dataId=st&group=G&content=x");
    struct nm_resp r;
    nm_http(S, "PUT", "/__mock/status", "{\"status\":\"READ_ONLY\"}", "application/json", NULL, &r);
    nm_resp_free(&r);
    expect("POST", CFG, "dataId=st&group=G&content=y", 503, "server is READ_ONLY now, please try again later!");
    expect("GET", CFG "?dataId=st&group=G", NULL, 200, "x");
    nm_http(S, "PUT", "/__mock/status", "{\"status\":\"DOWN\"}", "application/json", NULL, &r);
    nm_resp_free(&r);
    expect("GET", CFG "?dataId=st&group=G", NULL, 503, NULL);
    nm_http(S, "PUT", "/__mock/status", "{\"status\":\"UP\"}", "application/json", NULL, &r);
    nm_resp_free(&r);
}

/* ---------------------------------------------------------------- snapshot, fixtures, reset */

static void test_snapshot_fixtures_reset(void **state)
{
    (void)state;
    char path[] = "/tmp/nm-config-fixtures-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *fix = "{\"configs\":[{\"dataId\":\"app.yaml\",\"content\":\"port: 8080\\n\",\"type\":\"yaml\"},"
                      "{\"namespaceId\":\"dev\",\"group\":\"APP\",\"dataId\":\"db.properties\",\"content\":\"url=x\"}]}";
    assert_int_equal(write(fd, fix, strlen(fix)), (ssize_t)strlen(fix));
    close(fd);
    const char *args[] = {"--fixtures", path, "--quiet", NULL};
    struct nm_server *s = nm_test_start(args);
    struct nm_resp r;
    nm_http(s, "GET", CFG "?dataId=app.yaml&group=DEFAULT_GROUP", NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "port: 8080\n");
    nm_resp_free(&r);

    cJSON *snap = nm_get_json(s, "/__mock/registry");
    cJSON *configs = cJSON_GetObjectItem(snap, "configs");
    assert_int_equal(cJSON_GetArraySize(configs), 2);
    cJSON *c0 = cJSON_GetArrayItem(configs, 0);   /* sorted by namespace: dev first */
    assert_string_equal(cJSON_GetObjectItem(c0, "namespaceId")->valuestring, "dev");
    assert_string_equal(cJSON_GetObjectItem(c0, "group")->valuestring, "APP");
    cJSON *c1 = cJSON_GetArrayItem(configs, 1);
    assert_int_equal(strlen(cJSON_GetObjectItem(c1, "md5")->valuestring), 32);
    assert_string_equal(cJSON_GetObjectItem(c1, "type")->valuestring, "yaml");
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(c1, "lastModifiedMs")));
    cJSON_Delete(snap);

    /* all or nothing, the bad entry named */
    nm_http(s, "POST", "/__mock/registry",
            "{\"configs\":[{\"dataId\":\"ok\",\"content\":\"1\"},{\"dataId\":\"b/d\",\"content\":\"2\"}]}",
            "application/json", NULL, &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "configs[1].dataId"));
    nm_resp_free(&r);
    nm_http(s, "POST", "/__mock/registry", "{\"configs\":[{\"dataId\":\"ok\"}]}", "application/json", NULL, &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "configs[0].content"));
    nm_resp_free(&r);
    nm_http(s, "GET", CFG "?dataId=ok&group=DEFAULT_GROUP", NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 404);
    nm_resp_free(&r);
    nm_http(s, "POST", "/__mock/registry", "{\"configs\":[{\"dataId\":\"ok\",\"content\":\"1\"}]}", "application/json",
            NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"services\":0,\"instances\":0,\"configs\":1}");
    nm_resp_free(&r);
    /* forget leaves configs alone */
    nm_http(s, "POST", "/__mock/forget", NULL, NULL, NULL, &r);
    nm_resp_free(&r);
    nm_http(s, "GET", CFG "?dataId=ok&group=DEFAULT_GROUP", NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    nm_resp_free(&r);
    /* reset: back to the fixtures' configs, and a poll on a config that goes is answered */
    publish_s(s, "dataId=app.yaml&group=DEFAULT_GROUP&content=changed", 200);
    struct poll_call p = {.s = s};
    snprintf(p.body, sizeof p.body, "%s", lc("ok\2DEFAULT_GROUP\2" "c4ca4238a0b923820dcc509a6f75849b\1"));   /* md5("1") */
    const char *h[] = {"Long-Pulling-Timeout: 60000", NULL};
    memcpy(p.headers, h, sizeof h);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, poll_main, &p), 0);
    wait_listeners(s, 1);
    nm_http(s, "POST", "/__mock/reset", NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    nm_resp_free(&r);
    pthread_join(th, NULL);
    assert_string_equal(p.answer, "ok%02DEFAULT_GROUP%01\n");
    nm_http(s, "GET", CFG "?dataId=app.yaml&group=DEFAULT_GROUP", NULL, NULL, NULL, &r);
    assert_string_equal(r.body, "port: 8080\n");
    nm_resp_free(&r);
    nm_http(s, "GET", CFG "?dataId=ok&group=DEFAULT_GROUP", NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 404);
    nm_resp_free(&r);
    nm_test_stop(s);
    unlink(path);
}

/* ---------------------------------------------------------------- 1,000 held polls */

/* Raw sockets: 1,000 polls held at once (each its own connection), all answered by one publish. */
static void test_thousand_polls(void **state)
{
    (void)state;
    enum { N = 1000 };
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < N + 64) {
        rl.rlim_cur = rl.rlim_max < N + 64 ? rl.rlim_max : N + 64;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < N + 64) skip();
    }
    publish("dataId=many&group=G&content=v1");
    const char *form = lc("many\2G\2" "6654c734ccab8f440ff0825eb443dc7f\1");
    char reqbuf[512];
    int reqlen = snprintf(reqbuf, sizeof reqbuf,
                          "POST " LISTENER " HTTP/1.1\r\nHost: 127.0.0.1\r\nLong-Pulling-Timeout: 120000\r\n"
                          "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %zu\r\n\r\n%s",
                          strlen(form), form);
    int *fds = calloc(N, sizeof *fds);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)S->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int i = 0; i < N; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(fds[i] >= 0);
        if (connect(fds[i], (struct sockaddr *)&a, sizeof a)) fail_msg("connect %d: %s", i, strerror(errno));
        assert_int_equal(write(fds[i], reqbuf, (size_t)reqlen), reqlen);
    }
    wait_listeners(S, N);
    publish("dataId=many&group=G&content=v2");
    int answered = 0;
    int64_t end = nm_mono_ms() + 20000;
    char buf[2048];
    bool *done = calloc(N, sizeof *done);
    while (answered < N && nm_mono_ms() < end) {
        for (int i = 0; i < N; i++) {
            if (done[i]) continue;
            struct pollfd pf = {.fd = fds[i], .events = POLLIN};
            if (poll(&pf, 1, 0) != 1) continue;
            ssize_t n = read(fds[i], buf, sizeof buf - 1);
            if (n <= 0) fail_msg("poll %d: connection closed without an answer", i);
            buf[n] = '\0';
            if (!strstr(buf, "200 OK") || !strstr(buf, "many%02G%01")) fail_msg("poll %d answered: %s", i, buf);
            done[i] = true;
            answered++;
        }
        if (answered < N) usleep(1000);
    }
    assert_int_equal(answered, N);
    for (int i = 0; i < N; i++) close(fds[i]);
    free(done);
    free(fds);
    wait_listeners(S, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publish_get_headers),
        cmocka_unit_test(test_namespaces),
        cmocka_unit_test(test_errors_change_nothing),
        cmocka_unit_test(test_big_contents),
        cmocka_unit_test(test_cas),
        cmocka_unit_test(test_search_and_detail),
        cmocka_unit_test(test_history),
        cmocka_unit_test(test_v2),
        cmocka_unit_test(test_listener_at_once),
        cmocka_unit_test(test_listener_malformed),
        cmocka_unit_test(test_listener_held_until_change),
        cmocka_unit_test(test_listener_client_gone),
        cmocka_unit_test(test_faults),
        cmocka_unit_test(test_journal_and_metrics),
        cmocka_unit_test(test_server_status),
        cmocka_unit_test_teardown(test_snapshot_fixtures_reset, nm_test_teardown),
        cmocka_unit_test(test_thousand_polls),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
