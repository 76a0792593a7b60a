/*
 * harness.c — real-process server control and libcurl helpers (see harness.h).
 */
#include "harness.h"

#include <curl/curl.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef NACOS_MOCK_BIN
#error "NACOS_MOCK_BIN must name the built executable"
#endif

int nm_start(struct nm_server *s, const char *const *args)
{
    memset(s, 0, sizeof *s);
    int out[2];
    if (pipe(out)) return -1;
    static int counter;
    snprintf(s->err_path, sizeof s->err_path, "/tmp/nacos-mock-test-%d-%d.err", (int)getpid(), counter++);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        const char *argv[96];
        int n = 0;
        /* NM_SERVER_WRAPPER="valgrind --leak-check=full --error-exitcode=99" runs the server under a tool */
        static char wrap[1024];
        const char *w = getenv("NM_SERVER_WRAPPER");
        if (w && *w) {
            snprintf(wrap, sizeof wrap, "%s", w);
            for (char *t = wrap; *t && n < 30;) {
                while (*t == ' ') *t++ = '\0';
                if (!*t) break;
                argv[n++] = t;
                while (*t && *t != ' ') t++;
            }
        }
        argv[n++] = NACOS_MOCK_BIN;
        argv[n++] = "--host";
        argv[n++] = "127.0.0.1";
        argv[n++] = "--port";
        argv[n++] = "0";
        for (int i = 0; args && args[i] && n < 94; i++) argv[n++] = args[i];
        argv[n] = NULL;
        dup2(out[1], 1);
        close(out[0]);
        close(out[1]);
        FILE *e = freopen(s->err_path, "w", stderr);
        (void)e;
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(out[1]);
    s->pid = pid;
    FILE *f = fdopen(out[0], "r");
    char line[256];
    int rc = -1;
    if (f && fgets(line, sizeof line, f)) {
        const char *colon = strrchr(line, ':');
        if (strstr(line, "nacos-mock listening on http://") && colon) {
            s->port = (int)strtol(colon + 1, NULL, 10);
            snprintf(s->base, sizeof s->base, "http://127.0.0.1:%d", s->port);
            rc = s->port > 0 ? 0 : -1;
        }
    }
    if (f) fclose(f);   /* the server may keep writing to a closed pipe: it ignores SIGPIPE */
    if (rc) {
        fprintf(stderr, "nacos-mock did not start; its stderr (%s):\n", s->err_path);
        FILE *e = fopen(s->err_path, "r");
        while (e && fgets(line, sizeof line, e)) fputs(line, stderr);
        if (e) fclose(e);
        nm_kill(s);
    }
    return rc;
}

int nm_stop(struct nm_server *s)
{
    if (s->pid <= 0) return -1;
    kill(s->pid, SIGTERM);
    int status = 0;
    for (int i = 0; i < 3000; i++) {   /* up to 30 s (valgrind's leak check takes a while) */
        pid_t r = waitpid(s->pid, &status, WNOHANG);
        if (r == s->pid) {
            s->pid = 0;
            int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            /* a sanitizer's report (ASan, TSan: exit code 66 by default) is in the server's stderr */
            if (rc) fprintf(stderr, "nacos-mock exited with %d; its stderr is kept at %s\n", rc, s->err_path);
            else unlink(s->err_path);
            return rc;
        }
        usleep(10000);
    }
    nm_kill(s);
    return -1;
}

/* In a forked child: drops every NACOS_MOCK_* variable, then sets those of env. */
static void child_env(const char *const *env)
{
    extern char **environ;
    for (bool again = true; again;) {
        again = false;
        for (char **e = environ; *e; e++) {
            if (strncmp(*e, "NACOS_MOCK_", 11)) continue;
            char name[256];
            const char *eq = strchr(*e, '=');
            snprintf(name, sizeof name, "%.*s", eq ? (int)(eq - *e) : (int)strlen(*e), *e);
            unsetenv(name);
            again = true;
            break;
        }
    }
    for (int i = 0; env && env[i]; i++) putenv((char *)env[i]);
}

