/*
 * test_bad_input.c — a catalogue of hostile and malformed input against the real server
 * (nacos-api.md §1, §2.1, §2.2; control-api.md "Bad input is answered 400 ... and changes nothing").
 *
 * Every entry sends one bad request (or a hostile connection pattern), checks the answer the
 * contract asks for — status, and that the message names the offending parameter where the
 * contract says so — and then checks the server is still alive (process not exited, liveness
 * answers `OK`). The last test compares /__mock/registry (minus timing fields) with the snapshot
 * taken before the catalogue: nothing a bad request sent may have changed the registry. The
 * number of catalogue entries is printed at the end.
 *
 * Raw-socket requests are used where libcurl would fix the input up or cannot express it (a
 * 100 KB URL, a 64 KB header, garbage request lines, trickling clients, idle connections).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define INST "/nacos/v1/ns/instance"
#define SVC_PATH "/nacos/v1/ns/service"
#define BEAT "/nacos/v1/ns/instance/beat"
#define LIVENESS "/nacos/v1/console/health/liveness"
/* a register that is valid apart from what each entry adds or overrides (first value of a key wins) */
#define OKQ "serviceName=bi-bad&ip=10.9.9.9&port=8080"

static struct nm_server g_srv;
static cJSON *g_before;     /* normalised registry before the catalogue */
static int g_entries;       /* catalogue entries run */

/* ------------------------------------------------------------------ helpers */

static bool under_tool(void)
{
    const char *w = getenv("NM_SERVER_WRAPPER");
    return w && *w;
}

/* The server process is still running and answers liveness. `after` names the entry. */
static void assert_alive(const char *after)
{
    int st = 0;
    if (g_srv.pid > 0 && waitpid(g_srv.pid, &st, WNOHANG) == g_srv.pid) {
        g_srv.pid = 0;
        fail_msg("server died after [%s]: %s %d (stderr %s)", after, WIFSIGNALED(st) ? "signal" : "exit",
                 WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), g_srv.err_path);
    }
    struct nm_resp r;
    nm_get(&g_srv, LIVENESS, &r);
    if (r.status != 200 || strcmp(r.body, "OK"))
        fail_msg("liveness after [%s] -> %ld (curl %d) %.200s", after, r.status, r.curl_code, r.body);
    nm_resp_free(&r);
}

static void entry_done(const char *name)
{
    g_entries++;
    assert_alive(name);
}

/* One catalogue entry over libcurl: status must be `want`; the body must contain `needle` (unless
 * NULL); content type text/plain for Nacos errors. */
static void expect_h(const char *name, const char *method, const char *path, const char *body, const char *ctype,
                     long want, const char *needle)
{
    struct nm_resp r;
    nm_http(&g_srv, method, path, body, ctype, NULL, &r);
    if (r.status != want)
        fail_msg("[%s] %s %.120s -> %ld (curl %d) %.300s; want %ld", name, method, path, r.status, r.curl_code,
                 r.body, want);
    if (needle && !strstr(r.body, needle))
        fail_msg("[%s] answer %ld %.300s does not name %s", name, r.status, r.body, needle);
    if (want >= 400 && strncmp(path, "/__mock/", 8) != 0 && want != 413 && strncmp(r.body, "caused: ", 8) != 0)
        fail_msg("[%s] error body is not the Nacos 'caused: ...;' form: %.200s", name, r.body);
    nm_resp_free(&r);
    entry_done(name);
}

static void expect(const char *name, const char *method, const char *path, const char *body, long want,
                   const char *needle)
{
    expect_h(name, method, path, body, NULL, want, needle);
}

static char *xmalloc(size_t n)
{
    char *p = malloc(n);
    if (!p) fail_msg("out of memory");
    return p;
}

/* prefix + `n` copies of `unit` + suffix, malloc'd. */
static char *repeat(const char *prefix, const char *unit, size_t n, const char *suffix)
{
    size_t pl = strlen(prefix), ul = strlen(unit), sl = strlen(suffix);
    char *b = xmalloc(pl + ul * n + sl + 1), *w = b;
    memcpy(w, prefix, pl);
    w += pl;
    for (size_t i = 0; i < n; i++, w += ul) memcpy(w, unit, ul);
    memcpy(w, suffix, sl + 1);
    return b;
}

static int tcp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads until the peer closes or `timeout_ms` passes; returns the HTTP status of the first
 * answer, 0 when the connection ended without one, -2 on timeout without any answer. */
static long read_answer(int fd, int timeout_ms, char *head, size_t headlen)
{
    char buf[8192];
    size_t got = 0;
    int64_t end = nm_mono_ms() + timeout_ms;
    if (headlen) head[0] = '\0';
    for (;;) {
        int left = (int)(end - nm_mono_ms());
        if (left <= 0) break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int pr = poll(&p, 1, left);
        if (pr <= 0) break;
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) {
            if (got == 0) return 0;
            break;
        }
        if (got < headlen - 1) {
            size_t k = (size_t)n < headlen - 1 - got ? (size_t)n : headlen - 1 - got;
            memcpy(head + got, buf, k);
            head[got + k] = '\0';
        }
        got += (size_t)n;
        if (got >= 12 && strstr(head, "\r\n\r\n")) {
            /* answer head is complete: with Connection: close the server closes next; don't wait for the body */
            break;
        }
    }
    if (got < 12) return got ? 0 : -2;
    if (strncmp(head, "HTTP/1.", 7) != 0) return 0;
    return strtol(head + 9, NULL, 10);
}

/* Sends `len` bytes on a fresh connection (stopping quietly if the server closes early) and reads
 * the answer. Returns as read_answer, or -1 when the connection could not be made. */
