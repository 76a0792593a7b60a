/*
 * push.c — the push thread: UDP packets to v1 subscribers and NotifySubscriber pushes to gRPC
 * subscribers (see push.h for the protocol and the threading rules).
 */
#include "nacos_mock/push.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <unistd.h>
#include <zlib.h>

#include <cjson/cJSON.h>

#include "nacos_mock/app.h"
#include "nacos_mock/clock.h"
#include "nacos_mock/events.h"
#include "nacos_mock/faults.h"
#include "nacos_mock/log.h"
#include "nacos_mock/metrics.h"
#include "nacos_mock/naming.h"
#include "nacos_mock/naming_list.h"
#include "nacos_mock/subs.h"
#include "nacos_mock/util.h"

#define UDP_MAX 65507

struct inflight {
    uint64_t ref;
    struct sockaddr_storage addr;
    socklen_t alen;
    unsigned char *pkt;
    size_t len;
    int64_t sent_mono;     /* when sent; in the future for a delayed (fault) push not sent yet */
    int tries;             /* 0 = waiting for its delay, 1 = sent once, 2 = resent */
};

/* A gRPC push held back by a delay fault: rendered, sent when its time comes. */
struct delayed_conn {
    uint64_t conn;
    char *ns, *service, *clusters, *info;   /* each malloc'd */
    size_t len;
    int64_t due_mono;
};

struct push {
    struct app *app;
    pthread_t thread;
    pthread_mutex_t mu;    /* guards what acks (this thread) and stats readers share: fl, next_ref */
    int fd4, fd6;
    _Atomic bool stop;
    struct inflight *fl;
    size_t n_fl, cap_fl;
    struct delayed_conn *dc;
    size_t n_dc, cap_dc;
    uint64_t next_ref;
};

static bool same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family) return false;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
    return !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr);
}

int push_local_port(struct push *p)
{
    struct sockaddr_in a;
    socklen_t l = sizeof a;
    if (!p || p->fd4 < 0 || getsockname(p->fd4, (struct sockaddr *)&a, &l)) return 0;
    return ntohs(a.sin_port);
}

/* gzip of in → *out (malloc'd). 0 ok. */
static int gzip_bytes(const unsigned char *in, size_t n, unsigned char **out, size_t *outlen)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return -1;
    size_t cap = deflateBound(&z, (uLong)n) + 32;
    unsigned char *buf = malloc(cap);
    if (!buf) { deflateEnd(&z); return -1; }
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)n;
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    *outlen = z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) { free(buf); return -1; }
    *out = buf;
    return 0;
}

/* The rendering of a job's service for its subscriber's shape and clusters (naming_list_text takes
 * the locks it needs). Subscribers with the same query share one rendering through the list cache.
 * Caller frees. */
static char *render_list(struct push *p, const struct subs_job *j, size_t *len)
{
    struct list_query q = {.shape = j->kind == SUBS_CONN ? LIST_GRPC : LIST_V1, .ns = j->ns, .service = j->service,
                           .clusters = j->clusters, .env = "", .java_ge_1 = j->java_ge_1, .subscribed = true};
    return naming_list_text(p->app, &q, len);
}

/* The UDP packet for one job: {"type":"dom","data":"<list>","lastRefTime":ref}, gzip'd when large.
 * malloc'd bytes or NULL. */
static unsigned char *render_packet(struct push *p, const struct subs_job *j, uint64_t ref, size_t *len)
{
    size_t data_len = 0;
    char *data_s = render_list(p, j, &data_len);
    if (!data_s) return NULL;
    cJSON *pkt = cJSON_CreateObject();
    cJSON_AddStringToObject(pkt, "type", "dom");
    cJSON_AddStringToObject(pkt, "data", data_s);
    cJSON_AddNumberToObject(pkt, "lastRefTime", (double)ref);
    free(data_s);
    char *s = cJSON_PrintUnformatted(pkt);
    cJSON_Delete(pkt);
    if (!s) return NULL;
    size_t n = strlen(s);
    unsigned char *out = NULL;
    if (n >= PUSH_GZIP_MIN) {
        if (gzip_bytes((unsigned char *)s, n, &out, len)) out = NULL;
        cJSON_free(s);
        return out;
    }
    out = malloc(n);
    if (out) memcpy(out, s, n);
    *len = n;
    cJSON_free(s);
    return out;
}

static int fd_for(const struct push *p, const struct sockaddr_storage *a)
{
    return a->ss_family == AF_INET ? p->fd4 : p->fd6;
}

static void send_pkt(struct push *p, const struct sockaddr_storage *a, socklen_t alen, const unsigned char *b, size_t n)
{
    int fd = fd_for(p, a);
    if (fd >= 0) sendto(fd, b, n, MSG_DONTWAIT, (const struct sockaddr *)a, alen);
}

