/*
 * test_cs_listen.c — unit tests of the config listener registry (server/cs_listen.c): v1 polls
 * (woken once at the first change of any key, changed flags by key, namespace spellings matched
 * together), connection listeners (added once per spelling, removed, dropped with their connection,
 * pushed with their own spelling through the hook, which runs outside the lock), statistics, and a
 * 10,000-key poll against a model.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nacos_mock/cs_listen.h"

static void on_wake(void *ctx) { (*(int *)ctx)++; }

static void test_poll_woken_once(void **state)
{
    (void)state;
    struct cs_listen *l = cs_listen_new();
    struct cs_listen_key keys[] = {
        {"a.yaml", "G", NULL, ""}, {"b.yaml", "G", "public", "x"}, {"c.yaml", "G", "dev", ""}};
    int n = 0;
    struct cs_poll *p = cs_listen_poll_add(l, keys, 3, on_wake, &n);
    assert_non_null(p);
    struct cs_listen_stats st;
    cs_listen_get_stats(l, &st);
    assert_int_equal(st.polls, 1);
    assert_int_equal(st.poll_keys, 3);
    assert_int_equal(cs_listen_changed(l, "public", "G", "zzz"), 0);   /* not listened */
    assert_int_equal(cs_listen_changed(l, "dev", "G", "a.yaml"), 0);   /* another namespace */
    assert_int_equal(n, 0);
    cs_listen_changed(l, "public", "G", "b.yaml");   /* spelled "public" */
    assert_int_equal(n, 1);
    cs_listen_changed(l, "public", "G", "a.yaml");   /* spelled NULL: the same namespace */
    cs_listen_changed(l, "dev", "G", "c.yaml");
    assert_int_equal(n, 1);                          /* woken once */
    bool changed[3];
    assert_int_equal(cs_listen_poll_end(l, p, changed), 3);
    assert_true(changed[0] && changed[1] && changed[2]);
    cs_listen_get_stats(l, &st);
    assert_int_equal(st.polls, 0);
    assert_int_equal(st.poll_keys, 0);
    assert_int_equal(st.wakes, 1);
    cs_listen_free(l);
}

static void test_polls_share_keys(void **state)
{
    (void)state;
    struct cs_listen *l = cs_listen_new();
    struct cs_listen_key k1[] = {{"a", "G", "", ""}}, k2[] = {{"a", "G", "null", ""}, {"b", "G", "", ""}};
    int n1 = 0, n2 = 0;
    struct cs_poll *p1 = cs_listen_poll_add(l, k1, 1, on_wake, &n1);
    struct cs_poll *p2 = cs_listen_poll_add(l, k2, 2, on_wake, &n2);
    cs_listen_changed(l, "public", "G", "b");
    assert_int_equal(n1, 0);
    assert_int_equal(n2, 1);
    bool c1[1], c2[2];
    assert_int_equal(cs_listen_poll_end(l, p1, c1), 0);   /* ended first: the key stays for p2 */
    cs_listen_changed(l, "public", "G", "a");
    assert_int_equal(cs_listen_poll_end(l, p2, c2), 2);
    assert_true(c2[0] && c2[1]);
    assert_int_equal(n1, 0);
    cs_listen_free(l);
}

struct pushed {
    struct cs_listen *l;
    char v[16][96];
    int n;
    long polls_seen;
};

static void on_push(void *ctx, uint64_t conn, const char *data_id, const char *group, const char *tenant)
{
    struct pushed *p = ctx;
    struct cs_listen_stats st;
    cs_listen_get_stats(p->l, &st);   /* would deadlock if the hook ran under the lock */
    p->polls_seen = st.conns;
    if (p->n < 16) snprintf(p->v[p->n], sizeof p->v[0], "%llu %s %s [%s]", (unsigned long long)conn, data_id, group, tenant);
    p->n++;
}

static int cmp_str(const void *a, const void *b) { return strcmp(a, b); }

