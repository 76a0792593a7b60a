/*
 * cs_listen — who listens to which config, for every transport: v1 long polls (held HTTP requests,
 * cs_http.c) and connection listeners keyed by an opaque connection serial (the gRPC adapter's
 * ConfigBatchListenRequest). A change of a config (cs_listen_changed, called by the config core
 * after every committed change, whoever made it) marks and wakes every poll listening to it and
 * calls the push hook once per (connection, tenant spelling) listening to it.
 *
 * Keys are matched after namespace normalisation (cs_namespace: blank, "public" and "null" are the
 * public namespace) but remembered as the client spelled its tenant, so answers and pushes echo that
 * spelling: a connection that listened with tenant "" is pushed "", one that said "public" is
 * pushed "public" (clients look their caches up with their own spelling).
 *
 * Owns: one entry per listened key (hash table), its listeners (intrusive lists), the connections'
 * entries (hash table by serial). A poll's keys point into the caller's memory until
 * cs_listen_poll_end; connection listeners copy theirs.
 * Threading: own mutex. A poll's wake callback runs under it, on the thread making the change — it
 * must only signal (request_hold_wake takes http.c's timer lock: order cs_listen → http timer). The push
 * hook runs after the mutex is released, so it may take the gRPC adapter's own locks.
 */
#ifndef NACOS_MOCK_CS_LISTEN_H
#define NACOS_MOCK_CS_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The public namespace's name, and what a tenant means: CS_PUBLIC for NULL, blank, "public" or "null"
 * (any case), else the tenant itself. Pure (here, below the core, so both use one rule). */
#define CS_PUBLIC "public"
const char *cs_namespace(const char *tenant);

struct cs_listen;

/* One listened key as the client sent it. */
struct cs_listen_key {
    const char *data_id, *group;
    const char *tenant;     /* as spelled; NULL = none sent (the public namespace) */
    const char *md5;        /* the client's md5, "" = none (compared by the core, not here) */
};

struct cs_listen *cs_listen_new(void);
/* Frees every connection listener; every poll must have been ended. */
void cs_listen_free(struct cs_listen *l);

/* ---- v1 long polls */
struct cs_poll;
typedef void (*cs_wake_fn)(void *ctx);
/* Registers a poll on keys[0..n): at the first change of any of them wake(ctx) is called once (under
 * the module's lock, on the changing thread). keys (and their strings) must stay valid until
 * cs_listen_poll_end. NULL when out of memory. */
struct cs_poll *cs_listen_poll_add(struct cs_listen *l, const struct cs_listen_key *keys, size_t n, cs_wake_fn wake,
                                   void *ctx);
/* Unregisters and frees the poll. changed (room for n, may be NULL) gets which keys changed since it
 * was added. Returns how many did. */
size_t cs_listen_poll_end(struct cs_listen *l, struct cs_poll *p, bool *changed);

/* ---- connection listeners (for the gRPC adapter; conn is its opaque connection serial) */
typedef void (*cs_push_hook)(void *ctx, uint64_t conn, const char *data_id, const char *group,
                             const char *tenant_as_spelled);
/* The hook called for each listening connection on a change (NULL: none). */
void cs_listen_set_push_hook(struct cs_listen *l, cs_push_hook hook, void *ctx);
/* conn listens to the key with this tenant spelling (NULL = ""). 0 added, 1 it did already, -1 out of memory. */
int cs_listen_conn_add(struct cs_listen *l, uint64_t conn, const char *data_id, const char *group, const char *tenant);
/* conn stops listening to the key with this spelling. 0 removed, 1 it was not listening. */
int cs_listen_conn_remove(struct cs_listen *l, uint64_t conn, const char *data_id, const char *group,
                          const char *tenant);
/* Every listener of the connection goes (it closed). Returns how many keys it listened to. */
size_t cs_listen_conn_drop(struct cs_listen *l, uint64_t conn);

/* ---- changes */
/* The config (ns normalised, group, data_id) changed: marks and wakes its polls, then calls the push
 * hook once per listening (connection, spelling), outside the lock. Returns how many pushes it made. */
size_t cs_listen_changed(struct cs_listen *l, const char *ns, const char *group, const char *data_id);

struct cs_listen_stats {
    long polls, poll_keys;            /* held v1 polls, and the keys they listen to */
    long conns, conn_keys;            /* listening connections, and their (key, spelling) listeners */
    unsigned long long wakes, pushes; /* polls woken, push hook calls */
};
void cs_listen_get_stats(struct cs_listen *l, struct cs_listen_stats *out);

#endif
