/*
 * test_params.c — unit tests of server/params.c: the Servlet-style parameter merge and the lenient
 * decoding real clients need (nacos-api.md §1): `%XX`, `+` as space, stray `%` and raw `{}"[]|`
 * kept (the Go SDK's raw bodies), `%00` flagged, first value of a key wins (query before body),
 * values trimmed, blank = absent; the boolean readings (lenient and Java's parseBoolean) and the
 * strict number parsers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nacos_mock/params.h"

/* Decodes s (as many bytes as strlen) and checks the decoded bytes and length. */
static void assert_decodes(const char *s, const char *want, size_t want_len)
{
    size_t n = strlen(s);
    char *out = malloc(n + 1);
    assert_non_null(out);
    size_t got = params_url_decode(out, s, n);
    if (got != want_len || memcmp(out, want, want_len) != 0)
        fail_msg("decode \"%s\": got %zu bytes \"%s\", want %zu bytes \"%s\"", s, got, out, want_len, want);
    assert_int_equal(out[got], '\0');
    free(out);
}

static void test_decode_percent(void **state)
{
    (void)state;
    assert_decodes("%41%42c", "ABc", 3);
    assert_decodes("%7b%7D", "{}", 2);                          /* both hex cases */
    assert_decodes("%E4%B8%AD%e6%96%87", "\xE4\xB8\xAD\xE6\x96\x87", 6);   /* UTF-8 "中文" */
    assert_decodes("%2B", "+", 1);                              /* an encoded plus is a plus */
    assert_decodes("%25", "%", 1);
    assert_decodes("", "", 0);
}

static void test_decode_plus_is_space(void **state)
{
    (void)state;
    assert_decodes("a+b", "a b", 3);
    assert_decodes("++", "  ", 2);
    assert_decodes("my+svc%2Bx", "my svc+x", 8);
}

static void test_decode_stray_percent_kept(void **state)
{
    (void)state;
    assert_decodes("100%", "100%", 4);
    assert_decodes("%", "%", 1);
    assert_decodes("%4", "%4", 2);
    assert_decodes("a%4", "a%4", 3);
    assert_decodes("%zz", "%zz", 3);
    assert_decodes("%4g1", "%4g1", 4);
    assert_decodes("%%41", "%A", 2);
    assert_decodes("50%+off", "50% off", 7);
}

static void test_decode_raw_json_kept(void **state)
{
    (void)state;
    const char *raw = "{\"ip\":\"1.2.3.4\",\"port\":80,\"tags\":[1,2],\"x\":\"a|b\"}";
    assert_decodes(raw, raw, strlen(raw));
    assert_decodes("[]|\"{}", "[]|\"{}", 6);
}

static void test_decode_nul_kept_in_output(void **state)
{
    (void)state;
    assert_decodes("a%00b", "a\0b", 3);
    char out[8];
    size_t n = params_url_decode(out, "a%00b", 5);
    assert_int_equal(n, 3);
    assert_int_equal(strlen(out), 1);   /* how callers detect it */
}

static void test_parse_form_basic(void **state)
{
    (void)state;
    struct params p;
    params_init(&p);
    const char *form = "serviceName=demo&ip=10.0.0.5&port=8080&metadata=%7B%22k%22%3A%22v%22%7D";
    params_parse_form(&p, form, strlen(form));
    assert_int_equal(p.n, 4);
    assert_string_equal(params_get(&p, "serviceName"), "demo");
    assert_string_equal(params_get(&p, "ip"), "10.0.0.5");
    assert_string_equal(params_get(&p, "port"), "8080");
    assert_string_equal(params_get(&p, "metadata"), "{\"k\":\"v\"}");
    assert_null(params_get(&p, "weight"));
    assert_null(params_get(&p, "servicename"));   /* keys are case-sensitive */
    assert_false(p.overflow);
    assert_null(p.nul_key);
    params_free(&p);
    assert_int_equal(p.n, 0);
    assert_null(p.v);
}