static long raw_request_t(const char *data, size_t len, char *head, size_t headlen, int timeout_ms)
{
    int fd = tcp_connect(g_srv.port);
    if (fd < 0) return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(fd, data + off, len - off, MSG_NOSIGNAL);
        if (n <= 0) break;   /* the server refused early and closed: its answer may still be readable */
        off += (size_t)n;
    }
    long st = read_answer(fd, timeout_ms, head, headlen);
    close(fd);
    return st;
}

static long raw_request(const char *data, size_t len, char *head, size_t headlen)
{
    return raw_request_t(data, len, head, headlen, 10000);
}

/* A raw entry that must be refused cleanly: an answer in `ok` (0-terminated list; 0 in the list
 * = closing without an answer is fine too). */
static void expect_raw(const char *name, const char *data, size_t len, const long *ok)
{
    char head[512];
    long st = raw_request(data, len, head, sizeof head);
    bool fine = false;
    for (size_t i = 0; ok[i] >= 0; i++)
        if (st == ok[i]) fine = true;
    if (!fine) fail_msg("[%s] answer %ld (0 = closed without answer, -2 = no answer in 10 s): %.200s", name, st, head);
    print_message("  [%s] -> %s %ld\n", name, st ? "HTTP" : "closed", st);
    entry_done(name);
}

/* ------------------------------------------------------------------ registry snapshot */

static void strip_timing(cJSON *reg)
{
    cJSON_DeleteItemFromObjectCaseSensitive(reg, "nowMs");
    const cJSON *ns, *sv;
    cJSON *in;
    cJSON_ArrayForEach(ns, cJSON_GetObjectItemCaseSensitive(reg, "namespaces"))
        cJSON_ArrayForEach(sv, cJSON_GetObjectItemCaseSensitive(ns, "services"))
            cJSON_ArrayForEach(in, cJSON_GetObjectItemCaseSensitive(sv, "instances")) {
                cJSON_DeleteItemFromObjectCaseSensitive(in, "lastBeatMs");
                cJSON_DeleteItemFromObjectCaseSensitive(in, "registeredMs");
            }
}

static cJSON *registry_now(void)
{
    cJSON *reg = nm_get_json(&g_srv, "/__mock/registry");
    if (!reg) fail_msg("GET /__mock/registry failed");
    strip_timing(reg);
    return reg;
}

/* ------------------------------------------------------------------ setup */

static void must(long want, const char *method, const char *path, const char *body, const char *ctype)
{
    struct nm_resp r;
    nm_http(&g_srv, method, path, body, ctype, NULL, &r);
    if (r.status != want) fail_msg("%s %s -> %ld %s (want %ld)", method, path, r.status, r.body, want);
    nm_resp_free(&r);
}

static int group_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    /* beats every 10 min: nobody turns unhealthy while the catalogue runs */
    const char *args[] = {"--beat-interval-ms", "600000", NULL};
    if (nm_start(&g_srv, args)) return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    cJSON_Delete(g_before);
    if (g_srv.pid > 0) {
        int rc = nm_stop(&g_srv);
        if (rc != 0) {
            fprintf(stderr, "nacos-mock did not stop cleanly (%d)\n", rc);
            return -1;
        }
    }
    return 0;
}

static void test_seed_registry(void **state)
{
    (void)state;
    must(200, "POST", SVC_PATH "?serviceName=bi-explicit&protectThreshold=0.5&metadata=owner%3Dqa", NULL, NULL);
    must(200, "POST", INST, "serviceName=bi-svc&ip=10.9.0.1&port=8080&weight=2&metadata=%7B%22k%22%3A%22v%22%7D",
         NULL);
    must(200, "POST", INST, "serviceName=bi-svc&ip=10.9.0.2&port=8081&clusterName=c1&ephemeral=false", NULL);
    must(200, "POST", INST, "serviceName=other&groupName=G1&namespaceId=ns1&ip=host-a.example&port=1", NULL);
    g_before = registry_now();
    assert_non_null(g_before);
    assert_alive("seed");
}

/* ------------------------------------------------------------------ size limits */

static void test_body_over_cap(void **state)
{
    (void)state;
    /* 1 MiB + 1 byte of form body */
    char *b = repeat(OKQ "&metadata=", "a", 1024 * 1024 + 1 - strlen(OKQ "&metadata="), "");
    assert_int_equal(strlen(b), 1024 * 1024 + 1);
    expect("body 1 MiB + 1 on register", "POST", INST, b, 413, "larger than");
    /* exactly at the cap is read, and then refused by the metadata check, not 413 */
    b[1024 * 1024] = '\0';
    expect("body exactly 1 MiB (metadata too large)", "POST", INST, b, 400, "'metadata'");
    free(b);
    char *j = repeat("", " ", 2 * 1024 * 1024, "{}");
    expect_h("control body 2 MiB", "POST", "/__mock/registry", j, "application/json", 413, NULL);
    free(j);

    /* a chunked body has no Content-Length to check up front: the cap must still hold */
    const size_t chunk = 64 * 1024, total = 2 * 1024 * 1024 + chunk;
    const char *hd = "POST " INST " HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                     "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    size_t cap = strlen(hd) + total + 64 * (total / chunk + 2);
    char *req = xmalloc(cap);
    size_t o = (size_t)snprintf(req, cap, "%s", hd);
    for (size_t sent = 0; sent < total; sent += chunk) {
        o += (size_t)snprintf(req + o, cap - o, "%zx\r\n", chunk);
        memset(req + o, 'a', chunk);
        o += chunk;
        o += (size_t)snprintf(req + o, cap - o, "\r\n");
    }
    o += (size_t)snprintf(req + o, cap - o, "0\r\n\r\n");
    expect_raw("chunked body 2 MiB", req, o, (const long[]){413, -1});
    free(req);
}

