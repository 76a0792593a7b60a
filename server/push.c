/*
 * push.c — v1 UDP push (see push.h for the protocol and the threading rules).
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
#include <sys/eventfd.h>
#include <unistd.h>
#include <zlib.h>

#include <cjson/cJSON.h>

#include "nacos_mock/app.h"
#include "nacos_mock/clock.h"
#include "nacos_mock/faults.h"
#include "nacos_mock/handlers.h"
#include "nacos_mock/log.h"
#include "nacos_mock/naming.h"
#include "nacos_mock/util.h"

#define UDP_MAX 65507

struct sub {
    char *ns, *service, *clusters;
    struct sockaddr_storage addr;
    socklen_t alen;
    bool java_ge_1;
    int64_t refreshed_mono;
};

struct pending { char *ns, *service; };

struct inflight {
    uint64_t ref;
    struct sockaddr_storage addr;
    socklen_t alen;
    unsigned char *pkt;
    size_t len;
    int64_t sent_mono;     /* when sent; in the future for a delayed (fault) push not sent yet */
    int tries;             /* 0 = waiting for its delay, 1 = sent once, 2 = resent */
};

/* One packet to send, prepared with push->mu held and sent without it. */
struct job {
    char *ns, *service, *clusters;
    struct sockaddr_storage addr;
    socklen_t alen;
    bool java_ge_1;
};

struct push {
    struct app *app;
    pthread_t thread;
    pthread_mutex_t mu;
    int fd4, fd6, wake;
    bool stop;
    struct sub *subs;
    size_t n_subs, cap_subs;
    struct pending *pend;
    size_t n_pend, cap_pend;
    int64_t pend_deadline;        /* mono ms when the pending changes go out; 0 = none */
    struct inflight *fl;
    size_t n_fl, cap_fl;
    uint64_t next_ref;
    struct push_stats stats;
};

static void wake(struct push *p)
{
    uint64_t one = 1;
    ssize_t w = write(p->wake, &one, sizeof one);
    (void)w;
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b, bool with_port)
{
    if (a->ss_family != b->ss_family) return false;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_addr.s_addr == y->sin_addr.s_addr && (!with_port || x->sin_port == y->sin_port);
    }
    const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
    return !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) && (!with_port || x->sin6_port == y->sin6_port);
}

static void sub_free(struct sub *s)
{
    free(s->ns);
    free(s->service);
    free(s->clusters);
}

bool push_subscribe(struct push *p, const char *ns, const char *service, const char *clusters,
                    const struct sockaddr_storage *peer, int udp_port, const char *user_agent)
{
    if (!p || udp_port <= 0 || udp_port > 65535 || !naming_ua_push_capable(user_agent)) return false;
    if (peer->ss_family != AF_INET && peer->ss_family != AF_INET6) return false;
    struct sockaddr_storage target = *peer;   /* the HTTP peer, never the clientIP parameter */
    socklen_t alen;
    if (target.ss_family == AF_INET) {
        ((struct sockaddr_in *)&target)->sin_port = htons((uint16_t)udp_port);
        alen = sizeof(struct sockaddr_in);
    } else {
        ((struct sockaddr_in6 *)&target)->sin6_port = htons((uint16_t)udp_port);
        alen = sizeof(struct sockaddr_in6);
    }
    int64_t now = clock_mono_ms();
    bool ok = false;
    pthread_mutex_lock(&p->mu);
    for (size_t i = 0; i < p->n_subs; i++) {
        struct sub *s = &p->subs[i];
        if (!strcmp(s->ns, ns) && !strcmp(s->service, service) && !strcmp(s->clusters, clusters) &&
            same_addr(&s->addr, &target, true)) {
            s->refreshed_mono = now;
            s->java_ge_1 = naming_ua_java_ge_1(user_agent);
            ok = true;
            goto out;
        }
    }
    if (util_grow((void **)&p->subs, &p->cap_subs, p->n_subs, sizeof *p->subs)) goto out;
    struct sub *s = &p->subs[p->n_subs];
    memset(s, 0, sizeof *s);
    s->ns = strdup(ns);
    s->service = strdup(service);
    s->clusters = strdup(clusters);
    s->addr = target;
    s->alen = alen;
    s->java_ge_1 = naming_ua_java_ge_1(user_agent);
    s->refreshed_mono = now;
    if (!s->ns || !s->service || !s->clusters) {
        sub_free(s);
        goto out;
    }
    p->n_subs++;
    ok = (p->fd4 >= 0 && target.ss_family == AF_INET) || (p->fd6 >= 0 && target.ss_family == AF_INET6);
out:
    pthread_mutex_unlock(&p->mu);
    return ok;
}