static void test_parse_form_raw_go_body(void **state)
{
    (void)state;
    struct params p;
    params_init(&p);
    const char *body = "serviceName=DEFAULT_GROUP@@demo&beat={\"cluster\":\"DEFAULT\",\"ip\":\"1.2.3.4\","
                       "\"metadata\":{\"k\":\"v\"},\"port\":8080,\"weight\":1}&metadata={\"a\":\"[x]|y\"}";
    params_parse_form(&p, body, strlen(body));
    assert_string_equal(params_get(&p, "serviceName"), "DEFAULT_GROUP@@demo");
    assert_string_equal(params_get(&p, "beat"),
                        "{\"cluster\":\"DEFAULT\",\"ip\":\"1.2.3.4\",\"metadata\":{\"k\":\"v\"},\"port\":8080,\"weight\":1}");
    assert_string_equal(params_get(&p, "metadata"), "{\"a\":\"[x]|y\"}");
    params_free(&p);
}

static void test_parse_form_edge_segments(void **state)
{
    (void)state;
    struct params p;
    params_init(&p);
    const char *form = "&&flag&a=1&=orphan&b=x=y&";
    params_parse_form(&p, form, strlen(form));
    assert_int_equal(p.n, 3);                          /* flag, a, b; the empty key is dropped */
    assert_string_equal(params_get_raw(&p, "flag"), "");
    assert_null(params_get(&p, "flag"));
    assert_string_equal(params_get(&p, "a"), "1");
    assert_string_equal(params_get(&p, "b"), "x=y");   /* only the first '=' splits */
    assert_null(params_get_raw(&p, ""));
    params_free(&p);

    /* only `len` bytes are read */
    params_init(&p);
    params_parse_form(&p, "a=1&b=2", 3);
    assert_int_equal(p.n, 1);
    assert_string_equal(params_get(&p, "a"), "1");
    assert_null(params_get(&p, "b"));
    params_free(&p);
}

static void test_keys_decoded(void **state)
{
    (void)state;
    struct params p;
    params_init(&p);
    const char *form = "service%4Eame=x&cluster+Name=y";
    params_parse_form(&p, form, strlen(form));
    assert_string_equal(params_get(&p, "serviceName"), "x");
    assert_string_equal(params_get(&p, "cluster Name"), "y");
    params_free(&p);
}

static void test_first_value_wins_query_before_body(void **state)
{
    (void)state;
    struct params p;
    params_init(&p);
    const char *query = "port=8080&weight=2";
    const char *body = "port=9090&ip=10.0.0.1&weight=3&port=7070";
    params_parse_form(&p, query, strlen(query));   /* http.c adds the query first */
    params_parse_form(&p, body, strlen(body));
    assert_int_equal(p.n, 3);
    assert_string_equal(params_get(&p, "port"), "8080");
    assert_string_equal(params_get(&p, "weight"), "2");
    assert_string_equal(params_get(&p, "ip"), "10.0.0.1");
    params_free(&p);

    /* within one string too; and a key that only differs after decoding is the same key */
    params_init(&p);
    const char *dup = "a=1&a=2&%61=3";
    params_parse_form(&p, dup, strlen(dup));
    assert_int_equal(p.n, 1);
    assert_string_equal(params_get(&p, "a"), "1");
    params_free(&p);

    /* a blank first value still wins (Servlet getParameter gives the first), so the key is absent */
    params_init(&p);
    params_parse_form(&p, "enabled=", 8);
    params_parse_form(&p, "enabled=false", 13);
    assert_string_equal(params_get_raw(&p, "enabled"), "");
    assert_null(params_get(&p, "enabled"));
    params_free(&p);
}

static void test_trimming(void **state)
{
    (void)state;
    struct params p;
    params_init(&p);
    const char *form = "a=+x+&b=%20%20y%09&c=%0Az%0D%0A&+d+=w&e=in+side";
    params_parse_form(&p, form, strlen(form));
    assert_string_equal(params_get(&p, "a"), "x");
    assert_string_equal(params_get(&p, "b"), "y");
    assert_string_equal(params_get(&p, "c"), "z");
    assert_string_equal(params_get(&p, "d"), "w");        /* keys are trimmed too */
    assert_string_equal(params_get(&p, "e"), "in side");  /* inner spaces stay */
    params_free(&p);
}

