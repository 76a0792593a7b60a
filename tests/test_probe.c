/*
 * test_probe.c — `nacos-mock --probe`, the container's health check, against a real server on port 0:
 * exit 0 while readiness answers 200; 1 with a one-line reason while the mock is DOWN or STARTING
 * (readiness 500), when nothing listens, when the server resets or never answers, and for port 0.
 * The port comes from --port or NACOS_MOCK_PORT (the flag wins), the host from --host or
 * NACOS_MOCK_HOST, a wildcard host is asked on loopback.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#define JSON_CT "application/json"

struct probe_run {
    int rc;
    char out[1024];
    char err[1024];
};

/* Runs nacos-mock --probe with args and env (either may be NULL) and checks what every run must do:
 * exit within the probe's own timeout, print nothing on stdout, and on stderr exactly one line
 * when it fails, nothing when it succeeds. */
static void probe(struct probe_run *p, const char *const *args, const char *const *env)
{
    const char *argv[16] = {"--probe"};
    int n = 1;
    for (int i = 0; args && args[i] && n < 15; i++) argv[n++] = args[i];
    argv[n] = NULL;
    int64_t t0 = nm_mono_ms();
    p->rc = nm_run(argv, env, 10000, p->out, sizeof p->out, p->err, sizeof p->err);
    int64_t took = nm_mono_ms() - t0;
    if (p->rc != 0 && p->rc != 1) fail_msg("--probe exited %d (stderr '%s'), want 0 or 1", p->rc, p->err);
    if (took > 5000) fail_msg("--probe took %lld ms: its timeout is 2000 ms", (long long)took);
    if (p->out[0]) fail_msg("--probe wrote on stdout: '%s'", p->out);
    if (p->rc == 0 && p->err[0]) fail_msg("--probe succeeded but wrote '%s'", p->err);
    if (p->rc == 1) {
        char *nl = strchr(p->err, '\n');
        if (!nl || nl[1] || strncmp(p->err, "nacos-mock --probe: ", 20))
            fail_msg("--probe failed without one 'nacos-mock --probe: ...' line: '%s'", p->err);
    }
}

static void expect_ready(const char *const *args, const char *const *env)
{
    struct probe_run p;
    probe(&p, args, env);
    if (p.rc != 0) fail_msg("--probe exited 1, want 0: %s", p.err);
}

static void expect_unready(const char *const *args, const char *const *env, const char *needle)
{
    struct probe_run p;
    probe(&p, args, env);
    if (p.rc != 1) fail_msg("--probe exited %d, want 1", p.rc);
    if (!strstr(p.err, needle)) fail_msg("--probe's reason '%s' does not say '%s'", p.err, needle);
}

static void set_status(const struct nm_server *s, const char *status)
{
    struct nm_resp r;
    nm_http(s, "PUT", "/__mock/status", nm_fmt("{\"status\":\"%s\"}", status), JSON_CT, NULL, &r);
    if (r.status != 200) fail_msg("PUT /__mock/status %s -> %ld %s", status, r.status, r.body);
    nm_resp_free(&r);
}

/* Starts a server the test owns (args may be NULL) and writes its port, as text, into port[16]. */
static struct nm_server *start(const char *const *args, char port[16])
{
    struct nm_server *s = nm_test_start(args);
    snprintf(port, 16, "%d", s->port);
    return s;
}

static void test_ready_by_flag_and_by_environment(void **state)
{
    (void)state;
    char port[16], env_port[32];
    struct nm_server *s = start(NULL, port);
    snprintf(env_port, sizeof env_port, "NACOS_MOCK_PORT=%d", s->port);

    const char *flag[] = {"--port", port, NULL};
    expect_ready(flag, NULL);
    const char *env[] = {env_port, NULL};
    expect_ready(NULL, env);
    /* the command line wins over the environment, as for the server */
    const char *wrong_env[] = {"NACOS_MOCK_PORT=1", NULL};
    expect_ready(flag, wrong_env);
    const char *wrong_flag[] = {"--port", "1", NULL};
    expect_unready(wrong_flag, env, "nothing listening on 127.0.0.1:1");
    /* a wildcard bind address is asked on loopback, by flag or by environment (the image's setting) */
    const char *any_flag[] = {"--host", "0.0.0.0", "--port", port, NULL};
    expect_ready(any_flag, NULL);
    const char *any_env[] = {"NACOS_MOCK_HOST=0.0.0.0", env_port, NULL};
    expect_ready(NULL, any_env);
    const char *loopback[] = {"--host", "127.0.0.1", "--port", port, NULL};
    expect_ready(loopback, NULL);

    /* every probe is an ordinary readiness request in the journal */
    cJSON *j = nm_get_json(s, "/__mock/requests?api=readiness");
    assert_non_null(j);
    assert_int_equal(cJSON_GetObjectItem(j, "total")->valueint, 6);
    cJSON_Delete(j);
    nm_test_stop(s);
}