static void test_huge_url_and_headers(void **state)
{
    (void)state;
    const long refused[] = {400, 414, 431, 0, -1};
    char *u = repeat("GET " INST "/list?serviceName=", "a", 100 * 1000, " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    expect_raw("100 KB URL (GET list)", u, strlen(u), refused);
    free(u);
    u = repeat("POST " INST "?ip=10.9.9.9&port=8080&serviceName=", "b", 100 * 1000,
               " HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    expect_raw("100 KB URL (POST register)", u, strlen(u), refused);
    free(u);

    /* a 64 KB header value on an otherwise fine request: refused, or answered */
    const long header_ok[] = {200, 400, 413, 431, 0, -1};
    char *h = repeat("GET " LIVENESS " HTTP/1.1\r\nHost: x\r\nX-Big: ", "h", 64 * 1024, "\r\nConnection: close\r\n\r\n");
    expect_raw("64 KB header", h, strlen(h), header_ok);
    free(h);
    h = repeat("GET " LIVENESS " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n", "X-H: 0123456789\r\n", 4000, "\r\n");
    expect_raw("4000 headers", h, strlen(h), header_ok);
    free(h);
    h = repeat("GET " LIVENESS " HTTP/1.1\r\nHost: x\r\nUser-Agent: ", "u", 64 * 1024, "\r\nConnection: close\r\n\r\n");
    expect_raw("64 KB User-Agent", h, strlen(h), header_ok);
    free(h);
}

static void test_protocol_garbage(void **state)
{
    (void)state;
    const long refused[] = {400, 405, 411, 413, 501, 505, 0, -1};
    static const char *const garbage[][2] = {
        {"garbage request line", "GARBAGE\r\n\r\n"},
        {"binary request line", "\x01\x02\x03\x04\xff\xfe\r\n\r\n"},
        {"Content-Length not a number",
         "POST " INST " HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\nConnection: close\r\n\r\nserviceName=x"},
        {"Content-Length negative", "POST " INST " HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\nConnection: close\r\n\r\n"},
        {"Content-Length 2^64", "POST " INST " HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551616\r\n"
                                "Connection: close\r\n\r\n"},
        {"bad chunk size", "POST " INST " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                           "zz\r\nserviceName=x\r\n0\r\n\r\n"},
        {"unknown HTTP version", "GET " LIVENESS " HTTP/9.9\r\nHost: x\r\nConnection: close\r\n\r\n"},
    };
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++)
        expect_raw(garbage[i][0], garbage[i][1], strlen(garbage[i][1]), refused);
    /* libmicrohttpd is lenient about a missing Host (harmless for a mock): answered or refused */
    static const char no_host[] = "GET " LIVENESS " HTTP/1.1\r\nConnection: close\r\n\r\n";
    expect_raw("HTTP/1.1 without Host", no_host, sizeof no_host - 1, (const long[]){200, 400, -1});
}

/* ------------------------------------------------------------------ percent-encoding */

/* `enc` is sent as is; the server keeps a bad escape literally (decoding once), so the service is
 * named `literal`, and every endpoint must agree on that name (query or form body alike). */
static void pct_name_consistent(const char *enc, const char *literal)
{
    char name[128];
    snprintf(name, sizeof name, "serviceName=%s kept as \"%s\"", enc, literal);
    const char *key = nm_fmt("serviceName=%s&ip=10.9.7.7&port=8080", enc);
    must(200, "POST", nm_fmt(INST "?%s", key), NULL, NULL);

    cJSON *d = nm_get_json(&g_srv, nm_fmt(INST "?%s", key));
    if (!d) fail_msg("[%s] detail after register failed", name);
    const cJSON *svc = cJSON_GetObjectItemCaseSensitive(d, "service");
    char want[160];
    snprintf(want, sizeof want, "DEFAULT_GROUP@@%s", literal);
    if (!cJSON_IsString(svc) || strcmp(svc->valuestring, want))
        fail_msg("[%s] detail names the service %s, want %s", name, cJSON_IsString(svc) ? svc->valuestring : "?", want);
    cJSON_Delete(d);

    /* the registry holds the literal name */
    cJSON *reg = nm_get_json(&g_srv, "/__mock/registry");
    bool found = false;
    const cJSON *ns, *sv;
    cJSON_ArrayForEach(ns, cJSON_GetObjectItemCaseSensitive(reg, "namespaces"))
        cJSON_ArrayForEach(sv, cJSON_GetObjectItemCaseSensitive(ns, "services")) {
            const cJSON *n = cJSON_GetObjectItemCaseSensitive(sv, "name");
            if (cJSON_IsString(n) && !strcmp(n->valuestring, literal)) found = true;
        }
    cJSON_Delete(reg);
    if (!found) fail_msg("[%s] /__mock/registry has no service named \"%s\"", name, literal);

    /* the list (query) sees the instance; deregister through the form body finds the same key */
    cJSON *l = nm_get_json(&g_srv, nm_fmt(INST "/list?serviceName=%s", enc));
    if (!l || cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(l, "hosts")) != 1)
        fail_msg("[%s] list does not show the one instance", name);
    cJSON_Delete(l);
    must(200, "DELETE", INST, key, NULL);
    l = nm_get_json(&g_srv, nm_fmt(INST "/list?serviceName=%s", enc));
    if (!l || cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(l, "hosts")) != 0)
        fail_msg("[%s] form-body deregister did not remove the instance registered through the query", name);
    cJSON_Delete(l);
    must(200, "DELETE", nm_fmt(SVC_PATH "?serviceName=%s", enc), NULL, NULL);
    expect(name, "GET", nm_fmt(INST "?%s", key), NULL, 500, "no service");
}