int nm_run(const char *const *args, const char *const *env, int timeout_ms, char *out, size_t outcap, char *err,
           size_t errcap)
{
    int po[2], pe[2];
    out[0] = err[0] = '\0';
    if (pipe(po)) return -2;
    if (pipe(pe)) {
        close(po[0]);
        close(po[1]);
        return -2;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        const char *argv[64];
        int n = 0;
        argv[n++] = NACOS_MOCK_BIN;
        for (int i = 0; args[i] && n < 63; i++) argv[n++] = args[i];
        argv[n] = NULL;
        child_env(env);
        dup2(po[1], 1);
        dup2(pe[1], 2);
        close(po[0]); close(po[1]); close(pe[0]); close(pe[1]);
        execv(NACOS_MOCK_BIN, (char *const *)argv);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    if (pid < 0) {
        close(po[0]);
        close(pe[0]);
        return -2;
    }
    size_t no = 0, ne = 0;
    int64_t deadline = nm_mono_ms() + timeout_ms;
    bool open_o = true, open_e = true;
    while ((open_o || open_e) && nm_mono_ms() < deadline) {
        struct pollfd p[2] = {{.fd = open_o ? po[0] : -1, .events = POLLIN}, {.fd = open_e ? pe[0] : -1, .events = POLLIN}};
        if (poll(p, 2, 100) <= 0) continue;
        if (p[0].revents) {
            ssize_t k = read(po[0], out + no, outcap - 1 - no);
            if (k <= 0) open_o = false; else no += (size_t)k;
            out[no] = '\0';
        }
        if (p[1].revents) {
            ssize_t k = read(pe[0], err + ne, errcap - 1 - ne);
            if (k <= 0) open_e = false; else ne += (size_t)k;
            err[ne] = '\0';
        }
    }
    close(po[0]);
    close(pe[0]);
    int status = 0;
    do {
        if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        usleep(10000);
    } while (nm_mono_ms() < deadline + 2000);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

void nm_kill(struct nm_server *s)
{
    if (s->pid <= 0) return;
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct nm_resp *r = ud;
    size_t len = size * n;
    if (r->len + len + 1 > r->cap) {   /* doubling: a 10 MiB answer arrives in ~1,000 pieces */
        size_t cap = r->cap ? r->cap : 4096;
        while (cap < r->len + len + 1) cap *= 2;
        char *nb = realloc(r->body, cap);
        if (!nb) return 0;
        r->body = nb;
        r->cap = cap;
    }
    memcpy(r->body + r->len, p, len);
    r->len += len;
    r->body[r->len] = '\0';
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct nm_resp *r = ud;
    size_t len = size * n, have = strlen(r->headers);
    if (strncmp(p, "HTTP/", 5) == 0) {   /* a new response (after a 100 Continue) */
        r->headers[0] = '\0';
        have = 0;
    }
    if (have + len < sizeof r->headers) {
        memcpy(r->headers + have, p, len);
        r->headers[have + len] = '\0';
    }
    if (len > 14 && strncasecmp(p, "Authorization:", 14) == 0) {
        size_t k = len - 14;
        const char *v = p + 14;
        while (k && (*v == ' ')) { v++; k--; }
        while (k && (v[k - 1] == '\r' || v[k - 1] == '\n')) k--;
        snprintf(r->authorization, sizeof r->authorization, "%.*s", (int)k, v);
    }
    return len;
}

long nm_http_h(const struct nm_server *s, const char *method, const char *path, const char *body,
               const char *content_type, const char *ua, const char *const *headers, struct nm_resp *r)
{
    memset(r, 0, sizeof *r);
    r->body = calloc(1, 1);
    CURL *c = curl_easy_init();
    if (!c) return -1;
    char url[16384];
    snprintf(url, sizeof url, "%s%s", s->base, path);
    struct curl_slist *h = NULL;
    char ct[256];
    if (body) {
        snprintf(ct, sizeof ct, "Content-Type: %s", content_type ? content_type : "application/x-www-form-urlencoded");
        h = curl_slist_append(h, ct);
    }
    for (int i = 0; headers && headers[i]; i++) h = curl_slist_append(h, headers[i]);
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
    }
    if (ua) curl_easy_setopt(c, CURLOPT_USERAGENT, ua);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(c);
    r->curl_code = (int)rc;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
        char *cth = NULL;
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &cth);
        if (cth) snprintf(r->content_type, sizeof r->content_type, "%s", cth);
    } else {
        r->status = -1;
    }
    curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &r->seconds);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return r->status;
}

