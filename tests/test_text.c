/*
 * test_text.c — text written by hand instead of through cJSON/printf, checked against them: the
 * JSON text writer (reply.h) prints strings and integers byte for byte as cJSON does, and health
 * transition lines (log.h, single and batched) parse as JSON, keep client text from splitting or
 * forging lines, and say the same thing in both forms.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "nacos_mock/log.h"
#include "nacos_mock/reply.h"

static const char *const TRICKY[] = {
    "plain", "", "quote\"back\\slash", "tab\tnl\nret\rbs\bff\f", "\x01\x1f ctl", "del\x7f",
    "utf8 \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", "bad \xff\xfe utf8", "slash/ok",
};
#define N_TRICKY (sizeof TRICKY / sizeof TRICKY[0])

static void test_json_text_matches_cjson(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_TRICKY; i++) {
        struct json_text t = {0};
        json_text_string(&t, TRICKY[i]);
        cJSON *s = cJSON_CreateString(TRICKY[i]);
        char *want = cJSON_PrintUnformatted(s);
        assert_string_equal(t.p, want);
        assert_int_equal(t.len, strlen(want));
        cJSON_free(want);
        cJSON_Delete(s);
        free(t.p);
    }
    const long long ints[] = {0, 1, -1, 9, 10, 1234567890123LL, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        struct json_text t = {0};
        JSON_TEXT_LIT(&t, "[");
        json_text_int(&t, ints[i]);
        JSON_TEXT_LIT(&t, "]");
        char want[40];
        snprintf(want, sizeof want, "[%lld]", ints[i]);
        assert_string_equal(t.p, want);
        free(t.p);
    }
}

/* Runs fn with stderr sent to a temporary file; returns what was written (caller frees). */
static char *capture_stderr(void (*fn)(void *), void *ctx)
{
    char path[] = "/tmp/nacos-mock-text-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    fn(ctx);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    off_t n = lseek(fd, 0, SEEK_END);
    char *buf = calloc((size_t)n + 1, 1);
    assert_int_equal(pread(fd, buf, (size_t)n, 0), n);
    close(fd);
    unlink(path);
    return buf;
}

static void log_all_batched(void *ctx)
{
    (void)ctx;
    struct log_batch b = {0};
    for (size_t i = 0; i < N_TRICKY; i++)
        log_batch_transition(&b, TRICKY[i], "ns", TRICKY[(i + 1) % N_TRICKY], "HEALTHY", "UNHEALTHY", (int64_t)i * 1000);
    log_batch_flush(&b);
    log_batch_transition(&b, "dropped", "ns", "svc", "HEALTHY", "REMOVED", 1);
    log_batch_discard(&b);
    log_batch_free(&b);
}

static void log_all_single(void *ctx)
{
    (void)ctx;
    for (size_t i = 0; i < N_TRICKY; i++)
        log_transition(TRICKY[i], "ns", TRICKY[(i + 1) % N_TRICKY], "HEALTHY", "UNHEALTHY", (int64_t)i * 1000);
}

/* What a JSON line keeps of client text: valid UTF-8 as it is, other bytes as the text \xNN. */
static void expect_loggable(char *out, size_t len, const char *s)
{
    size_t o = 0;
    for (const unsigned char *u = (const unsigned char *)s; *u; u++) {
        if (*u == 0xff || *u == 0xfe) o += (size_t)snprintf(out + o, len - o, "\\x%02x", *u);
        else out[o++] = (char)*u;
    }
    out[o] = '\0';
}

static void test_json_lines(void **state)
{
    (void)state;
    log_set_format(LOG_JSON);
    char *batched = capture_stderr(log_all_batched, NULL), *single = capture_stderr(log_all_single, NULL);
    log_set_format(LOG_TEXT);
    char *lines[2] = {batched, single};
    for (int w = 0; w < 2; w++) {
        char *save = NULL, *line = strtok_r(lines[w], "\n", &save);
        for (size_t i = 0; i < N_TRICKY; i++, line = strtok_r(NULL, "\n", &save)) {
            assert_non_null(line);
            cJSON *j = cJSON_Parse(line);
            if (!j) fail_msg("not JSON: %s", line);
            char want[256];
            expect_loggable(want, sizeof want, TRICKY[i]);
            assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "instanceId")), want);
            expect_loggable(want, sizeof want, TRICKY[(i + 1) % N_TRICKY]);
            assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "service")), want);
            assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "event")), "health");
            assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "to")), "UNHEALTHY");
            assert_int_equal((long long)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "sinceLastBeatMs")), (long long)i * 1000);
            cJSON_Delete(j);
        }
        assert_null(line);   /* nothing more: the discarded line was never written */
    }
    free(batched);
    free(single);
}

static void test_text_lines(void **state)
{
    (void)state;
    char *batched = capture_stderr(log_all_batched, NULL), *single = capture_stderr(log_all_single, NULL);
    size_t newlines = 0;
    for (char *p = batched; *p; p++) newlines += *p == '\n';
    assert_int_equal(newlines, N_TRICKY);   /* client text never splits a line */
    assert_non_null(strstr(batched, " info health HEALTHY -> UNHEALTHY instance=tab\\x09nl\\x0aret\\x0dbs\\x08ff\\x0c "
                                    "namespace=ns service=\\x01\\x1f ctl since_last_beat=3000ms\n"));
    assert_non_null(strstr(batched, "instance=bad \\xff\\xfe utf8 "));
    assert_non_null(strstr(batched, "instance=utf8 \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 "));
    /* the same lines either way, but for the time stamps (24 characters) */
    char *a = batched, *b = single;
    for (size_t i = 0; i < N_TRICKY; i++) {
        char *ea = strchr(a, '\n'), *eb = strchr(b, '\n');
        assert_non_null(ea);
        assert_non_null(eb);
        assert_int_equal(ea - a, eb - b);
        assert_memory_equal(a + 24, b + 24, (size_t)(ea - a) - 24);
        a = ea + 1;
        b = eb + 1;
    }
    free(batched);
    free(single);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_text_matches_cjson),
        cmocka_unit_test(test_json_lines),
        cmocka_unit_test(test_text_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