static void handle_ack(struct push *p, const char *buf, const struct sockaddr_storage *from)
{
    cJSON *j = cJSON_Parse(buf);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type");
    const cJSON *ref = cJSON_GetObjectItemCaseSensitive(j, "lastRefTime");
    uint64_t r = 0;
    if (cJSON_IsString(type) && !strcmp(type->valuestring, "push-ack")) {
        if (cJSON_IsString(ref)) r = strtoull(ref->valuestring, NULL, 10);   /* Java/Go send a string */
        else if (cJSON_IsNumber(ref)) r = (uint64_t)ref->valuedouble;        /* Node sends a number */
    }
    cJSON_Delete(j);
    if (!r) return;
    pthread_mutex_lock(&p->mu);
    for (size_t i = 0; i < p->n_fl; i++) {
        if (p->fl[i].ref == r && same_host(&p->fl[i].addr, from)) {
            free(p->fl[i].pkt);
            p->fl[i] = p->fl[--p->n_fl];
            metrics_push(p->app->metrics, PUSH_UDP, PUSH_ACKED);
            break;
        }
    }
    pthread_mutex_unlock(&p->mu);
}

static void drain_socket(struct push *p, int fd)
{
    char buf[4096];
    for (;;) {
        struct sockaddr_storage from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(fd, buf, sizeof buf - 1, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
        if (n < 0) return;
        buf[n] = '\0';
        handle_ack(p, buf, &from);
    }
}

/* Fault rules with match.api "push" (transport "http" for UDP, "grpc" for connections): the
 * service, and for UDP the target ip/port, are matchable. */
static bool push_fault(struct push *p, const struct subs_job *j, struct fault_hit *hit)
{
    if (!p->app->faults || !faults_count(p->app->faults)) return false;
    char ip[INET6_ADDRSTRLEN] = "", group[NAME_MAX_BYTES + 1] = "";
    int port = 0;
    if (j->kind == SUBS_UDP && j->addr.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const void *)&j->addr;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
        port = ntohs(a->sin_port);
    } else if (j->kind == SUBS_UDP) {
        const struct sockaddr_in6 *a = (const void *)&j->addr;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
        port = ntohs(a->sin6_port);
    }
    const char *sep = strstr(j->service, GROUP_SEP);
    if (sep) snprintf(group, sizeof group, "%.*s", (int)(sep - j->service), j->service);
    struct fault_request fr = {.api = "push", .transport = j->kind == SUBS_CONN ? "grpc" : "http", .ns = j->ns,
                               .group = sep ? group : NULL, .service = sep ? sep + 2 : j->service,
                               .ip = *ip ? ip : NULL, .port = port};
    int64_t now = clock_now_ms(&p->app->clock);
    bool fired = faults_match(p->app->faults, &fr, now, hit);
    if (fired) events_fault(p->app->events, now, NULL, &fr, hit);
    return fired;
}

/* Hands one rendered serviceInfo to the gRPC transport for n subscribers, counting the outcomes. */
static void deliver_conns(struct push *p, const uint64_t *conns, size_t n, const char *ns, const char *service,
                          const char *clusters, const char *info, size_t len)
{
    const struct app_transport *t = &p->app->transport;
    size_t sent = t->push_conns ? t->push_conns(t->ctx, conns, n, ns, service, clusters, info, len) : 0;
    for (size_t i = 0; i < n; i++) metrics_push(p->app->metrics, PUSH_GRPC, i < sent ? PUSH_SENT : PUSH_FAILED);
}

/* Holds a push back for a delay fault: a copy of the rendering, sent by retries() when due. */
static void delay_conn(struct push *p, const struct subs_job *j, const char *info, size_t len, int64_t delay)
{
    struct delayed_conn d = {.conn = j->conn, .ns = strdup(j->ns), .service = strdup(j->service),
                             .clusters = strdup(j->clusters), .info = malloc(len + 1), .len = len,
                             .due_mono = clock_mono_ms() + delay};
    if (!d.ns || !d.service || !d.clusters || !d.info ||
        util_grow((void **)&p->dc, &p->cap_dc, p->n_dc, sizeof *p->dc)) {
        free(d.ns);
        free(d.service);
        free(d.clusters);
        free(d.info);
        metrics_push(p->app->metrics, PUSH_GRPC, PUSH_DROPPED);
        return;
    }
    memcpy(d.info, info, len);
    d.info[len] = '\0';
    p->dc[p->n_dc++] = d;
}

static bool same_query(const struct subs_job *a, const struct subs_job *b)
{
    return !strcmp(a->service, b->service) && !strcmp(a->ns, b->ns) && !strcmp(a->clusters, b->clusters);
}

/* The connection jobs of one take. Subscribers with the same (namespace, service, clusters) get the
 * same serviceInfo: it is rendered once and handed to the transport once for all of them (2,000
 * subscribers of a service were 2,000 renderings under app->mu and 2,000 hand-overs). Fault rules
 * are still judged per subscriber. */