static void test_blank_is_absent(void **state)
{
    (void)state;
    struct params p;
    params_init(&p);
    const char *form = "a=&b=%20&c=+++&d=%09";
    params_parse_form(&p, form, strlen(form));
    assert_int_equal(p.n, 4);
    const char *keys[] = {"a", "b", "c", "d"};
    for (size_t i = 0; i < 4; i++) {
        assert_null(params_get(&p, keys[i]));
        assert_non_null(params_get_raw(&p, keys[i]));
        assert_string_equal(params_get_raw(&p, keys[i]), "");
    }
    assert_null(params_get_raw(&p, "zz"));
    params_free(&p);
}

static void test_nul_sets_nul_key(void **state)
{
    (void)state;
    struct params p;
    params_init(&p);
    const char *form = "ok=1&serviceName=ab%00c&ip=1.2.3.4%00";
    params_parse_form(&p, form, strlen(form));
    assert_non_null(p.nul_key);
    assert_string_equal(p.nul_key, "serviceName");   /* the first one */
    params_free(&p);
    assert_null(p.nul_key);

    params_init(&p);
    params_parse_form(&p, "port=%00", 8);
    assert_string_equal(p.nul_key, "port");
    params_free(&p);

    /* a NUL in the key is caught as well (named by what precedes it) */
    params_init(&p);
    params_parse_form(&p, "ip%00x=1", 8);
    assert_string_equal(p.nul_key, "ip");
    params_free(&p);

    /* a NUL hidden behind trimmed blanks */
    params_init(&p);
    params_parse_form(&p, "v=+%00+x", 8);
    assert_string_equal(p.nul_key, "v");
    params_free(&p);

    /* "%0" alone is a stray percent; "%000" is a NUL followed by "0" */
    params_init(&p);
    params_parse_form(&p, "a=%0&b=%000", 11);
    assert_non_null(p.nul_key);            /* b = "\0" "0" */
    assert_string_equal(p.nul_key, "b");
    assert_string_equal(params_get(&p, "a"), "%0");
    params_free(&p);

    /* a NUL in a repeated (dropped) pair still refuses the request */
    params_init(&p);
    params_parse_form(&p, "a=1&a=%00", 9);
    assert_string_equal(p.nul_key, "a");
    assert_string_equal(params_get(&p, "a"), "1");
    params_free(&p);

    params_init(&p);
    params_parse_form(&p, "a=%25%30%30", 11);   /* "%00" encoded: literal text, not a NUL */
    assert_null(p.nul_key);
    assert_string_equal(params_get(&p, "a"), "%00");
    params_free(&p);
}

static void test_params_add_decoded(void **state)
{
    (void)state;
    struct params p;
    params_init(&p);
    assert_int_equal(params_add(&p, "k", "  %41+b  "), 0);   /* already decoded: trimmed only */
    assert_string_equal(params_get(&p, "k"), "%41+b");
    assert_int_equal(params_add(&p, "k", "other"), 0);       /* present: ignored */
    assert_string_equal(params_get(&p, "k"), "%41+b");
    assert_int_equal(params_add(&p, "", "x"), 0);            /* empty key dropped */
    assert_int_equal(p.n, 1);
    params_free(&p);
}

static void test_overflow(void **state)
{
    (void)state;
    struct params p;
    params_init(&p);
    char key[32];
    for (int i = 0; i < PARAMS_MAX; i++) {
        snprintf(key, sizeof key, "k%d", i);
        assert_int_equal(params_add_encoded(&p, key, strlen(key), "v", 1), 0);
    }
    assert_false(p.overflow);
    assert_int_equal(p.n, PARAMS_MAX);
    assert_int_equal(params_add_encoded(&p, "one-more", 8, "v", 1), -1);
    assert_true(p.overflow);
    assert_int_equal(p.n, PARAMS_MAX);
    assert_null(params_get(&p, "one-more"));
    assert_string_equal(params_get(&p, "k1023"), "v");
    /* a repeated key is not a new one */
    assert_int_equal(params_add_encoded(&p, "k5", 2, "w", 1), 0);
    params_free(&p);
}