static void test_percent_encoding(void **state)
{
    (void)state;
    pct_name_consistent("pct%zz", "pct%zz");
    pct_name_consistent("pct%4", "pct%4");
    pct_name_consistent("pct%", "pct%");
    pct_name_consistent("pct%4x1", "pct%4x1");
    pct_name_consistent("pct%2541", "pct%41");   /* decoded once, never twice */
    /* in fields with a strict syntax a kept escape is simply invalid */
    expect("ip=10.0.0.%zz", "POST", INST "?serviceName=bi-bad&ip=10.0.0.%zz&port=8080", NULL, 400, "'ip'");
    expect("ip=%", "POST", INST "?serviceName=bi-bad&ip=%&port=8080", NULL, 400, "'ip'");
    expect("port=80%4", "POST", INST "?serviceName=bi-bad&ip=10.9.9.9&port=80%4", NULL, 400, "'port'");
    expect("port=%zz", "POST", INST "?serviceName=bi-bad&ip=10.9.9.9&port=%zz", NULL, 400, "'port'");
    expect("weight=1%", "POST", INST "?" OKQ "&weight=1%", NULL, 400, "'weight'");
    expect("metadata=%zz (form body)", "POST", INST, OKQ "&metadata=%zz", 400, "'metadata'");
}

/* ------------------------------------------------------------------ NUL bytes, UTF-8 */

static void test_nul_bytes(void **state)
{
    (void)state;
    expect("NUL in serviceName", "POST", INST "?serviceName=a%00b&ip=10.9.9.9&port=8080", NULL, 400,
           "Param 'serviceName' contains a NUL byte");
    expect("NUL in ip", "POST", INST "?serviceName=bi-bad&ip=10.9.9.9%00&port=8080", NULL, 400,
           "Param 'ip' contains a NUL byte");
    expect("NUL in metadata", "POST", INST "?" OKQ "&metadata=%7B%22k%22%3A%22v%00w%22%7D", NULL, 400,
           "Param 'metadata' contains a NUL byte");
    expect("NUL in groupName", "POST", INST "?" OKQ "&groupName=g%00", NULL, 400, "Param 'groupName' contains a NUL");
    expect("NUL in clusterName (form body)", "POST", INST, OKQ "&clusterName=%00", 400,
           "Param 'clusterName' contains a NUL");
    expect("NUL in serviceName (form body)", "POST", INST, "serviceName=%00&ip=10.9.9.9&port=8080", 400,
           "Param 'serviceName' contains a NUL");
    expect("NUL in beat JSON", "PUT", BEAT "?serviceName=bi-bad&beat=%7B%22ip%22%3A%2210.9.9.9%00%22%7D", NULL, 400,
           "Param 'beat' contains a NUL");
    expect("NUL in namespaceId on list", "GET", INST "/list?serviceName=bi-bad&namespaceId=%00", NULL, 400,
           "Param 'namespaceId' contains a NUL");
    expect("NUL in service create", "POST", SVC_PATH "?serviceName=bi%00bad", NULL, 400,
           "Param 'serviceName' contains a NUL");
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    expect("serviceName %FF", "POST", INST "?serviceName=%FF&ip=10.9.9.9&port=8080", NULL, 400,
           "Param 'serviceName' is not valid UTF-8");
    expect("serviceName overlong %C0%AF", "POST", INST "?serviceName=a%C0%AF&ip=10.9.9.9&port=8080", NULL, 400,
           "Param 'serviceName' is not valid UTF-8");
    expect("serviceName surrogate %ED%A0%80", "POST", INST "?serviceName=%ED%A0%80&ip=10.9.9.9&port=8080", NULL, 400,
           "Param 'serviceName' is not valid UTF-8");
    expect("serviceName truncated %E2%82", "POST", INST "?serviceName=x%E2%82&ip=10.9.9.9&port=8080", NULL, 400,
           "Param 'serviceName' is not valid UTF-8");
    expect("serviceName raw 0xFF in form body", "POST", INST, "serviceName=\xff\xfe&ip=10.9.9.9&port=8080", 400,
           "Param 'serviceName' is not valid UTF-8");
    expect("groupName %FE", "POST", INST "?" OKQ "&groupName=%FE", NULL, 400, "Param 'groupName' is not valid UTF-8");
    expect("group part of grouped serviceName %FF", "POST", INST "?serviceName=%FF%40%40svc&ip=10.9.9.9&port=8080",
           NULL, 400, "Param 'groupName' is not valid UTF-8");
    expect("clusterName %C3", "POST", INST "?" OKQ "&clusterName=%C3", NULL, 400,
           "Param 'clusterName' is not valid UTF-8");
    expect("clusterName %F8 on beat", "PUT", BEAT "?" OKQ "&clusterName=%F8%88%80%80%80", NULL, 400,
           "Param 'clusterName' is not valid UTF-8");
    expect("serviceName %FF on list", "GET", INST "/list?serviceName=%FF", NULL, 400,
           "Param 'serviceName' is not valid UTF-8");
    expect("serviceName %FF on service create", "POST", SVC_PATH "?serviceName=%FF", NULL, 400,
           "Param 'serviceName' is not valid UTF-8");
    expect("control character in serviceName", "POST", INST "?serviceName=a%01b&ip=10.9.9.9&port=8080", NULL, 400,
           "Param 'serviceName' contains a control character");
}

/* ------------------------------------------------------------------ numbers and addresses */

