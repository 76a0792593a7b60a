/*
 * ephemeral — the registry's ephemeral instances, held in memory. Used only by store.c, behind the
 * store_* API: callers see one registry.
 *
 * Why not SQLite: real Nacos keeps ephemeral instances in memory too (Distro) and only persistent
 * ones on disk, and they never outlive a restart here either. Their health is what changes in bulk:
 * when 100,000 instances stop beating, the sweeper must mark 100,000 rows unhealthy and later delete
 * them. SQLite needs 195 ms to mark 100,000 such rows even in one UPDATE statement, 110 ms in a
 * table holding nothing but the due time, 250 ms to delete them (sqlite3 3.40 here) — against a
 * budget of 50 ms for the whole sweep. Here a transition is a field and a list move. Services and
 * persistent instances stay in SQLite (a file with --db).
 *
 * Owns: instances (one allocation each, strings included), per-service groups (the service's
 * namespace and name as the store gave them), due-time buckets (one per distinct due time, found by
 * hash, ordered by a heap), and the undo log of the open transaction. `expire_at` — when the sweeper must look at an instance next — is last beat +
 * min(beat timeout, delete timeout) while healthy and last beat + delete timeout once unhealthy;
 * marked instances are never due (the same rule the SQLite schema had), nor are connection-owned
 * ones (store.h: they go with their gRPC connection, not by missed beats).
 * Invariants: (service_id, cluster, ip, port) is unique; ids are >= EPH_ID_BASE (SQLite row ids stay
 * far below) and never reused by one table; due instances come out soonest first, ties by id; a
 * removed instance is freed at once outside a transaction and at commit inside one (rollback puts
 * it back); no bucket is freed inside a transaction, so a rollback never allocates.
 * Threading: none; the store's callers hold app->mu.
 * Views: `eph_rec` and the arrays filled below point into instances, valid until the next write.
 */
#ifndef NACOS_MOCK_EPHEMERAL_H
#define NACOS_MOCK_EPHEMERAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nacos_mock/records.h"

#define EPH_ID_BASE (INT64_C(1) << 48)

struct eph;
struct eph_inst;

struct eph *eph_new(void);
void eph_free(struct eph *e);

/* ---- lookups (NULL when absent) */
struct eph_inst *eph_get(struct eph *e, int64_t service_id, const char *cluster, const char *ip, int port);
struct eph_inst *eph_get_named(struct eph *e, const char *ns, const char *service, const char *cluster,
                               const char *ip, int port);
struct eph_inst *eph_get_id(struct eph *e, int64_t id);
const struct instance_rec *eph_rec(const struct eph_inst *i);

/* ---- writes. -1 only when out of memory (nothing changed). */
/* Inserts `in` (in->ephemeral must be set) as a new instance of service_id, whose namespace and
 * grouped name are ns/service; `replace` (may be NULL) is removed and its id kept. in->id, ns and
 * service are ignored; every string is copied. *id_out (may be NULL) gets the id. */
int eph_put(struct eph *e, const struct instance_rec *in, const char *ns, const char *service,
            struct eph_inst *replace, int64_t *id_out);
int eph_remove(struct eph *e, struct eph_inst *i);
int eph_set_health(struct eph *e, struct eph_inst *i, bool healthy);
/* last beat = max(last beat, now), healthy. */
int eph_beat(struct eph *e, struct eph_inst *i, int64_t now_ms);
/* Removes every instance of the service; *removed (may be NULL) gets how many. */
int eph_remove_instances(struct eph *e, int64_t service_id, long *removed);
/* The same, and forgets the service (its row is gone). */
int eph_remove_service(struct eph *e, int64_t service_id, long *removed);
int eph_clear(struct eph *e);

/* ---- reads */
long eph_count(struct eph *e, int64_t service_id);
void eph_totals(const struct eph *e, long *instances, long *healthy);
/* Views of the service's instances (service_id 0: of every service), unordered, in a new array the
 * caller frees. 0 ok, -1 out of memory. */
int eph_list(struct eph *e, int64_t service_id, const struct instance_rec ***out, size_t *n);
/* Ids of the services that have instances, in namespace `ns` (NULL: any) named `service` (NULL:
 * any), in a new array the caller frees. */
int eph_services(struct eph *e, const char *ns, const char *service, int64_t **out, size_t *n);
/* Up to `limit` instances with expire_at < now, soonest first (ties by id), as views into `out`
 * (room for `limit`). Returns how many. */
size_t eph_due(struct eph *e, int64_t now_ms, size_t limit, const struct instance_rec **out);

/* Visits up to `limit` due instances soonest first and applies cb's verdict (records.h) to each; -1
 * from cb stops. Returns how many were visited, -1 when out of memory before any was. */
long eph_sweep(struct eph *e, int64_t now_ms, size_t limit, store_verdict_cb cb, void *ctx);

/* ---- transactions: writes between begin and commit are undone by rollback. */
void eph_begin(struct eph *e);
void eph_commit(struct eph *e);
void eph_rollback(struct eph *e);

#endif