static void test_truthy(void **state)
{
    (void)state;
    const char *yes[] = {"true", "TRUE", "True", "tRuE", "on", "ON", "On", "yes", "YES", "Yes",
                         "y", "Y", "t", "T", "1"};
    const char *no[] = {"false", "False", "FALSE", "off", "no", "n", "f", "0", "", "truex", "yes!",
                        "2", "tru", "none", "None"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (!params_truthy(yes[i])) fail_msg("params_truthy(\"%s\") should be true", yes[i]);
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (params_truthy(no[i])) fail_msg("params_truthy(\"%s\") should be false", no[i]);
    assert_false(params_truthy(NULL));
}

static void test_parse_boolean(void **state)
{
    (void)state;
    assert_true(params_parse_boolean("true"));
    assert_true(params_parse_boolean("TRUE"));
    assert_true(params_parse_boolean("True"));
    const char *no[] = {"yes", "on", "1", "t", "y", "false", "", "true "};
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (params_parse_boolean(no[i])) fail_msg("params_parse_boolean(\"%s\") should be false", no[i]);
    assert_false(params_parse_boolean(NULL));
}

static void test_strtoll_strict(void **state)
{
    (void)state;
    long long v = 42;
    assert_int_equal(params_strtoll("8080", &v), 0);
    assert_int_equal(v, 8080);
    assert_int_equal(params_strtoll("-1", &v), 0);
    assert_int_equal(v, -1);
    assert_int_equal(params_strtoll("0", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(params_strtoll("+7", &v), 0);   /* Java's parseInt takes a leading '+' */
    assert_int_equal(v, 7);
    assert_int_equal(params_strtoll("9223372036854775807", &v), 0);
    assert_true(v == INT64_MAX);

    const char *bad[] = {"8080abc", "abc", "", " 1", "1 ", "1.0", "0x10", "1e3", "--1", "+",
                         "-", "99999999999999999999", "-99999999999999999999", "NaN"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = 42;
        if (params_strtoll(bad[i], &v) != -1) fail_msg("params_strtoll(\"%s\") should fail", bad[i]);
        assert_int_equal(v, 42);   /* untouched on failure */
    }
    assert_int_equal(params_strtoll(NULL, &v), -1);
}

static void test_strtod_strict(void **state)
{
    (void)state;
    double d = 0;
    assert_int_equal(params_strtod("1.5", &d), 0);
    assert_true(d == 1.5);
    assert_int_equal(params_strtod("-1", &d), 0);
    assert_true(d == -1.0);
    assert_int_equal(params_strtod("10000", &d), 0);
    assert_true(d == 10000.0);
    assert_int_equal(params_strtod("1e3", &d), 0);
    assert_true(d == 1000.0);
    assert_int_equal(params_strtod("2.5E-1", &d), 0);
    assert_true(d == 0.25);
    assert_int_equal(params_strtod(".5", &d), 0);
    assert_true(d == 0.5);
    assert_int_equal(params_strtod("+3", &d), 0);
    assert_true(d == 3.0);

    const char *bad[] = {"8080abc", "NaN", "nan", "inf", "-inf", "Infinity", "1e400", "-1e400", "0x1p3",
                         "0x10", "", " 1", "1 ", ".", "-", "e5", "1.2.3", "1,5", "abc"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        d = 42;
        if (params_strtod(bad[i], &d) != -1) fail_msg("params_strtod(\"%s\") should fail, got %g", bad[i], d);
        assert_true(d == 42);
    }
    assert_int_equal(params_strtod(NULL, &d), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_percent),
        cmocka_unit_test(test_decode_plus_is_space),
        cmocka_unit_test(test_decode_stray_percent_kept),
        cmocka_unit_test(test_decode_raw_json_kept),
        cmocka_unit_test(test_decode_nul_kept_in_output),
        cmocka_unit_test(test_parse_form_basic),
        cmocka_unit_test(test_parse_form_raw_go_body),
        cmocka_unit_test(test_parse_form_edge_segments),
        cmocka_unit_test(test_keys_decoded),
        cmocka_unit_test(test_first_value_wins_query_before_body),
        cmocka_unit_test(test_trimming),
        cmocka_unit_test(test_blank_is_absent),
        cmocka_unit_test(test_nul_sets_nul_key),
        cmocka_unit_test(test_params_add_decoded),
        cmocka_unit_test(test_overflow),
        cmocka_unit_test(test_truthy),
        cmocka_unit_test(test_parse_boolean),
        cmocka_unit_test(test_strtoll_strict),
        cmocka_unit_test(test_strtod_strict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