long nm_http(const struct nm_server *s, const char *method, const char *path, const char *body,
             const char *content_type, const char *ua, struct nm_resp *r)
{
    return nm_http_h(s, method, path, body, content_type, ua, NULL, r);
}

const char *nm_resp_header(const struct nm_resp *r, const char *name, char *out, size_t len)
{
    size_t n = strlen(name);
    for (const char *l = r->headers; *l;) {
        const char *eol = strstr(l, "\r\n");
        size_t ll = eol ? (size_t)(eol - l) : strlen(l);
        if (ll > n && l[n] == ':' && strncasecmp(l, name, n) == 0) {
            const char *v = l + n + 1;
            while (*v == ' ') v++;
            snprintf(out, len, "%.*s", (int)(ll - (size_t)(v - l)), v);
            return out;
        }
        if (!eol) break;
        l = eol + 2;
    }
    return NULL;
}

void nm_resp_free(struct nm_resp *r)
{
    free(r->body);
    r->body = NULL;
}

long nm_get(const struct nm_server *s, const char *path, struct nm_resp *r)
{
    return nm_http(s, "GET", path, NULL, NULL, NULL, r);
}

cJSON *nm_get_json(const struct nm_server *s, const char *path)
{
    struct nm_resp r;
    nm_get(s, path, &r);
    cJSON *j = r.status == 200 ? cJSON_Parse(r.body) : NULL;
    if (!j) fprintf(stderr, "GET %s -> %ld %s\n", path, r.status, r.body ? r.body : "");
    nm_resp_free(&r);
    return j;
}

long nm_post_form(const struct nm_server *s, const char *path, const char *form, struct nm_resp *r)
{
    return nm_http(s, "POST", path, form, NULL, NULL, r);
}

const char *nm_fmt(const char *fmt, ...)
{
    static __thread char bufs[8][8192];
    static __thread int slot;
    char *b = bufs[slot++ & 7];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof bufs[0], fmt, ap);
    va_end(ap);
    return b;
}

const char *nm_enc(const char *s)
{
    static __thread char bufs[8][8192];
    static __thread int slot;
    char *b = bufs[slot++ & 7];
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && o + 4 < sizeof bufs[0]; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("-._~", *p))
            b[o++] = (char)*p;
        else
            o += (size_t)snprintf(b + o, 4, "%%%02X", *p);
    }
    b[o] = '\0';
    return b;
}

#define NM_TEST_SERVERS 8
static struct nm_server *g_test_srv[NM_TEST_SERVERS];

struct nm_server *nm_test_start(const char *const *args)
{
    struct nm_server *s = calloc(1, sizeof *s);
    assert_non_null(s);
    if (nm_start(s, args)) fail_msg("nacos-mock did not start");
    for (int i = 0; i < NM_TEST_SERVERS; i++)
        if (!g_test_srv[i]) {
            g_test_srv[i] = s;
            break;
        }
    return s;
}

void nm_test_untrack(struct nm_server *s)
{
    for (int i = 0; i < NM_TEST_SERVERS; i++)
        if (g_test_srv[i] == s) g_test_srv[i] = NULL;
}

void nm_test_stop(struct nm_server *s)
{
    nm_test_untrack(s);
    int rc = nm_stop(s);
    free(s);
    assert_int_equal(rc, 0);
}

int nm_test_teardown(void **state)
{
    (void)state;
    for (int i = 0; i < NM_TEST_SERVERS; i++)
        if (g_test_srv[i]) {
            fprintf(stderr, "server stderr kept at %s\n", g_test_srv[i]->err_path);
            nm_kill(g_test_srv[i]);
            free(g_test_srv[i]);
            g_test_srv[i] = NULL;
        }
    return 0;
}

int64_t nm_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t nm_mono_ms(void) { return nm_mono_us() / 1000; }

uint32_t nm_rand(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x ? x : 0x9e3779b9u;
}

const cJSON *nm_field(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) {
        char *t = cJSON_PrintUnformatted(o);
        fail_msg("no field '%s' in %s", key, t ? t : "(null)");
    }
    return v;
}

const char *nm_jstr(const cJSON *o, const char *key)
{
    const cJSON *v = nm_field(o, key);
    if (!cJSON_IsString(v)) fail_msg("field '%s' is not a string", key);
    return v->valuestring;
}

