/*
 * test_cs_core.c — unit tests of the config core (server/cs_core.c) with no transport at all: the
 * validation catalogue (every field named, nothing changed), MD5 rules (lowercase hex of the bytes,
 * "" when absent, identical content is no change), namespace spellings, CAS, gray release, history,
 * byte-exact contents, search paging, batches all or nothing, clear, and what listeners see: polls
 * woken and connections pushed on a change from any caller, the change hook with its transport.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nacos_mock/cs_core.h"
#include "nacos_mock/md5.h"

#define T0 INT64_C(1700000000000)

static int setup(void **state)
{
    char err[256];
    struct cs_core *cs = cs_core_new(":memory:", err, sizeof err);
    if (!cs) fprintf(stderr, "cs_core_new: %s\n", err);
    *state = cs;
    return cs ? 0 : -1;
}

static int teardown(void **state)
{
    cs_core_free(*state);
    return 0;
}

static struct cs_publish pub(const char *data_id, const char *group, const char *tenant, const char *content)
{
    return (struct cs_publish){.key = {data_id, group, tenant}, .content = content,
                               .content_len = content ? strlen(content) : 0, .src_ip = "127.0.0.1"};
}

static enum cs_status put(struct cs_core *cs, const char *data_id, const char *content, struct cs_publish_result *r)
{
    struct cs_error err;
    struct cs_publish p = pub(data_id, "G", NULL, content);
    enum cs_status st = cs_publish(cs, &p, "http", T0, r, &err);
    if (st) fprintf(stderr, "publish %s: %s (%s)\n", data_id, err.msg, err.field);
    return st;
}

static char *get_content(struct cs_core *cs, const char *data_id, const char *tenant)
{
    struct cs_key k = {data_id, "G", tenant};
    struct config_rec r;
    struct cs_error err;
    if (cs_get(cs, &k, NULL, &r, &err)) return NULL;
    char *s = strdup(r.content);
    cs_config_free(&r);
    return s;
}

/* ---------------------------------------------------------------- validation */

struct bad_case {
    struct cs_publish p;
    enum cs_status st;
    const char *field, *msg;
    bool caused;
};