static void run_conn_jobs(struct push *p, const struct subs_job *jobs, size_t n)
{
    uint64_t *batch = malloc((n ? n : 1) * sizeof *batch);
    bool *done = calloc(n ? n : 1, sizeof *done);
    if (!batch || !done) {
        for (size_t i = 0; i < n; i++)
            if (jobs[i].kind == SUBS_CONN) metrics_push(p->app->metrics, PUSH_GRPC, PUSH_DROPPED);
        n = 0;
    }
    for (size_t i = 0; i < n && !atomic_load(&p->stop); i++) {
        if (jobs[i].kind != SUBS_CONN || done[i]) continue;
        size_t len = 0, nb = 0;
        char *info = render_list(p, &jobs[i], &len);
        for (size_t k = i; k < n; k++) {
            const struct subs_job *j = &jobs[k];
            if (j->kind != SUBS_CONN || done[k] || !same_query(j, &jobs[i])) continue;
            done[k] = true;
            struct fault_hit hit;
            bool faulted = info && push_fault(p, j, &hit);
            int64_t delay = faulted ? hit.delay_ms : 0;
            bool drop = !info || (faulted && hit.drop);   /* never sent; the client converges by querying */
            if (faulted) fault_hit_free(&hit);
            if (drop) metrics_push(p->app->metrics, PUSH_GRPC, PUSH_DROPPED);
            else if (delay) delay_conn(p, j, info, len, delay);
            else batch[nb++] = j->conn;
        }
        if (nb) deliver_conns(p, batch, nb, jobs[i].ns, jobs[i].service, jobs[i].clusters, info, len);
        free(info);
    }
    free(batch);
    free(done);
}

static void run_udp_job(struct push *p, const struct subs_job *j)
{
    pthread_mutex_lock(&p->mu);
    uint64_t ref = ++p->next_ref;
    pthread_mutex_unlock(&p->mu);
    size_t len = 0;
    unsigned char *pkt = render_packet(p, j, ref, &len);
    if (!pkt || len > UDP_MAX) {
        if (pkt) log_warn("push to subscriber of %s dropped: packet of %zu bytes exceeds UDP", j->service, len);
        free(pkt);
        metrics_push(p->app->metrics, PUSH_UDP, PUSH_DROPPED);
        return;
    }
    struct fault_hit hit;
    bool faulted = push_fault(p, j, &hit);
    if (faulted && hit.drop) {   /* close/hang on UDP: the packet is never sent */
        free(pkt);
        metrics_push(p->app->metrics, PUSH_UDP, PUSH_DROPPED);
        fault_hit_free(&hit);
        return;
    }
    int64_t delay = faulted ? hit.delay_ms : 0;
    if (faulted) fault_hit_free(&hit);
    if (!delay) {
        send_pkt(p, &j->addr, j->alen, pkt, len);
        metrics_push(p->app->metrics, PUSH_UDP, PUSH_SENT);
    }
    pthread_mutex_lock(&p->mu);
    if (util_grow((void **)&p->fl, &p->cap_fl, p->n_fl, sizeof *p->fl) == 0) {
        p->fl[p->n_fl++] = (struct inflight){.ref = ref, .addr = j->addr, .alen = j->alen, .pkt = pkt, .len = len,
                                             .sent_mono = clock_mono_ms() + delay, .tries = delay ? 0 : 1};
        pkt = NULL;
    }
    pthread_mutex_unlock(&p->mu);
    free(pkt);
}

/* Resends a UDP packet once after PUSH_RETRY_MS, then gives up; sends delayed pushes whose time has
 * come. Returns ms until the next thing is due (or INT32_MAX). Resends happen under p->mu: sendto on
 * UDP with MSG_DONTWAIT never waits. */
static int64_t retries(struct push *p, int64_t now)
{
    int64_t next = INT32_MAX;
    for (size_t i = 0; i < p->n_dc;) {
        struct delayed_conn *d = &p->dc[i];
        if (now >= d->due_mono) {
            deliver_conns(p, &d->conn, 1, d->ns, d->service, d->clusters, d->info, d->len);
            free(d->ns);
            free(d->service);
            free(d->clusters);
            free(d->info);
            p->dc[i] = p->dc[--p->n_dc];
            continue;
        }
        if (d->due_mono - now < next) next = d->due_mono - now;
        i++;
    }
    pthread_mutex_lock(&p->mu);
    for (size_t i = 0; i < p->n_fl;) {
        struct inflight *f = &p->fl[i];
        if (f->tries == 0 && now >= f->sent_mono) {   /* a delayed push whose time has come */
            send_pkt(p, &f->addr, f->alen, f->pkt, f->len);
            f->tries = 1;
            f->sent_mono = now;
            metrics_push(p->app->metrics, PUSH_UDP, PUSH_SENT);
        }
        if (f->tries == 0) {
            if (f->sent_mono - now < next) next = f->sent_mono - now;
            i++;
            continue;
        }
        if (now - f->sent_mono >= PUSH_RETRY_MS) {
            if (f->tries == 1) {
                send_pkt(p, &f->addr, f->alen, f->pkt, f->len);
                f->tries = 2;
                f->sent_mono = now;
                metrics_push(p->app->metrics, PUSH_UDP, PUSH_RESENT);
            } else {
                free(f->pkt);
                p->fl[i] = p->fl[--p->n_fl];
                metrics_push(p->app->metrics, PUSH_UDP, PUSH_FAILED);
                continue;
            }
        }
        int64_t due = f->sent_mono + PUSH_RETRY_MS - now;
        if (due < next) next = due;
        i++;
    }
    pthread_mutex_unlock(&p->mu);
    return next;
}