double nm_jnum(const cJSON *o, const char *key)
{
    const cJSON *v = nm_field(o, key);
    if (!cJSON_IsNumber(v)) fail_msg("field '%s' is not a number", key);
    return v->valuedouble;
}

void nm_assert_json(const cJSON *o, const char *want)
{
    char *t = cJSON_PrintUnformatted(o);
    if (!t) fail_msg("cannot print JSON");
    if (strcmp(t, want) != 0) fail_msg("got %s, want %s", t, want);
    cJSON_free(t);
}

char *nm_registry_snapshot(const struct nm_server *s)
{
    cJSON *j = nm_get_json(s, "/__mock/registry");
    if (!j) fail_msg("GET /__mock/registry failed");
    cJSON_DeleteItemFromObjectCaseSensitive(j, "nowMs");
    char *t = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!t) fail_msg("cannot print the registry");
    return t;
}

double nm_metric(const struct nm_server *s, const char *series)
{
    struct nm_resp r;
    long st = nm_get(s, "/__mock/metrics", &r);
    if (st != 200) fail_msg("GET /__mock/metrics -> %ld", st);
    const char *p = strstr(r.body, series);
    if (!p) {
        nm_resp_free(&r);
        fail_msg("no series %s on /__mock/metrics", series);
    }
    double v = strtod(p + strlen(series), NULL);
    nm_resp_free(&r);
    return v;
}

char *nm_read_all(FILE *f)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m) fail_msg("open_memstream failed");
    char b[4096];
    size_t n;
    while ((n = fread(b, 1, sizeof b, f)) > 0) fwrite(b, 1, n, m);
    fclose(m);
    return buf;
}

/* ------------------------------------------------------------------ events streams */

struct nm_sse {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    CURL *curl;
    struct curl_slist *headers;
    char *buf;                 /* everything received */
    size_t len, pos;           /* pos: where nm_sse_next reads next */
    long status;
    char content_type[128];
    int fd;                    /* the connection, once made: shut down to stop */
    bool done, stop;
};

static int sse_on_socket(void *ud, curl_socket_t fd, curlsocktype purpose)
{
    struct nm_sse *c = ud;
    (void)purpose;
    pthread_mutex_lock(&c->mu);
    c->fd = (int)fd;
    pthread_mutex_unlock(&c->mu);
    return CURL_SOCKOPT_OK;
}

static int sse_on_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c_, curl_off_t d)
{
    struct nm_sse *c = ud;
    (void)a, (void)b, (void)c_, (void)d;
    pthread_mutex_lock(&c->mu);
    bool stop = c->stop;
    pthread_mutex_unlock(&c->mu);
    return stop;
}

static size_t sse_on_body(char *p, size_t size, size_t n, void *ud)
{
    struct nm_sse *c = ud;
    size_t len = size * n;
    pthread_mutex_lock(&c->mu);
    char *nb = realloc(c->buf, c->len + len + 1);
    if (nb) {
        memcpy(nb + c->len, p, len);
        c->buf = nb;
        c->len += len;
        c->buf[c->len] = '\0';
    }
    if (!c->status) {
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &c->status);
        char *ct = NULL;
        curl_easy_getinfo(c->curl, CURLINFO_CONTENT_TYPE, &ct);
        if (ct) snprintf(c->content_type, sizeof c->content_type, "%s", ct);
    }
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
    return nb ? len : 0;
}

static void *sse_main(void *arg)
{
    struct nm_sse *c = arg;
    curl_easy_perform(c->curl);
    pthread_mutex_lock(&c->mu);
    if (!c->status) curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &c->status);
    c->done = true;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

static void deadline_after(struct timespec *ts, long ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

struct nm_sse *nm_sse_open(const struct nm_server *s, const char *path, const char *const *headers, long *status)
{
    struct nm_sse *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->fd = -1;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cond, NULL);
    c->curl = curl_easy_init();
    char url[4096];
    snprintf(url, sizeof url, "%s%s", s->base, path);
    for (int i = 0; headers && headers[i]; i++) c->headers = curl_slist_append(c->headers, headers[i]);
    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, sse_on_body);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(c->curl, CURLOPT_SOCKOPTFUNCTION, sse_on_socket);
    curl_easy_setopt(c->curl, CURLOPT_SOCKOPTDATA, c);
    curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, sse_on_progress);
    curl_easy_setopt(c->curl, CURLOPT_XFERINFODATA, c);
    curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 0L);
    pthread_create(&c->thread, NULL, sse_main, c);
    struct timespec dl;
    deadline_after(&dl, 5000);
    pthread_mutex_lock(&c->mu);
    while (!c->len && !c->done && pthread_cond_timedwait(&c->cond, &c->mu, &dl) != ETIMEDOUT) {}
    bool ok = c->len && c->status == 200;
    long st = c->status;
    pthread_mutex_unlock(&c->mu);
    if (status) *status = st;
    if (!ok) {
        nm_sse_close(c);
        return NULL;
    }
    return c;
}