static void test_ports(void **state)
{
    (void)state;
    static const char *const bad[] = {"0", "65536", "-1", "8080abc", "", "99999999999999999999", "0x50", "1.5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "register port=\"%s\"", bad[i]);
        expect(name, "POST", nm_fmt(INST "?serviceName=bi-bad&ip=10.9.9.9&port=%s", bad[i]), NULL, 400, "'port'");
    }
    expect("deregister port=65536", "DELETE", INST "?serviceName=bi-bad&ip=10.9.9.9&port=65536", NULL, 400, "'port'");
    expect("detail port=-1", "GET", INST "?serviceName=bi-bad&ip=10.9.9.9&port=-1", NULL, 400, "'port'");
    expect("beat port=0", "PUT", BEAT "?serviceName=bi-bad&ip=10.9.9.9&port=0", NULL, 400, "'port'");
    expect("beat JSON port \"8080abc\"", "PUT",
           BEAT "?serviceName=bi-bad&beat=%7B%22ip%22%3A%2210.9.9.9%22%2C%22port%22%3A%228080abc%22%7D", NULL, 400,
           "'port'");
    expect("beat JSON port 70000", "PUT",
           BEAT "?serviceName=bi-bad&beat=%7B%22ip%22%3A%2210.9.9.9%22%2C%22port%22%3A70000%7D", NULL, 400, "'port'");
}

static void test_ips(void **state)
{
    (void)state;
    char long_ip[301];
    memset(long_ip, 'a', 300);
    long_ip[300] = '\0';
    const char *bad[] = {"999.1.1.1", "1.2.3", "a..b", "-host", long_ip, "1.2.3.4.5", "::zz", "host-", "a b",
                         "10.0.0.1:8080"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "register ip=\"%.20s%s\"", bad[i], strlen(bad[i]) > 20 ? "..." : "");
        expect(name, "POST", nm_fmt(INST "?serviceName=bi-bad&ip=%s&port=8080", nm_enc(bad[i])), NULL, 400, "'ip'");
    }
    expect("register ip missing", "POST", INST "?serviceName=bi-bad&ip=&port=8080", NULL, 400,
           "Param 'ip' is required");
    expect("beat JSON ip 999.1.1.1", "PUT", BEAT "?serviceName=bi-bad&port=8080&beat=%7B%22ip%22%3A%22999.1.1.1%22%7D",
           NULL, 400, "'ip'");
}

static void test_weights(void **state)
{
    (void)state;
    static const struct { const char *w; long status; } cases[] = {
        {"NaN", 400}, {"abc", 400}, {"Infinity", 400}, {"1e999", 400}, {"0x10", 400}, {"1,5", 400},
        {"-1", 500}, {"10000.5", 500}, {"-0.0001", 500}, {"1e5", 500},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "register weight=%s", cases[i].w);
        expect(name, "POST", nm_fmt(INST "?" OKQ "&weight=%s", nm_enc(cases[i].w)), NULL, cases[i].status, "'weight'");
    }
    expect("patch weight=-1 (instance known)", "PATCH", INST "?serviceName=bi-svc&ip=10.9.0.1&port=8080&weight=-1",
           NULL, 500, "'weight'");
    expect("beat JSON weight 10001 (unknown instance)", "PUT",
           BEAT "?serviceName=bi-bad&beat=%7B%22ip%22%3A%2210.9.9.9%22%2C%22port%22%3A8080%2C%22weight%22%3A10001%7D",
           NULL, 500, "'weight'");
}

/* ------------------------------------------------------------------ metadata, params, JSON */

static void test_metadata(void **state)
{
    (void)state;
    static const char *const bad[] = {"{bad", "a=b=c", "=x", "a=", "a=1,,b=2", "[1,2]", "\"str\"", "{\"k\":\"v\"",
                                      "k=v,=w"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "register metadata=%s", bad[i]);
        expect(name, "POST", INST, nm_fmt(OKQ "&metadata=%s", nm_enc(bad[i])), 400, "'metadata'");
    }
    expect("service create metadata={bad", "POST", SVC_PATH, "serviceName=bi-bad&metadata=%7Bbad", 400, "'metadata'");
    expect("patch metadata=a=b=c (instance known)", "PATCH", INST,
           "serviceName=bi-svc&ip=10.9.0.1&port=8080&metadata=a%3Db%3Dc", 400, "'metadata'");
    expect("metadata heart beat interval not a number", "POST", INST,
           OKQ "&metadata=preserved.heart.beat.interval%3Dsoon", 400, "'metadata'");

    /* over 64 KB: k=vvvv... of 65537 bytes (a valid k=v otherwise) */
    char *b = repeat(OKQ "&metadata=k%3D", "v", 64 * 1024 - 1, "");
    expect("metadata 64 KB + 1", "POST", INST, b, 400, "Param 'metadata' is too large");
    free(b);
    b = repeat(OKQ "&metadata=%7B%22k%22%3A%22", "v", 70 * 1024, "%22%7D");
    expect("JSON metadata 70 KB", "POST", INST, b, 400, "Param 'metadata' is too large");
    free(b);
    b = repeat("serviceName=bi-bad&metadata=k%3D", "v", 64 * 1024 - 1, "");
    expect("service create metadata 64 KB + 1", "POST", SVC_PATH, b, 400, "'metadata'");
    free(b);
}

