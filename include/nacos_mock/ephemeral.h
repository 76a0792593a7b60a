/*
 * ephemeral — the registry's in-memory half: the directory of services and the ephemeral instances,
 * split into EPH_SHARDS shards by service. Used only by store.c, behind the store_* API: callers see
 * one registry.
 *
 * Why instances in memory: real Nacos keeps ephemeral instances in memory too (Distro) and only
 * persistent ones on disk, and they never outlive a restart here either. Their health is what changes
 * in bulk: when 100,000 instances stop beating, the sweeper must mark 100,000 rows unhealthy and later
 * delete them. SQLite needs 195 ms to mark 100,000 such rows even in one UPDATE statement, 110 ms in
 * a table holding nothing but the due time, 250 ms to delete them (sqlite3 3.40 here) — against a
 * budget of 50 ms for the whole sweep. Here a transition is a field and a list move. Persistent
 * instances stay in SQLite (a file with --db).
 *
 * Why services here too (the directory): a beat, a list answered from the cache and a register of
 * an ephemeral instance need a service's id, revision, empty-since time, protect threshold and
 * metadata; reading them from SQLite made every such request a statement under one process-wide
 * lock. Every service has a SQLite row as well (it survives a restart; store.c writes both), but
 * its revision and empty-since time live only here.
 *
 * Why shards: a shard is a lock and everything about the services whose (namespace, name) hashes
 * to it (eph_shard_of) — their directory entries, their instances, the instances' hash tables and
 * due-time buckets, the undo log of the shard's open transaction. Requests about services in
 * different shards never meet; a beat takes one shard's lock for a hash lookup and a bucket move.
 *
 * Per shard it owns: services (one allocation each for id, namespace, name; metadata and selector
 * texts apart), instances (one allocation each, strings included), due-time buckets (one per
 * distinct due time, found by hash, ordered by a heap), and the undo log of the open transaction.
 * `expire_at` — when the sweeper must look at an instance next — is last beat + min(beat timeout,
 * delete timeout) while healthy and last beat + delete timeout once unhealthy; marked instances are
 * never due, nor are connection-owned ones (store.h: they go with their gRPC connection).
 * Invariants: an instance's service is in its shard; (service_id, cluster, ip, port) is unique;
 * instance ids are >= EPH_ID_BASE (SQLite row ids stay far below), carry their shard in their low
 * EPH_SHARD_BITS bits (eph_shard_of_id) and are never reused; due instances come out soonest first,
 * ties by id; a removed instance or service is freed at once outside a transaction and at commit
 * inside one (rollback puts it back); no bucket is freed inside a transaction, so a rollback never
 * allocates.
 * Threading: a shard is used only with its lock held (eph_lock / eph_unlock); store.c takes them
 * (store.h, "Locking"). Nothing here takes any other lock.
 * Views: `eph_rec` and the arrays filled below point into instances, valid until the next write to
 * the shard or the release of its lock.
 */
#ifndef NACOS_MOCK_EPHEMERAL_H
#define NACOS_MOCK_EPHEMERAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nacos_mock/lockstat.h"
#include "nacos_mock/records.h"

#define EPH_ID_BASE (INT64_C(1) << 48)
#define EPH_SHARD_BITS 5
#define EPH_SHARDS (1u << EPH_SHARD_BITS)

struct eph;
struct eph_shard;
struct eph_inst;
struct eph_svc;

struct eph *eph_new(void);
void eph_free(struct eph *e);
struct eph_shard *eph_shard(struct eph *e, unsigned k);
/* The shard of a service by its namespace and (grouped) name; of an instance by its id. */
unsigned eph_shard_of(const char *ns, const char *name);
unsigned eph_shard_of_id(int64_t instance_id);
unsigned eph_shard_index(const struct eph_shard *s);
void eph_lock(struct eph_shard *s);
void eph_unlock(struct eph_shard *s);
/* The shards' lock hold times added to *t (lock-stats builds). */
void eph_lockstat(struct eph *e, struct lockstat_totals *t);