static void *push_main(void *arg)
{
    struct push *p = arg;
    int wake = subs_wake_fd(p->app->subs);
    while (!atomic_load(&p->stop)) {
        int64_t now = clock_mono_ms(), wait = 0;
        struct subs_job *jobs;
        size_t n = subs_take_due(p->app->subs, now, &jobs, &wait);
        for (size_t i = 0; i < n && !atomic_load(&p->stop); i++)
            if (jobs[i].kind == SUBS_UDP) run_udp_job(p, &jobs[i]);
        run_conn_jobs(p, jobs, n);
        subs_jobs_free(jobs, n);
        if (n) continue;
        int64_t timeout = retries(p, now);
        if (wait < timeout) timeout = wait;
        if (timeout > 1000) timeout = 1000;
        if (timeout < 0) timeout = 0;
        struct pollfd pf[3] = {{.fd = wake, .events = POLLIN}, {.fd = p->fd4, .events = POLLIN},
                               {.fd = p->fd6, .events = POLLIN}};
        if (poll(pf, 3, (int)timeout) > 0) {
            if (pf[0].revents & POLLIN) {
                uint64_t v;
                ssize_t r = read(wake, &v, sizeof v);
                (void)r;
            }
            if (p->fd4 >= 0 && (pf[1].revents & POLLIN)) drain_socket(p, p->fd4);
            if (p->fd6 >= 0 && (pf[2].revents & POLLIN)) drain_socket(p, p->fd6);
        }
    }
    return NULL;
}

static int udp_socket(int family)
{
    int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    struct sockaddr_storage a;
    memset(&a, 0, sizeof a);
    socklen_t l;
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&a;
        in->sin_family = AF_INET;
        in->sin_addr.s_addr = htonl(INADDR_ANY);
        l = sizeof *in;
    } else {
        int one = 1;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a;
        in6->sin6_family = AF_INET6;
        in6->sin6_addr = in6addr_any;
        l = sizeof *in6;
    }
    if (bind(fd, (struct sockaddr *)&a, l)) {
        close(fd);
        return -1;
    }
    return fd;
}

struct push *push_start(struct app *app, char *err, size_t errlen)
{
    struct push *p = calloc(1, sizeof *p);
    if (!p) { snprintf(err, errlen, "out of memory"); return NULL; }
    p->app = app;
    pthread_mutex_init(&p->mu, NULL);
    p->fd4 = udp_socket(AF_INET);
    p->fd6 = udp_socket(AF_INET6);   /* may be -1 on hosts without IPv6 */
    if (p->fd4 < 0 && p->fd6 < 0) {
        snprintf(err, errlen, "cannot open UDP push sockets: %s", strerror(errno));
        goto fail;
    }
    if (pthread_create(&p->thread, NULL, push_main, p)) {
        snprintf(err, errlen, "cannot start the push thread");
        goto fail;
    }
    return p;
fail:
    if (p->fd4 >= 0) close(p->fd4);
    if (p->fd6 >= 0) close(p->fd6);
    pthread_mutex_destroy(&p->mu);
    free(p);
    return NULL;
}

void push_stop(struct push *p)
{
    if (!p) return;
    atomic_store(&p->stop, true);
    uint64_t one = 1;   /* wake it */
    ssize_t w = write(subs_wake_fd(p->app->subs), &one, sizeof one);
    (void)w;
    pthread_join(p->thread, NULL);
    for (size_t i = 0; i < p->n_fl; i++) free(p->fl[i].pkt);
    for (size_t i = 0; i < p->n_dc; i++) {
        free(p->dc[i].ns);
        free(p->dc[i].service);
        free(p->dc[i].clusters);
        free(p->dc[i].info);
    }
    free(p->fl);
    free(p->dc);
    if (p->fd4 >= 0) close(p->fd4);
    if (p->fd6 >= 0) close(p->fd6);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