/* A raw request: `prefix` then `n` query pieces, `&kI=I` (distinct) or `&a` (tiny). */
static size_t query_request(char *b, size_t cap, const char *prefix, bool tiny, int n)
{
    size_t o = (size_t)snprintf(b, cap, "%s", prefix);
    for (int i = 0; i < n && o < cap; i++)
        o += tiny ? (size_t)snprintf(b + o, cap - o, "&a") : (size_t)snprintf(b + o, cap - o, "&k%d=%d", i, i);
    o += (size_t)snprintf(b + o, cap - o, " HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    if (o >= cap) fail_msg("query_request buffer too small");
    return o;
}

static void test_too_many_params_body(void **state)
{
    (void)state;
    /* 2,000 distinct keys in the form body */
    size_t cap = 32 * 2000 + 256, o = 0;
    char *b = xmalloc(cap);
    o += (size_t)snprintf(b + o, cap - o, "%s", OKQ);
    for (int i = 0; i < 2000; i++) o += (size_t)snprintf(b + o, cap - o, "&k%d=%d", i, i);
    expect("2000 parameters in the form body", "POST", INST, b, 400, "too many parameters");
    free(b);
}

static void test_too_many_params_query(void **state)
{
    (void)state;
    /* the same 2,000 keys in the query string: the parameter limit answers, the connection is not lost */
    size_t cap = 64 * 1024;
    char *b = xmalloc(cap), head[512];
    size_t o = query_request(b, cap, "POST " INST "?" OKQ, false, 2000);
    long st = raw_request_t(b, o, head, sizeof head, 3000);
    free(b);
    if (st != 400 && st != 414 && st != 431)
        fail_msg("[2000 parameters in the query] answer %ld (0 = closed without an answer, -2 = connection held 3 s "
                 "without an answer): %.200s", st, head);
    entry_done("2000 parameters in the query");
}

static void test_tiny_params_query(void **state)
{
    (void)state;
    /* 5,000 one-byte keys in a 10 KB query: refused (or closed) at once, not held without an answer */
    size_t cap = 64 * 1024;
    char *b = xmalloc(cap), head[512];
    size_t o = query_request(b, cap, "GET " INST "/list?serviceName=bi-bad", true, 5000);
    long st = raw_request_t(b, o, head, sizeof head, 3000);
    free(b);
    if (st != 400 && st != 414 && st != 431 && st != 0)
        fail_msg("[5000 one-byte parameters in a 10 KB query] answer %ld (-2 = connection held 3 s without an "
                 "answer): %.200s", st, head);
    entry_done("5000 one-byte parameters in a 10 KB query");
}

static void test_params_under_cap_query(void **state)
{
    (void)state;
    /* under PARAMS_MAX (1024) a query is an ordinary one: 600 junk keys on a list */
    size_t cap = 64 * 1024;
    char *b = xmalloc(cap), head[512];
    size_t o = query_request(b, cap, "GET " INST "/list?serviceName=bi-bad", false, 600);
    long st = raw_request_t(b, o, head, sizeof head, 3000);
    free(b);
    if (st != 200)
        fail_msg("[600 parameters in the query] answer %ld (0 = closed without an answer, -2 = connection held 3 s "
                 "without an answer), want 200: %.200s", st, head);
    entry_done("600 parameters in the query (under the limit)");
}

static void test_deep_json(void **state)
{
    (void)state;
    char *deep = repeat("", "%5B", 10000, "");                        /* [[[[... encoded */
    char *deep_obj = repeat("", "%7B%22a%22%3A", 10000, "1");         /* {"a":{"a":... */
    size_t cap = strlen(deep_obj) + 512;
    char *b = xmalloc(cap);

    snprintf(b, cap, OKQ "&metadata=%s", deep);
    expect("metadata: 10,000 levels of [", "POST", INST, b, 400, "'metadata'");
    snprintf(b, cap, OKQ "&metadata=%s", deep_obj);
    expect("metadata: 10,000 nested objects", "POST", INST, b, 400, "'metadata'");
    snprintf(b, cap, "serviceName=bi-bad&ip=10.9.9.9&port=8080&beat=%s", deep);
    expect("beat: 10,000 levels of [", "PUT", BEAT, b, 400, "'beat'");
    snprintf(b, cap, "serviceName=bi-bad&beat=%%7B%%22ip%%22%%3A%%2210.9.9.9%%22%%2C%%22port%%22%%3A8080%%2C%%22metadata%%22%%3A%s",
            deep_obj);
    expect("beat: metadata nested 10,000 deep", "PUT", BEAT, b, 400, "'beat'");
    snprintf(b, cap, "serviceName=bi-bad&selector=%s", deep);
    expect("service create: selector 10,000 levels", "POST", SVC_PATH, b, 400, "'selector'");
    snprintf(b, cap, "serviceName=bi-svc&metadata=%s&instances=%s", "k%3Dv", deep);
    expect("metadata batch: instances 10,000 levels", "PUT", INST "/metadata/batch", b, 400, "'instances'");

    /* with a fault rule present the dispatcher parses the beat JSON too, before the handler */
    must(201, "POST", "/__mock/faults",
         "{\"id\":\"bi-elsewhere\",\"match\":{\"api\":\"beat\",\"serviceName\":\"nowhere\"},\"action\":{\"status\":500}}",
         "application/json");
    snprintf(b, cap, "serviceName=bi-bad&ip=10.9.9.9&port=8080&beat=%s", deep);
    expect("beat: 10,000 levels of [ with a fault rule installed", "PUT", BEAT, b, 400, "'beat'");
    must(204, "DELETE", "/__mock/faults/bi-elsewhere", NULL, NULL);
    free(b);
    free(deep);
    free(deep_obj);
}

static void test_beat_json(void **state)
{
    (void)state;
    static const struct { const char *name, *beat, *needle; } cases[] = {
        {"truncated beat JSON", "{\"ip\":\"10.9.9.9\",\"port\":8080", "'beat'"},
        {"beat JSON cut in a string", "{\"ip\":\"10.9", "'beat'"},
        {"beat JSON is an array", "[{\"ip\":\"10.9.9.9\"}]", "'beat'"},
        {"beat JSON is a number", "42", "'beat'"},
        {"beat JSON trailing comma", "{\"ip\":\"10.9.9.9\",}", "'beat'"},
        {"beat JSON metadata not an object", "{\"ip\":\"10.9.9.9\",\"port\":8080,\"metadata\":[1]}", "'beat'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect(cases[i].name, "PUT", BEAT, nm_fmt("serviceName=bi-bad&beat=%s", nm_enc(cases[i].beat)), 400,
               cases[i].needle);
    /* the Go SDK's raw (unencoded) body form */
    expect("raw truncated beat in a PUT body", "PUT", BEAT "?serviceName=bi-bad", "beat={\"ip\":\"10.9.9.9\",\"port\":", 400,
           "'beat'");
}

/* ------------------------------------------------------------------ hostile connections */

static void test_slowloris(void **state)
{
    (void)state;
    /* four trickling clients per worker thread (default 2): a worker held by one would show */
    enum { N = 8 };
    static const char req_hdr[] = "GET " LIVENESS " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    static const char form[] = "serviceName=slow&ip=10.9.9.9&port=8080&x=";
    static const char req_body[] = "POST " INST " HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n"
                                   "Content-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n\r\n";
    int fd[N];
    size_t sent[N];
    for (int i = 0; i < N; i++) {
        fd[i] = tcp_connect(g_srv.port);
        if (fd[i] < 0) fail_msg("slowloris connect %d failed", i);
        sent[i] = 0;
        if (i % 2) {   /* odd ones send their headers at once and then trickle the body */
            if (send(fd[i], req_body, sizeof req_body - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof req_body - 1))
                fail_msg("slowloris send failed");
        }
    }
    /* Every request must be answered in < 100 ms. A worker held by a trickling client would stall
     * the requests routed to it until that client's next byte — about a second — so on a loaded
     * host two stray answers between 100 ms and 1 s are tolerated (and printed), never more. */
    /* a server whose workers a trickling client could hold would hold a request for the whole trickle
     * (seconds): `hard_ms` tells that apart from a loaded machine's latency; how many took over
     * `limit_ms` is printed, not judged (README, "Tests": no speed asserted) */
    const int64_t limit_ms = under_tool() ? 2000 : 100, hard_ms = under_tool() ? 5000 : 2500;
    int64_t t0 = nm_mono_ms(), next_byte = t0, worst = 0;
    int answered = 0, slow = 0;
    while (nm_mono_ms() - t0 < 5000) {
        if (nm_mono_ms() >= next_byte) {
            for (int i = 0; i < N; i++) {
                const char *c = i % 2 ? &form[sent[i]] : &req_hdr[sent[i]];
                if (send(fd[i], c, 1, MSG_NOSIGNAL) != 1) fail_msg("slowloris %d: the server closed after %zu bytes", i, sent[i]);
                sent[i]++;
            }
            next_byte += 1000;
        }
        int64_t a = nm_mono_ms();
        struct nm_resp r;
        nm_get(&g_srv, answered % 2 ? LIVENESS : INST "/list?serviceName=bi-svc", &r);
        int64_t took = nm_mono_ms() - a;
        if (r.status != 200) fail_msg("[slowloris] request while trickling -> %ld (curl %d)", r.status, r.curl_code);
        nm_resp_free(&r);
        if (took > worst) worst = took;
        if (took >= limit_ms) {
            slow++;
            print_message("  [slowloris] request %d took %lld ms\n", answered, (long long)took);
        }
        answered++;
        usleep(20000);
    }
    print_message("  [slowloris] %d trickling connections for 5 s; %d requests meanwhile, slowest %lld ms, %d at or over "
                  "%lld ms\n",
                  N, answered, (long long)worst, slow, (long long)limit_ms);
    if (worst >= hard_ms)
        fail_msg("[slowloris] requests were held while clients trickled: slowest %lld ms, %d over %lld ms",
                 (long long)worst, slow, (long long)limit_ms);
    if (answered < 20) fail_msg("[slowloris] only %d requests answered in 5 s", answered);
    for (int i = 0; i < N; i++) close(fd[i]);
    entry_done("slowloris: 8 connections sending one byte per second for 5 s");
}

static int count_fds(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

/* The server's fd count once it has stopped changing (connections closed just before are gone). */
static int settled_fds(pid_t pid)
{
    int n = count_fds(pid), same = 0;
    for (int i = 0; i < 200 && same < 10; i++) {
        usleep(10000);
        int m = count_fds(pid);
        same = m == n ? same + 1 : 0;
        n = m;
    }
    return n;
}

static void test_many_idle_connections(void **state)
{
    (void)state;
    enum { N = 300 };
    int base = settled_fds(g_srv.pid);
    if (base < 0) fail_msg("cannot read /proc/%d/fd", (int)g_srv.pid);
    int fd[N];
    for (int i = 0; i < N; i++)
        if ((fd[i] = tcp_connect(g_srv.port)) < 0) fail_msg("idle connection %d could not connect: %s", i, strerror(errno));
    /* the server accepts them all (they are its fds now) and still answers a new client */
    int during = 0;
    const int slack = 4;   /* fds the server opens and closes on its own (a curl connection closing, ...) */
    for (int i = 0; i < 100 && (during = count_fds(g_srv.pid)) < base + N - slack; i++) usleep(10000);
    struct nm_resp r;
    nm_get(&g_srv, INST "/list?serviceName=bi-svc", &r);
    if (r.status != 200) fail_msg("[300 idle connections] a new request -> %ld (curl %d)", r.status, r.curl_code);
    if (r.seconds > (under_tool() ? 5.0 : 2.5)) fail_msg("[300 idle connections] a new request took %.3f s", r.seconds);
    nm_resp_free(&r);
    for (int i = 0; i < N; i++) close(fd[i]);
    /* ... and releases every one of them once the clients are gone */
    /* The deadline is generous (a sanitizer build on a loaded machine released 172 of 300 in the first 3 s) but
       well under the 60 s connection timeout: fds that are only released by the timeout still fail here. */
    int after = -1;
    int64_t t0 = nm_mono_ms(), took = -1;
    while ((after = count_fds(g_srv.pid)) > base && nm_mono_ms() - t0 < 15000) usleep(10000);
    took = nm_mono_ms() - t0;
    print_message("  [idle connections] server fds: %d before, %d with %d idle clients, %d %lld ms after they left\n",
                  base, during, N, after, (long long)took);
    if (during < base + N - slack) fail_msg("[300 idle connections] the server holds only %d fds (base %d)", during, base);
    if (after > base)
        fail_msg("[300 idle connections] %d fds still open 15 s after the clients closed (base %d)", after, base);
    entry_done("300 idle connections at once");
}

/* ------------------------------------------------------------------ control plane */

static void test_control_bad_json(void **state)
{
    (void)state;
    char *deep = repeat("", "[", 1000 * 1000, "");
    const char *bodies[][2] = {{"{", "'{'"}, {"[]", "'[]'"}, {"\"x\"", "'\"x\"'"}, {deep, "1 MB of '['"}};
    static const char *const eps[][2] = {
        {"POST", "/__mock/faults"}, {"PUT", "/__mock/status"}, {"POST", "/__mock/clock/advance"},
        {"POST", "/__mock/registry"}, {"POST", "/__mock/forget"},
    };
    for (size_t e = 0; e < sizeof eps / sizeof eps[0]; e++)
        for (size_t b = 0; b < sizeof bodies / sizeof bodies[0]; b++) {
            char name[96];
            snprintf(name, sizeof name, "%s %s with %s", eps[e][0], eps[e][1], bodies[b][1]);
            struct nm_resp r;
            nm_http(&g_srv, eps[e][0], eps[e][1], bodies[b][0], "application/json", NULL, &r);
            if (r.status != 400) fail_msg("[%s] -> %ld %.200s, want 400", name, r.status, r.body);
            cJSON *j = cJSON_Parse(r.body);
            const cJSON *err = cJSON_GetObjectItemCaseSensitive(j, "error");
            if (!cJSON_IsString(err) || !*err->valuestring || !strstr(r.content_type, "application/json"))
                fail_msg("[%s] not a JSON error: %s %.200s", name, r.content_type, r.body);
            cJSON_Delete(j);
            nm_resp_free(&r);
            entry_done(name);
        }
    free(deep);
    /* well-formed JSON with wrong fields names the field */
    expect_h("status SIDEWAYS", "PUT", "/__mock/status", "{\"status\":\"SIDEWAYS\"}", "application/json", 400,
             "'status'");
    expect_h("fault with unknown api", "POST", "/__mock/faults", "{\"match\":{\"api\":\"nope\"},\"action\":{\"status\":500}}",
             "application/json", 400, "'match.api'");
    expect_h("clock advance ms=-1", "POST", "/__mock/clock/advance", "{\"ms\":-1}", "application/json", 400, "'ms'");
    expect_h("registry snapshot with a bad port", "POST", "/__mock/registry",
             "{\"namespaces\":[{\"namespaceId\":\"public\",\"services\":[{\"name\":\"bi-bad\",\"instances\":"
             "[{\"ip\":\"10.9.9.9\",\"port\":0}]}]}]}",
             "application/json", 400, "port");
    /* nothing of the above changed the fault table or the server status */
    cJSON *f = nm_get_json(&g_srv, "/__mock/faults");
    assert_non_null(f);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(f, "faults")), 0);
    cJSON_Delete(f);
    cJSON *s = nm_get_json(&g_srv, "/__mock/status");
    assert_non_null(s);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(s, "status")->valuestring, "UP");
    cJSON_Delete(s);
}