/* ---- the directory of services (in the shard of their name) */
struct eph_svc_attrs {
    double protect_threshold;
    const char *metadata, *selector;   /* JSON texts; never NULL in an entry (owned by it) */
    bool explicit_;
    int64_t created_ms;
    int64_t empty_since_ms;            /* virtual time it became empty, 0 while it has instances */
    int64_t revision;                  /* change stamp (store.h), 0 = never changed */
    long n_persistent;                 /* its instances in SQLite */
};
struct eph_svc *eph_svc_get(struct eph_shard *s, const char *ns, const char *name);
struct eph_svc *eph_svc_get_id(struct eph_shard *s, int64_t id);
/* Adds service `id` (not present) with copies of ns, name and the attribute texts. -1 out of memory. */
int eph_svc_add(struct eph_shard *s, int64_t id, const char *ns, const char *name, const struct eph_svc_attrs *a);
/* Replaces the attributes (texts copied when their pointer differs from the entry's). -1 oom. */
int eph_svc_set(struct eph_shard *s, struct eph_svc *v, const struct eph_svc_attrs *a);
/* Removes the service and its instances; *removed (may be NULL) gets how many instances went. */
int eph_svc_drop(struct eph_shard *s, struct eph_svc *v, long *removed);
const struct eph_svc_attrs *eph_svc_attrs(const struct eph_svc *v);
int64_t eph_svc_id(const struct eph_svc *v);
const char *eph_svc_ns(const struct eph_svc *v);
const char *eph_svc_name(const struct eph_svc *v);
long eph_svc_count(const struct eph_svc *v);   /* its ephemeral instances */
/* Visits every service of the shard (non-zero from cb stops; cb must not add or drop services). */
void eph_svc_foreach(struct eph_shard *s, int (*cb)(void *ctx, struct eph_svc *v), void *ctx);
long eph_svc_total(const struct eph_shard *s);

/* ---- instance lookups (NULL when absent) */
struct eph_inst *eph_get(struct eph_shard *s, int64_t service_id, const char *cluster, const char *ip, int port);
struct eph_inst *eph_get_named(struct eph_shard *s, const char *ns, const char *service, const char *cluster,
                               const char *ip, int port);
struct eph_inst *eph_get_id(struct eph_shard *s, int64_t id);
const struct instance_rec *eph_rec(const struct eph_inst *i);

/* ---- instance writes. -1 only when out of memory (nothing changed). */
/* Inserts `in` (in->ephemeral must be set) as a new instance of its service (in->service_id, which
 * must be in the shard); `replace` (may be NULL) is removed and its id kept. in->id, ns and service
 * are ignored; every string is copied. *id_out (may be NULL) gets the id. */
int eph_put(struct eph_shard *s, const struct instance_rec *in, struct eph_inst *replace, int64_t *id_out);
int eph_remove(struct eph_shard *s, struct eph_inst *i);
int eph_set_health(struct eph_shard *s, struct eph_inst *i, bool healthy);
/* last beat = max(last beat, now), healthy. */
int eph_beat(struct eph_shard *s, struct eph_inst *i, int64_t now_ms);
/* Removes every instance of the service (it stays); *removed (may be NULL) gets how many. */
int eph_remove_instances(struct eph_shard *s, int64_t service_id, long *removed);
/* Removes every service and instance of the shard. */
int eph_clear(struct eph_shard *s);

/* ---- reads */
long eph_count(struct eph_shard *s, int64_t service_id);
void eph_totals(const struct eph_shard *s, long *instances, long *healthy);
/* Views of the service's instances (service_id 0: of every service of the shard), unordered, in a new
 * array the caller frees. 0 ok, -1 out of memory. */
int eph_list(struct eph_shard *s, int64_t service_id, const struct instance_rec ***out, size_t *n);
/* Ids of the shard's services that have instances, in namespace `ns` (NULL: any) named `service`
 * (NULL: any), in a new array the caller frees. */
int eph_services(struct eph_shard *s, const char *ns, const char *service, int64_t **out, size_t *n);
/* Up to `limit` instances with expire_at < now, soonest first (ties by id), as views into `out`
 * (room for `limit`). Returns how many. */
size_t eph_due(struct eph_shard *s, int64_t now_ms, size_t limit, const struct instance_rec **out);
/* Whether any instance of the shard is due (expire_at < now). */
bool eph_any_due(struct eph_shard *s, int64_t now_ms);
/* Due-time buckets in the shard (one per distinct due time that has an instance, once no
 * transaction is open: tests). */
size_t eph_buckets(const struct eph_shard *s);

/* Visits up to `limit` due instances soonest first and applies cb's verdict (records.h) to each; -1
 * from cb stops. Returns how many were visited, -1 when out of memory before any was. */
long eph_sweep(struct eph_shard *s, int64_t now_ms, size_t limit, store_verdict_cb cb, void *ctx);

/* ---- transactions (per shard): writes between begin and commit are undone by rollback. */
void eph_begin(struct eph_shard *s);
void eph_commit(struct eph_shard *s);
void eph_rollback(struct eph_shard *s);

#endif