void push_service_changed(struct push *p, const char *ns, const char *service)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    bool has_sub = false;
    for (size_t i = 0; i < p->n_subs && !has_sub; i++)
        has_sub = !strcmp(p->subs[i].ns, ns) && !strcmp(p->subs[i].service, service);
    bool queued = false;
    for (size_t i = 0; i < p->n_pend && !queued; i++)
        queued = !strcmp(p->pend[i].ns, ns) && !strcmp(p->pend[i].service, service);
    if (has_sub && !queued && util_grow((void **)&p->pend, &p->cap_pend, p->n_pend, sizeof *p->pend) == 0) {
        struct pending *e = &p->pend[p->n_pend];
        e->ns = strdup(ns);
        e->service = strdup(service);
        if (e->ns && e->service) {
            p->n_pend++;
            if (!p->pend_deadline) p->pend_deadline = clock_mono_ms() + PUSH_COALESCE_MS;
            wake(p);
        } else {
            free(e->ns);
            free(e->service);
        }
    }
    pthread_mutex_unlock(&p->mu);
}

long push_forget(struct push *p, const char *ns, const char *service)
{
    if (!p) return 0;
    long removed = 0;
    pthread_mutex_lock(&p->mu);
    size_t o = 0;
    for (size_t i = 0; i < p->n_subs; i++) {
        struct sub *s = &p->subs[i];
        if ((!ns || !strcmp(s->ns, ns)) && (!service || !strcmp(s->service, service))) {
            sub_free(s);
            removed++;
        } else {
            p->subs[o++] = *s;
        }
    }
    p->n_subs = o;
    pthread_mutex_unlock(&p->mu);
    return removed;
}

void push_get_stats(struct push *p, struct push_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    *out = p->stats;
    out->subscribers = (long)p->n_subs;
    pthread_mutex_unlock(&p->mu);
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

/* Renders the packet for one job (takes app->mu). Returns malloc'd bytes or NULL. */
static unsigned char *render(struct push *p, const struct job *j, uint64_t ref, size_t *len)
{
    struct list_query q = {.ns = j->ns, .service = j->service, .clusters = j->clusters, .env = "",
                           .healthy_only = false, .java_ge_1 = j->java_ge_1, .subscribed = true};
    size_t data_len = 0;
    pthread_mutex_lock(&p->app->mu);   /* subscribers with the same query share one rendering */
    char *data_s = naming_list_text(p->app, &q, &data_len);
    pthread_mutex_unlock(&p->app->mu);
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
        if (p->fl[i].ref == r && same_addr(&p->fl[i].addr, from, false)) {
            free(p->fl[i].pkt);
            p->fl[i] = p->fl[--p->n_fl];
            p->stats.acked++;
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

static void job_free(struct job *j)
{
    free(j->ns);
    free(j->service);
    free(j->clusters);
}

/* With p->mu held: moves due pending services into jobs (one per matching subscriber), expires
 * stale subscriptions. */
static size_t take_jobs(struct push *p, int64_t now, struct job **jobs_out)
{
    size_t o = 0;
    for (size_t i = 0; i < p->n_subs; i++) {
        if (now - p->subs[i].refreshed_mono > PUSH_SUBSCRIPTION_TTL_MS) sub_free(&p->subs[i]);
        else p->subs[o++] = p->subs[i];
    }
    p->n_subs = o;
    *jobs_out = NULL;
    if (!p->pend_deadline || now < p->pend_deadline) return 0;
    struct job *jobs = NULL;
    size_t n = 0, cap = 0;
    for (size_t k = 0; k < p->n_pend; k++) {
        for (size_t i = 0; i < p->n_subs; i++) {
            const struct sub *s = &p->subs[i];
            if (strcmp(s->ns, p->pend[k].ns) || strcmp(s->service, p->pend[k].service)) continue;
            if (util_grow((void **)&jobs, &cap, n, sizeof *jobs)) break;
            struct job *j = &jobs[n];
            j->ns = strdup(s->ns);
            j->service = strdup(s->service);
            j->clusters = strdup(s->clusters);
            j->addr = s->addr;
            j->alen = s->alen;
            j->java_ge_1 = s->java_ge_1;
            if (j->ns && j->service && j->clusters) n++;
            else job_free(j);
        }
        free(p->pend[k].ns);
        free(p->pend[k].service);
    }
    p->n_pend = 0;
    p->pend_deadline = 0;
    *jobs_out = jobs;
    return n;
}

/* Fault rules with match.api "push": the target ip/port and the service are matchable. */
static bool push_fault(struct push *p, const struct job *j, struct fault_hit *hit)
{
    if (!p->app->faults || !faults_count(p->app->faults)) return false;
    char ip[INET6_ADDRSTRLEN] = "", group[NAME_MAX_BYTES + 1] = "";
    int port;
    if (j->addr.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const void *)&j->addr;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
        port = ntohs(a->sin_port);
    } else {
        const struct sockaddr_in6 *a = (const void *)&j->addr;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
        port = ntohs(a->sin6_port);
    }
    const char *sep = strstr(j->service, GROUP_SEP);
    if (sep) snprintf(group, sizeof group, "%.*s", (int)(sep - j->service), j->service);
    struct fault_request fr = {.api = "push", .ns = j->ns, .group = sep ? group : NULL,
                               .service = sep ? sep + 2 : j->service, .ip = ip, .port = port};
    return faults_match(p->app->faults, &fr, clock_now_ms(&p->app->clock), hit);
}

static void run_jobs(struct push *p, struct job *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        pthread_mutex_lock(&p->mu);
        uint64_t ref = ++p->next_ref;
        pthread_mutex_unlock(&p->mu);
        size_t len = 0;
        unsigned char *pkt = render(p, &jobs[i], ref, &len);
        if (!pkt || len > UDP_MAX) {
            if (pkt) log_warn("push to subscriber of %s dropped: packet of %zu bytes exceeds UDP", jobs[i].service, len);
            free(pkt);
            pthread_mutex_lock(&p->mu);
            p->stats.dropped++;
            pthread_mutex_unlock(&p->mu);
            continue;
        }
        struct fault_hit hit;
        bool faulted = push_fault(p, &jobs[i], &hit);
        if (faulted && hit.drop) {   /* close/hang on UDP: the packet is never sent */
            free(pkt);
            pthread_mutex_lock(&p->mu);
            p->stats.dropped++;
            pthread_mutex_unlock(&p->mu);
            fault_hit_free(&hit);
            continue;
        }
        int64_t delay = faulted ? hit.delay_ms : 0;
        if (faulted) fault_hit_free(&hit);
        if (!delay) send_pkt(p, &jobs[i].addr, jobs[i].alen, pkt, len);
        pthread_mutex_lock(&p->mu);
        if (!delay) p->stats.sent++;
        if (util_grow((void **)&p->fl, &p->cap_fl, p->n_fl, sizeof *p->fl) == 0) {
            p->fl[p->n_fl++] = (struct inflight){.ref = ref, .addr = jobs[i].addr, .alen = jobs[i].alen, .pkt = pkt,
                                                 .len = len, .sent_mono = clock_mono_ms() + delay,
                                                 .tries = delay ? 0 : 1};
            pkt = NULL;
        }
        pthread_mutex_unlock(&p->mu);
        free(pkt);
    }
    for (size_t i = 0; i < n; i++) job_free(&jobs[i]);
    free(jobs);
}

/* With p->mu held: resends once after PUSH_RETRY_MS, then gives up. Returns ms until the next due
 * retry (or INT32_MAX). Resends are done under the lock: sendto on UDP with MSG_DONTWAIT never waits. */
static int64_t retries(struct push *p, int64_t now)
{
    int64_t next = INT32_MAX;
    for (size_t i = 0; i < p->n_fl;) {
        struct inflight *f = &p->fl[i];
        if (f->tries == 0 && now >= f->sent_mono) {   /* a delayed push whose time has come */
            send_pkt(p, &f->addr, f->alen, f->pkt, f->len);
            f->tries = 1;
            f->sent_mono = now;
            p->stats.sent++;
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
                p->stats.resent++;
            } else {
                free(f->pkt);
                p->fl[i] = p->fl[--p->n_fl];
                p->stats.failed++;
                continue;
            }
        }
        int64_t due = f->sent_mono + PUSH_RETRY_MS - now;
        if (due < next) next = due;
        i++;
    }
    return next;
}