/* ------------------------------------------------------------------ the end */

static void test_registry_unchanged(void **state)
{
    (void)state;
    assert_non_null(g_before);
    cJSON *after = registry_now();
    if (!cJSON_Compare(g_before, after, true)) {
        char *a = cJSON_PrintUnformatted(g_before), *b = cJSON_PrintUnformatted(after);
        fprintf(stderr, "registry before: %s\nregistry after:  %s\n", a, b);
        cJSON_free(a);
        cJSON_free(b);
        cJSON_Delete(after);
        fail_msg("the bad-input catalogue changed the registry");
    }
    cJSON_Delete(after);
    assert_alive("catalogue");
    printf("bad-input catalogue: %d entries, server alive after each, registry unchanged\n", g_entries);
    assert_true(g_entries >= 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_registry),
        cmocka_unit_test(test_body_over_cap),
        cmocka_unit_test(test_huge_url_and_headers),
        cmocka_unit_test(test_protocol_garbage),
        cmocka_unit_test(test_percent_encoding),
        cmocka_unit_test(test_nul_bytes),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_ports),
        cmocka_unit_test(test_ips),
        cmocka_unit_test(test_weights),
        cmocka_unit_test(test_metadata),
        cmocka_unit_test(test_too_many_params_body),
        cmocka_unit_test(test_too_many_params_query),
        cmocka_unit_test(test_tiny_params_query),
        cmocka_unit_test(test_params_under_cap_query),
        cmocka_unit_test(test_deep_json),
        cmocka_unit_test(test_beat_json),
        cmocka_unit_test(test_slowloris),
        cmocka_unit_test(test_many_idle_connections),
        cmocka_unit_test(test_control_bad_json),
        cmocka_unit_test(test_registry_unchanged),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