static void test_unready_while_down_or_starting(void **state)
{
    (void)state;
    char port[16];
    struct nm_server *s = start(NULL, port);
    const char *args[] = {"--port", port, NULL};

    set_status(s, "DOWN");
    expect_unready(args, NULL, "answered 'HTTP/1.1 500");
    set_status(s, "STARTING");
    expect_unready(args, NULL, "500");
    set_status(s, "UP");
    expect_ready(args, NULL);
    nm_test_stop(s);
}

static void test_unready_when_nothing_listens(void **state)
{
    (void)state;
    char port[16], where[64];
    struct nm_server *s = start(NULL, port);
    snprintf(where, sizeof where, "nothing listening on 127.0.0.1:%d", s->port);
    nm_test_stop(s);   /* its port is free again (nothing else on this machine binds it meanwhile) */
    const char *args[] = {"--port", port, NULL};
    expect_unready(args, NULL, where);
}

static void test_unready_when_the_server_resets_or_hangs(void **state)
{
    (void)state;
    const char *reset_args[] = {"--fault", "api=readiness,drop=reset", NULL};
    char port[16];
    struct nm_server *s = start(reset_args, port);
    const char *args[] = {"--port", port, NULL};
    expect_unready(args, NULL, "no status line");
    nm_test_stop(s);

    const char *hang_args[] = {"--fault", "api=readiness,drop=hang", NULL};
    s = start(hang_args, port);
    int64_t t0 = nm_mono_ms();
    expect_unready(args, NULL, "within 2000 ms");
    int64_t took = nm_mono_ms() - t0;
    if (took < 1900) fail_msg("--probe gave up on a hung server after %lld ms, want its 2000 ms timeout", (long long)took);
    nm_test_stop(s);
}

static void test_port_zero_is_refused(void **state)
{
    (void)state;
    const char *args[] = {"--port", "0", NULL};
    expect_unready(args, NULL, "--port 0");
    const char *env[] = {"NACOS_MOCK_PORT=0", NULL};
    expect_unready(NULL, env, "--port 0");
}

static void test_bad_flags_exit_2(void **state)
{
    (void)state;
    const char *argv[] = {"--probe", "--port", "http", NULL};
    char out[512], err[512];
    assert_int_equal(nm_run(argv, NULL, 5000, out, sizeof out, err, sizeof err), 2);
    assert_non_null(strstr(err, "--port"));
}

static void test_ipv6_wildcard_is_asked_on_ipv6_loopback(void **state)
{
    (void)state;
    const char *v6[] = {"--host", "::1", NULL};
    char port[16];
    struct nm_server *s = start(v6, port);
    const char *any[] = {"--host", "::", "--port", port, NULL};
    expect_ready(any, NULL);
    const char *v4[] = {"--host", "0.0.0.0", "--port", port, NULL};   /* a v6-only server: 127.0.0.1 is not it */
    expect_unready(v4, NULL, "nothing listening on 127.0.0.1:");
    nm_test_stop(s);
}

/* --probe is an action: NACOS_MOCK_PROBE in a server's environment (a container's) does not turn the
 * server into a probe */
static void test_probe_is_not_read_from_the_environment(void **state)
{
    (void)state;
    setenv("NACOS_MOCK_PROBE", "1", 1);
    struct nm_server *s = nm_test_start(NULL);   /* inherits it; fails the test if it exits instead */
    unsetenv("NACOS_MOCK_PROBE");
    struct nm_resp r;
    assert_int_equal(nm_get(s, "/nacos/v1/console/health/liveness", &r), 200);
    nm_resp_free(&r);
    nm_test_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_ready_by_flag_and_by_environment, nm_test_teardown),
        cmocka_unit_test_teardown(test_unready_while_down_or_starting, nm_test_teardown),
        cmocka_unit_test_teardown(test_unready_when_nothing_listens, nm_test_teardown),
        cmocka_unit_test_teardown(test_unready_when_the_server_resets_or_hangs, nm_test_teardown),
        cmocka_unit_test(test_port_zero_is_refused),
        cmocka_unit_test(test_bad_flags_exit_2),
        cmocka_unit_test_teardown(test_probe_is_not_read_from_the_environment, nm_test_teardown),
        cmocka_unit_test_teardown(test_ipv6_wildcard_is_asked_on_ipv6_loopback, nm_test_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