/* With c->mu held: parses the next complete block at c->pos into ev. 1 an event, 0 only comments
 * (consumed), -1 no complete block yet. */
static int sse_parse_block(struct nm_sse *c, struct nm_sse_event *ev)
{
    char *start = c->buf + c->pos, *end = strstr(start, "\n\n");
    if (!end) return -1;
    memset(ev, 0, sizeof *ev);
    bool any = false;
    for (char *line = start; line < end;) {
        char *nl = memchr(line, '\n', (size_t)(end - line));
        size_t n = nl ? (size_t)(nl - line) : (size_t)(end - line);
        if (n > 4 && !strncmp(line, "id: ", 4)) {
            snprintf(ev->id, sizeof ev->id, "%.*s", (int)(n - 4), line + 4);
        } else if (n > 7 && !strncmp(line, "event: ", 7)) {
            snprintf(ev->event, sizeof ev->event, "%.*s", (int)(n - 7), line + 7);
            any = true;
        } else if (n > 6 && !strncmp(line, "data: ", 6)) {
            free(ev->data);
            ev->data = strndup(line + 6, n - 6);
        }
        line += n + 1;
    }
    c->pos = (size_t)(end - c->buf) + 2;
    if (!any) {
        free(ev->data);
        ev->data = NULL;
        return 0;
    }
    if (ev->data) ev->json = cJSON_Parse(ev->data);
    return 1;
}

int nm_sse_next(struct nm_sse *c, long timeout_ms, struct nm_sse_event *ev)
{
    struct timespec dl;
    deadline_after(&dl, timeout_ms);
    int rc;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        int p = c->buf ? sse_parse_block(c, ev) : -1;
        if (p == 1) { rc = 1; break; }
        if (p == 0) continue;
        if (c->done) { rc = 0; break; }
        if (pthread_cond_timedwait(&c->cond, &c->mu, &dl) == ETIMEDOUT) { rc = -1; break; }
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int nm_sse_wait(struct nm_sse *c, const char *event, const char *needle, long timeout_ms, struct nm_sse_event *ev)
{
    int64_t until = nm_mono_ms() + timeout_ms;
    for (;;) {
        long left = (long)(until - nm_mono_ms());
        int rc = nm_sse_next(c, left > 0 ? left : 0, ev);
        if (rc != 1) return rc;
        if (!strcmp(ev->event, event) && (!needle || (ev->data && strstr(ev->data, needle)))) return 1;
        nm_sse_event_free(ev);
    }
}

bool nm_sse_saw(struct nm_sse *c, const char *text, long timeout_ms)
{
    struct timespec dl;
    deadline_after(&dl, timeout_ms);
    pthread_mutex_lock(&c->mu);
    bool seen;
    while (!(seen = c->buf && strstr(c->buf, text)) && !c->done &&
           pthread_cond_timedwait(&c->cond, &c->mu, &dl) != ETIMEDOUT) {}
    pthread_mutex_unlock(&c->mu);
    return seen;
}

const char *nm_sse_content_type(struct nm_sse *c) { return c->content_type; }

void nm_sse_event_free(struct nm_sse_event *ev)
{
    free(ev->data);
    cJSON_Delete(ev->json);
    memset(ev, 0, sizeof *ev);
}

void nm_sse_close(struct nm_sse *c)
{
    if (!c) return;
    pthread_mutex_lock(&c->mu);
    c->stop = true;   /* the progress callback aborts within a second ... */
    if (c->fd >= 0 && !c->done) shutdown(c->fd, SHUT_RDWR);   /* ... a shut-down socket at once */
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    curl_easy_cleanup(c->curl);
    curl_slist_free_all(c->headers);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->mu);
    free(c->buf);
    free(c);
}