static void test_connections(void **state)
{
    (void)state;
    struct cs_listen *l = cs_listen_new();
    struct pushed got = {.l = l};
    cs_listen_set_push_hook(l, on_push, &got);
    assert_int_equal(cs_listen_conn_add(l, 7, "a", "G", ""), 0);
    assert_int_equal(cs_listen_conn_add(l, 7, "a", "G", ""), 1);          /* again: nothing new */
    assert_int_equal(cs_listen_conn_add(l, 7, "a", "G", "public"), 0);    /* another spelling */
    assert_int_equal(cs_listen_conn_add(l, 8, "a", "G", NULL), 0);        /* NULL is "" */
    assert_int_equal(cs_listen_conn_add(l, 8, "b", "G", "dev"), 0);
    struct cs_listen_stats st;
    cs_listen_get_stats(l, &st);
    assert_int_equal(st.conns, 2);
    assert_int_equal(st.conn_keys, 4);

    assert_int_equal(cs_listen_changed(l, "public", "G", "a"), 3);
    assert_int_equal(got.n, 3);
    qsort(got.v, 3, sizeof got.v[0], cmp_str);
    assert_string_equal(got.v[0], "7 a G []");
    assert_string_equal(got.v[1], "7 a G [public]");
    assert_string_equal(got.v[2], "8 a G []");
    assert_int_equal(got.polls_seen, 2);

    assert_int_equal(cs_listen_conn_remove(l, 7, "a", "G", "public"), 0);
    assert_int_equal(cs_listen_conn_remove(l, 7, "a", "G", "public"), 1);
    got.n = 0;
    assert_int_equal(cs_listen_changed(l, "public", "G", "a"), 2);
    assert_int_equal(cs_listen_conn_drop(l, 8), 2);
    assert_int_equal(cs_listen_conn_drop(l, 8), 0);
    got.n = 0;
    assert_int_equal(cs_listen_changed(l, "dev", "G", "b"), 0);
    assert_int_equal(cs_listen_changed(l, "public", "G", "a"), 1);
    assert_string_equal(got.v[0], "7 a G []");
    cs_listen_get_stats(l, &st);
    assert_int_equal(st.conns, 1);
    assert_int_equal(st.conn_keys, 1);
    assert_int_equal(st.pushes, 6);

    cs_listen_set_push_hook(l, NULL, NULL);   /* no hook: nothing pushed */
    assert_int_equal(cs_listen_changed(l, "public", "G", "a"), 0);
    cs_listen_free(l);   /* with a connection still listening: freed too */
}

/* Polls and connections on one key: a change reaches both. */
static void test_polls_and_connections(void **state)
{
    (void)state;
    struct cs_listen *l = cs_listen_new();
    struct pushed got = {.l = l};
    cs_listen_set_push_hook(l, on_push, &got);
    struct cs_listen_key k[] = {{"a", "G", "", ""}};
    int n = 0;
    struct cs_poll *p = cs_listen_poll_add(l, k, 1, on_wake, &n);
    assert_int_equal(cs_listen_conn_add(l, 1, "a", "G", ""), 0);
    assert_int_equal(cs_listen_conn_drop(l, 1), 1);
    assert_int_equal(cs_listen_conn_add(l, 2, "a", "G", ""), 0);
    assert_int_equal(cs_listen_changed(l, "public", "G", "a"), 1);
    assert_int_equal(n, 1);
    assert_int_equal(cs_listen_poll_end(l, p, NULL), 1);
    assert_int_equal(cs_listen_changed(l, "public", "G", "a"), 1);
    assert_int_equal(n, 1);
    cs_listen_free(l);
}

/* 10,000 keys in one poll and 2,000 connections: the tables grow, and changes find exactly the
 * keys a model says. */
static void test_many_keys(void **state)
{
    (void)state;
    struct cs_listen *l = cs_listen_new();
    enum { N = 10000 };
    struct cs_listen_key *keys = calloc(N, sizeof *keys);
    char (*ids)[16] = calloc(N, sizeof *ids);
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "d%d", i);
        keys[i] = (struct cs_listen_key){ids[i], i % 2 ? "G1" : "G2", i % 3 ? "" : "dev", ""};
    }
    int n = 0;
    struct cs_poll *p = cs_listen_poll_add(l, keys, N, on_wake, &n);
    assert_non_null(p);
    for (uint64_t c = 0; c < 2000; c++) assert_int_equal(cs_listen_conn_add(l, c, ids[c], "G1", ""), 0);
    uint32_t x = 12345;
    bool want[N] = {0};
    for (int k = 0; k < 500; k++) {
        x ^= x << 13; x ^= x >> 17; x ^= x << 5;
        int i = (int)(x % N);
        cs_listen_changed(l, i % 3 ? "public" : "dev", i % 2 ? "G1" : "G2", ids[i]);
        want[i] = true;
        cs_listen_changed(l, "other", "G1", ids[i]);   /* never listened */
    }
    assert_int_equal(n, 1);
    bool *changed = calloc(N, sizeof *changed);
    size_t k = cs_listen_poll_end(l, p, changed);
    size_t expect = 0;
    for (int i = 0; i < N; i++) {
        assert_int_equal(changed[i], want[i]);
        expect += want[i];
    }
    assert_int_equal(k, expect);
    for (uint64_t c = 0; c < 2000; c += 2) assert_int_equal(cs_listen_conn_drop(l, c), 1);
    struct cs_listen_stats st;
    cs_listen_get_stats(l, &st);
    assert_int_equal(st.conns, 1000);
    assert_int_equal(st.polls, 0);
    free(changed);
    free(keys);
    free(ids);
    cs_listen_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_poll_woken_once),
        cmocka_unit_test(test_polls_share_keys),
        cmocka_unit_test(test_connections),
        cmocka_unit_test(test_polls_and_connections),
        cmocka_unit_test(test_many_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