static void test_validation_catalogue(void **state)
{
    struct cs_core *cs = *state;
    static char long_id[300], long_desc[200], big_tags[100];
    memset(long_id, 'a', 257);
    memset(long_desc, 'd', 129);
    snprintf(big_tags, sizeof big_tags, "a,b,c,d,e,f");
    const char bad_utf8[] = "ok \xc3\x28 no", overlong[] = "\xc0\xaf", surrogate[] = "\xed\xa0\x80";
    const char nul[] = "a\0b";
    struct bad_case cases[] = {
        {pub(NULL, "G", NULL, "c"), CS_MISSING, "dataId",
         "Required request parameter 'dataId' for method parameter type String is not present", true},
        {pub("  ", "G", NULL, "c"), CS_MISSING, "dataId", NULL, true},
        {pub("d", "", NULL, "c"), CS_MISSING, "group", NULL, true},
        {pub("d", "G", NULL, NULL), CS_MISSING, "content", NULL, true},
        {pub("d/x", "G", NULL, "c"), CS_INVALID, "dataId",
         "Param 'dataId' is illegal, illegal characters should not appear in the param.", false},
        {pub(long_id, "G", NULL, "c"), CS_INVALID, "dataId", "Param 'dataId' is illegal, length should not exceed 256.", false},
        {pub("d", "G G", NULL, "c"), CS_INVALID, "group", NULL, false},
        {pub("d", "G", "dev.1", "c"), CS_INVALID, "tenant",
         "Param 'namespaceId/tenant' is illegal, illegal characters should not appear in the param.", false},
        {pub("d", "G", NULL, ""), CS_INVALID, "content", "content is blank : ", true},
        {pub("d", "G", NULL, " \n\t "), CS_INVALID, "content", "content is blank : ", true},
        {pub("d", "G", NULL, bad_utf8), CS_INVALID, "content", "invalid content: not valid UTF-8 at byte 3", true},
        {pub("d", "G", NULL, overlong), CS_INVALID, "content", NULL, true},
        {pub("d", "G", NULL, surrogate), CS_INVALID, "content", NULL, true},
        {{.key = {"d", "G", NULL}, .content = nul, .content_len = 3}, CS_INVALID, "content",
         "invalid content: a NUL byte at byte 1", true},
        {{.key = {"d", "G", NULL}, .content = "c", .content_len = CS_CONTENT_MAX + 1}, CS_INVALID, "content",
         "invalid content, over 10485760", true},
        {{.key = {"d", "G", NULL}, .content = "c", .content_len = 1, .desc = long_desc}, CS_INVALID, "desc",
         "too long desc, over 128", true},
        {{.key = {"d", "G", NULL}, .content = "c", .content_len = 1, .config_tags = big_tags}, CS_INVALID,
         "config_tags", "too much config_tags, over 5", true},
        {{.key = {"d", "G", NULL}, .content = "c", .content_len = 1, .app_name = bad_utf8}, CS_INVALID, "appName", NULL, true},
        {{.key = {"d", "G", NULL}, .content = "c", .content_len = 1, .tag = "beta"}, CS_INVALID, "tag", NULL, true},
        {{.key = {"d", "G", NULL}, .content = "c", .content_len = 1, .beta_ips = "1.2.3.4"}, CS_INVALID, "betaIps", NULL, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct cs_error err;
        struct bad_case *c = &cases[i];
        enum cs_status st = cs_publish(cs, &c->p, "http", T0, NULL, &err);
        if (st != c->st || strcmp(err.field, c->field) || (c->msg && strcmp(err.msg, c->msg)) || err.caused != c->caused)
            fail_msg("case %zu: status %d field '%s' msg '%s' caused %d", i, st, err.field, err.msg, err.caused);
        if (!strstr(err.msg, c->field)) fail_msg("case %zu: the message '%s' does not name '%s'", i, err.msg, c->field);
    }
    /* nothing was written */
    long total = -1;
    struct cs_error err;
    struct cs_search q = {.page_no = 1, .page_size = 10};
    assert_int_equal(cs_search(cs, &q, NULL, NULL, &total, &err), CS_OK);
    assert_int_equal(total, 0);
    /* limits themselves pass; an unknown type is stored as text */
    memset(long_id, 'a', 256);
    long_id[256] = '\0';
    memset(long_desc, 'd', 128);
    long_desc[128] = '\0';
    struct cs_publish okp = pub(long_id, "G", "dev_1-x", "\xe4\xb8\xad");
    okp.desc = long_desc;
    okp.config_tags = "a,b,c,d,e";
    okp.type = "exe";
    assert_int_equal(cs_publish(cs, &okp, "http", T0, NULL, &err), CS_OK);
    struct config_rec r;
    struct cs_key k = {long_id, "G", "dev_1-x"};
    assert_int_equal(cs_get(cs, &k, NULL, &r, &err), CS_OK);
    assert_string_equal(r.type, "text");
    assert_string_equal(r.tags, "a,b,c,d,e");
    cs_config_free(&r);
}

static void test_pure_rules(void **state)
{
    (void)state;
    assert_string_equal(cs_namespace(NULL), "public");
    assert_string_equal(cs_namespace(""), "public");
    assert_string_equal(cs_namespace("PUBLIC"), "public");
    assert_string_equal(cs_namespace("Null"), "public");
    assert_string_equal(cs_namespace("dev"), "dev");
    assert_string_equal(cs_type("yaml"), "yaml");
    assert_string_equal(cs_type("YAML"), "text");
    assert_string_equal(cs_type(NULL), "text");
    size_t at = 0;
    assert_true(cs_utf8_valid("a\xf0\x9f\x98\x80", 5, &at));
    assert_false(cs_utf8_valid("a\xf0\x9f\x98", 4, &at));   /* truncated */
    assert_int_equal(at, 1);
    assert_false(cs_utf8_valid("\xf4\x90\x80\x80", 4, &at));   /* past U+10FFFF */
    assert_false(cs_utf8_valid("\xff", 1, &at));
}

/* ---------------------------------------------------------------- md5, namespaces, CAS */

static void test_md5_rules(void **state)
{
    struct cs_core *cs = *state;
    struct cs_publish_result r;
    assert_int_equal(put(cs, "a", "hello", &r), CS_OK);
    assert_string_equal(r.md5, "5d41402abc4b2a76b9719d911017c592");   /* md5("hello") */
    assert_true(r.created && r.changed);
    assert_int_equal(put(cs, "a", "hello", &r), CS_OK);   /* identical: updated, no change */
    assert_false(r.created || r.changed);
    assert_int_equal(put(cs, "a", "\xe4\xb8\xad", &r), CS_OK);   /* UTF-8 bytes hashed */
    assert_true(r.changed);
    assert_string_equal(r.md5, "aed1dfbc31703955e64806b799b67645");
    struct cs_listen_key keys[] = {{"a", "G", NULL, "aed1dfbc31703955e64806b799b67645"},
                                   {"a", "G", "public", "5d41402abc4b2a76b9719d911017c592"},
                                   {"nope", "G", NULL, ""}, {"nope", "G", NULL, NULL}, {"nope", "G", NULL, "x"}};
    bool changed[5];
    size_t n = 0;
    struct cs_error err;
    assert_int_equal(cs_compare(cs, keys, 5, changed, &n, &err), CS_OK);
    assert_false(changed[0]);
    assert_true(changed[1]);
    assert_false(changed[2]);   /* absent config: md5 "" */
    assert_false(changed[3]);
    assert_true(changed[4]);
    assert_int_equal(n, 2);
}

static void test_namespaces(void **state)
{
    struct cs_core *cs = *state;
    struct cs_error err;
    struct cs_publish p = pub("a", "G", "", "in public");
    assert_int_equal(cs_publish(cs, &p, "http", T0, NULL, &err), CS_OK);
    p = pub("a", "G", "dev", "in dev");
    assert_int_equal(cs_publish(cs, &p, "http", T0, NULL, &err), CS_OK);
    const char *spellings[] = {NULL, "", "public", "PUBLIC", "null"};
    for (size_t i = 0; i < 5; i++) {
        char *c = get_content(cs, "a", spellings[i]);
        assert_string_equal(c, "in public");
        free(c);
    }
    char *c = get_content(cs, "a", "dev");
    assert_string_equal(c, "in dev");
    free(c);
    assert_null(get_content(cs, "a", "test"));
}

static void test_cas(void **state)
{
    struct cs_core *cs = *state;
    struct cs_error err;
    struct cs_publish p = pub("a", "G", NULL, "v1");
    p.cas_md5 = "whatever";   /* absent: created whatever casMd5 says */
    assert_int_equal(cs_publish(cs, &p, "http", T0, NULL, &err), CS_OK);
    p = pub("a", "G", NULL, "v2");
    p.cas_md5 = "0000";
    assert_int_equal(cs_publish(cs, &p, "http", T0, NULL, &err), CS_CONFLICT);
    assert_string_equal(err.msg, "Cas publish fail, server md5 may have changed.");
    char *c = get_content(cs, "a", NULL);
    assert_string_equal(c, "v1");
    free(c);
    char md5[33];
    md5_hex("v1", 2, md5);
    p.cas_md5 = md5;
    assert_int_equal(cs_publish(cs, &p, "http", T0, NULL, &err), CS_OK);
    c = get_content(cs, "a", NULL);
    assert_string_equal(c, "v2");
    free(c);
    p.cas_md5 = " ";   /* blank: unconditional */
    p.content = "v3";
    assert_int_equal(cs_publish(cs, &p, "http", T0, NULL, &err), CS_OK);
}

static void test_gray_release(void **state)
{
    struct cs_core *cs = *state;
    assert_int_equal(put(cs, "a", "x", NULL), CS_OK);
    struct cs_key k = {"a", "G", NULL};
    struct config_rec r;
    struct cs_error err;
    assert_int_equal(cs_get(cs, &k, "beta", &r, &err), CS_NOT_FOUND);
    bool removed = true;
    assert_int_equal(cs_remove(cs, &k, "beta", NULL, NULL, "http", T0, &removed, &err), CS_OK);
    assert_false(removed);
    assert_int_equal(cs_get(cs, &k, NULL, &r, &err), CS_OK);
    cs_config_free(&r);
}

/* Contents come back byte for byte: never trimmed, 1 MB and 10 MiB exactly. */
static void test_byte_exact(void **state)
{
    struct cs_core *cs = *state;
    const char *edgy = "  \r\n leading and trailing \t\n";
    assert_int_equal(put(cs, "ws", edgy, NULL), CS_OK);
    char *c = get_content(cs, "ws", NULL);
    assert_string_equal(c, edgy);
    free(c);
    size_t sizes[] = {1024 * 1024, CS_CONTENT_MAX};
    for (size_t s = 0; s < 2; s++) {
        size_t n = sizes[s];
        char *big = malloc(n + 1);
        for (size_t i = 0; i < n; i++) big[i] = (char)('!' + (i * 7) % 90);
        memcpy(big + n / 2, "\xe4\xb8\xad", 3);
        big[n] = '\0';
        struct cs_publish p = pub("big", "G", NULL, big);
        struct cs_error err;
        struct cs_publish_result res;
        assert_int_equal(cs_publish(cs, &p, "http", T0, &res, &err), CS_OK);
        char md5[33];
        md5_hex(big, n, md5);
        assert_string_equal(res.md5, md5);
        struct cs_key k = {"big", "G", NULL};
        struct config_rec r;
        assert_int_equal(cs_get(cs, &k, NULL, &r, &err), CS_OK);
        assert_int_equal(r.content_len, n);
        assert_memory_equal(r.content, big, n);
        assert_string_equal(r.md5, md5);
        cs_config_free(&r);
        free(big);
    }
}

/* ---------------------------------------------------------------- history, search, batches */

struct hist { char s[8][48]; int n; int64_t first_nid; };

static int on_hist(void *ctx, const struct config_history_rec *h)
{
    struct hist *x = ctx;
    if (!x->n) x->first_nid = h->id;
    if (x->n < 8) snprintf(x->s[x->n], sizeof x->s[0], "%s:%s:%s", h->op_type, h->content, h->src_ip);
    x->n++;
    return 0;
}

static void test_history(void **state)
{
    struct cs_core *cs = *state;
    struct cs_error err;
    assert_int_equal(put(cs, "a", "one", NULL), CS_OK);
    assert_int_equal(put(cs, "a", "two", NULL), CS_OK);
    struct cs_key k = {"a", "G", NULL};
    assert_int_equal(cs_remove(cs, &k, NULL, "10.1.1.1", NULL, "http", T0, NULL, &err), CS_OK);
    assert_int_equal(cs_remove(cs, &k, NULL, "10.1.1.1", NULL, "http", T0, NULL, &err), CS_OK);   /* absent: no entry */
    struct hist h = {0};
    long total = 0;
    assert_int_equal(cs_history(cs, &k, 1, 10, on_hist, &h, &total, &err), CS_OK);
    assert_int_equal(total, 3);
    assert_string_equal(h.s[0], "D:two:10.1.1.1");
    assert_string_equal(h.s[1], "U:one:127.0.0.1");
    assert_string_equal(h.s[2], "I:one:127.0.0.1");
    struct hist one = {0};
    assert_int_equal(cs_history_get(cs, h.first_nid, &k, on_hist, &one, &err), CS_OK);
    assert_int_equal(one.n, 1);
    struct cs_key other = {"b", "G", NULL};
    assert_int_equal(cs_history_get(cs, h.first_nid, &other, on_hist, &one, &err), CS_NOT_FOUND);   /* not its key */
    assert_int_equal(cs_history_get(cs, 424242, NULL, on_hist, &one, &err), CS_NOT_FOUND);
    assert_int_equal(cs_history(cs, &k, 0, 10, on_hist, &h, &total, &err), CS_INVALID);
    assert_string_equal(err.field, "pageNo");
    assert_int_equal(cs_history(cs, &k, 1, 501, on_hist, &h, &total, &err), CS_INVALID);
    assert_string_equal(err.field, "pageSize");
}

static int count_rows(void *ctx, const struct config_rec *r)
{
    (void)r;
    (*(int *)ctx)++;
    return 0;
}

static void test_search_pages(void **state)
{
    struct cs_core *cs = *state;
    char id[16];
    for (int i = 0; i < 25; i++) {
        snprintf(id, sizeof id, "svc%02d.yaml", i);
        assert_int_equal(put(cs, id, "x", NULL), CS_OK);
    }
    struct cs_error err;
    int rows = 0;
    long total = 0;
    struct cs_search q = {.data_id = "svc1*", .blur = true, .page_no = 1, .page_size = 5};
    assert_int_equal(cs_search(cs, &q, count_rows, &rows, &total, &err), CS_OK);
    assert_int_equal(total, 10);
    assert_int_equal(rows, 5);
    rows = 0;
    q.page_no = 3;   /* past the end */
    assert_int_equal(cs_search(cs, &q, count_rows, &rows, &total, &err), CS_OK);
    assert_int_equal(rows, 0);
    q = (struct cs_search){.tenant = "dev", .page_no = 1, .page_size = 10};
    assert_int_equal(cs_search(cs, &q, count_rows, &rows, &total, &err), CS_OK);
    assert_int_equal(total, 0);
    q = (struct cs_search){.tenant = "bad tenant", .page_no = 1, .page_size = 10};
    assert_int_equal(cs_search(cs, &q, count_rows, &rows, &total, &err), CS_INVALID);
    assert_string_equal(err.field, "tenant");
}

static void test_publish_many_all_or_nothing(void **state)
{
    struct cs_core *cs = *state;
    struct cs_publish v[] = {pub("a", "G", NULL, "1"), pub("b/c", "G", NULL, "2"), pub("c", "G", NULL, "3")};
    struct cs_error err;
    assert_int_equal(cs_publish_many(cs, v, 3, "control", T0, &err), CS_INVALID);
    assert_string_equal(err.field, "[1].dataId");
    assert_null(get_content(cs, "a", NULL));
    v[1] = pub("b", "G", NULL, "2");
    assert_int_equal(cs_publish_many(cs, v, 3, "control", T0, &err), CS_OK);
    char *c = get_content(cs, "c", NULL);
    assert_string_equal(c, "3");
    free(c);
}

/* ---------------------------------------------------------------- listeners and the change hook */

struct seen {
    char v[16][128];
    int n;
};

static void on_change(void *ctx, const struct cs_change *c)
{
    struct seen *s = ctx;
    if (s->n < 16)
        snprintf(s->v[s->n], sizeof s->v[0], "%s %s/%s/%s %.8s %s", c->action, c->ns, c->group, c->data_id, c->md5,
                 c->transport);
    s->n++;
}

static void on_push(void *ctx, uint64_t conn, const char *data_id, const char *group, const char *tenant)
{
    struct seen *s = ctx;
    if (s->n < 16) snprintf(s->v[s->n], sizeof s->v[0], "%llu %s %s [%s]", (unsigned long long)conn, data_id, group, tenant);
    s->n++;
}

static void on_wake(void *ctx) { (*(int *)ctx)++; }

static void test_changes_reach_listeners(void **state)
{
    struct cs_core *cs = *state;
    struct seen events = {0}, pushes = {0};
    cs_set_change_hook(cs, on_change, &events);
    cs_listen_set_push_hook(cs_listeners(cs), on_push, &pushes);
    struct cs_error err;
    /* a connection listens ("" spelling) to a config that does not exist yet: md5 "" is no change */
    struct cs_listen_key lk[] = {{"a", "G", "", ""}, {"b", "G", "public", "stale"}};
    bool changed[2];
    size_t n = 0;
    assert_int_equal(cs_listen_batch(cs, 42, true, lk, 2, changed, &n, &err), CS_OK);
    assert_int_equal(n, 1);
    assert_false(changed[0]);
    assert_true(changed[1]);
    int woken = 0;
    struct cs_listen_key pk[] = {{"a", "G", NULL, ""}};
    struct cs_poll *poll = cs_listen_poll_add(cs_listeners(cs), pk, 1, on_wake, &woken);

    assert_int_equal(put(cs, "a", "v1", NULL), CS_OK);
    assert_int_equal(woken, 1);
    assert_int_equal(pushes.n, 1);
    assert_string_equal(pushes.v[0], "42 a G []");
    assert_int_equal(events.n, 1);
    assert_string_equal(events.v[0], "published public/G/a 6654c734 http");
    assert_int_equal(put(cs, "a", "v1", NULL), CS_OK);   /* identical: nobody told */
    assert_int_equal(pushes.n, 1);
    assert_int_equal(events.n, 1);
    assert_int_equal(cs_listen_poll_end(cs_listeners(cs), poll, NULL), 1);

    struct cs_key k = {"a", "G", "null"};
    assert_int_equal(cs_remove(cs, &k, NULL, NULL, NULL, "grpc", T0, NULL, &err), CS_OK);
    assert_int_equal(pushes.n, 2);
    assert_string_equal(events.v[1], "removed public/G/a  grpc");
    struct cs_publish b = pub("b", "G", NULL, "x");
    assert_int_equal(cs_publish_many(cs, &b, 1, "control", T0, &err), CS_OK);
    assert_int_equal(pushes.n, 3);
    assert_string_equal(pushes.v[2], "42 b G [public]");   /* its own spelling */
    assert_int_equal(cs_clear(cs, "control", &err), CS_OK);   /* b was there: removed, pushed */
    assert_int_equal(pushes.n, 4);
    assert_string_equal(events.v[events.n - 1], "removed public/G/b  control");
    assert_int_equal(cs_listen_batch(cs, 42, false, lk, 2, changed, &n, &err), CS_OK);
    assert_int_equal(put(cs, "a", "v2", NULL), CS_OK);
    assert_int_equal(pushes.n, 4);   /* unregistered */
    cs_set_change_hook(cs, NULL, NULL);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_validation_catalogue),
        T(test_pure_rules),
        T(test_md5_rules),
        T(test_namespaces),
        T(test_cas),
        T(test_gray_release),
        T(test_byte_exact),
        T(test_history),
        T(test_search_pages),
        T(test_publish_many_all_or_nothing),
        T(test_changes_reach_listeners),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