static void *push_main(void *arg)
{
    struct push *p = arg;
    for (;;) {
        int64_t now = clock_mono_ms();
        pthread_mutex_lock(&p->mu);
        if (p->stop) { pthread_mutex_unlock(&p->mu); break; }
        struct job *jobs;
        size_t n = take_jobs(p, now, &jobs);
        int64_t timeout = retries(p, now);
        if (p->pend_deadline && p->pend_deadline - now < timeout) timeout = p->pend_deadline - now;
        pthread_mutex_unlock(&p->mu);
        if (n) {
            run_jobs(p, jobs, n);
            continue;
        }
        if (timeout > 1000) timeout = 1000;
        if (timeout < 0) timeout = 0;
        struct pollfd pf[3] = {{.fd = p->wake, .events = POLLIN}, {.fd = p->fd4, .events = POLLIN},
                               {.fd = p->fd6, .events = POLLIN}};
        if (poll(pf, 3, (int)timeout) > 0) {
            if (pf[0].revents & POLLIN) {
                uint64_t v;
                ssize_t r = read(p->wake, &v, sizeof v);
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
    p->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if ((p->fd4 < 0 && p->fd6 < 0) || p->wake < 0) {
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
    if (p->wake >= 0) close(p->wake);
    pthread_mutex_destroy(&p->mu);
    free(p);
    return NULL;
}

void push_stop(struct push *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_mutex_unlock(&p->mu);
    wake(p);
    pthread_join(p->thread, NULL);
    for (size_t i = 0; i < p->n_subs; i++) sub_free(&p->subs[i]);
    for (size_t i = 0; i < p->n_pend; i++) { free(p->pend[i].ns); free(p->pend[i].service); }
    for (size_t i = 0; i < p->n_fl; i++) free(p->fl[i].pkt);
    free(p->subs);
    free(p->pend);
    free(p->fl);
    if (p->fd4 >= 0) close(p->fd4);
    if (p->fd6 >= 0) close(p->fd6);
    close(p->wake);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
