/*
 * test_naming_core.c — unit tests of the naming core (naming_core.h) with no transport: an
 * in-process app over the :memory: store, calls made as the gRPC adapter makes them. Covers the
 * bookkeeping of connection-owned instances (clients.h): registered with an owner, listed on the
 * client, never swept for missed beats, removed exactly when their connection ends; batch
 * registration replacing a connection's own instances; deregistration limited to what a connection
 * owns; ownership moving with a re-registration; persistent instances never owned; subscriptions
 * dropped with their connection; and validation errors that change nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nacos_mock/app.h"
#include "nacos_mock/clients.h"
#include "nacos_mock/config.h"
#include "nacos_mock/naming_core.h"
#include "nacos_mock/store.h"
#include "nacos_mock/subs.h"
#include "nacos_mock/sweeper.h"

#define T0 INT64_C(1000000000000)
#define SVC "DEFAULT_GROUP@@order"
#define C1 ((uint64_t)11)
#define C2 ((uint64_t)22)

struct fx {
    struct config cfg;
    struct app app;
    cJSON *md;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (!f) return -1;
    config_defaults(&f->cfg);
    char err[256] = "";
    if (app_init(&f->app, &f->cfg, err, sizeof err)) {
        fprintf(stderr, "app_init: %s\n", err);
        return -1;
    }
    app_lock(&f->app);   /* the test runs as a request handler: the naming core's callers hold app->mu */
    f->md = cJSON_CreateObject();
    assert_non_null(clients_open(f->app.clients, C1, "1_127.0.0.1_1", "127.0.0.1:1", 0, T0));
    assert_non_null(clients_open(f->app.clients, C2, "2_127.0.0.1_2", "127.0.0.1:2", 0, T0));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    cJSON_Delete(f->md);
    app_unlock(&f->app);
    app_free(&f->app);
    config_free(&f->cfg);
    free(f);
    return 0;
}

static struct nc_instance inst(struct fx *f, const char *ip, int port)
{
    return (struct nc_instance){.k = {.ns = "public", .service = SVC, .ip = ip, .port = port}, .weight = 1.0,
                                .enabled = true, .healthy = true, .ephemeral = true, .metadata = f->md};
}

static void reg(struct fx *f, const char *ip, int port, uint64_t owner)
{
    struct nc_instance in = inst(f, ip, port);
    struct naming_err e;
    if (nc_register(&f->app, &in, NC_REGISTER, owner, T0, &e)) fail_msg("register %s:%d: %s", ip, port, e.msg);
}

/* 1 when the instance exists (its owner in *owner), 0 when not. */
static int find(struct fx *f, const char *ip, int port, uint64_t *owner)
{
    struct service_rec s;
    if (store_service_get(f->app.store, "public", SVC, &s)) return 0;
    struct instance_rec r;
    int g = store_instance_get(f->app.store, s.id, "DEFAULT", ip, port, &r);
    store_service_rec_free(&s);
    if (g) return 0;
    if (owner) *owner = r.owner;
    store_instance_rec_free(&r);
    return 1;
}

static size_t owned(struct fx *f, uint64_t c)
{
    struct client *cl = clients_get(f->app.clients, c);
    return cl ? cl->n_owned : (size_t)-1;
}

static void test_owned_instances_go_with_their_connection(void **state)
{
    struct fx *f = *state;
    reg(f, "10.0.0.1", 1, C1);
    reg(f, "10.0.0.2", 2, C1);
    reg(f, "10.0.0.3", 3, C2);
    reg(f, "10.0.0.4", 4, 0);   /* over HTTP */
    uint64_t o = 0;
    assert_true(find(f, "10.0.0.1", 1, &o) && o == C1);
    assert_int_equal(owned(f, C1), 2);
    assert_int_equal(owned(f, C2), 1);
    /* never swept: a day of virtual time later only the HTTP one (which never beat) is gone */
    struct sweep_result r = {0};
    assert_int_equal(sweeper_run_once(&f->app, T0 + 86400000, 0, &r), 0);
    assert_int_equal(r.n, 2);   /* HEALTHY -> UNHEALTHY -> REMOVED, of the HTTP instance only */
    assert_string_equal(r.v[1].to, "REMOVED");
    assert_string_equal(r.v[1].instance_id, "10.0.0.4#4#DEFAULT#" SVC);
    sweep_result_free(&r);
    assert_true(find(f, "10.0.0.1", 1, NULL) && find(f, "10.0.0.3", 3, NULL) && !find(f, "10.0.0.4", 4, NULL));
    /* C1 ends: exactly its two go, and it is forgotten */
    long removed = 0;
    nc_client_closed(&f->app, C1, T0, &removed);
    assert_int_equal(removed, 2);
    assert_false(find(f, "10.0.0.1", 1, NULL) || find(f, "10.0.0.2", 2, NULL));
    assert_true(find(f, "10.0.0.3", 3, NULL));
    assert_null(clients_get(f->app.clients, C1));
    nc_client_closed(&f->app, C1, T0, &removed);   /* twice (transport after control plane): nothing */
    assert_int_equal(removed, 0);
}

static void test_ownership_moves_with_a_register(void **state)
{
    struct fx *f = *state;
    reg(f, "10.0.0.1", 1, C1);
    reg(f, "10.0.0.1", 1, C2);   /* the same key from another connection takes it over */
    uint64_t o = 0;
    assert_true(find(f, "10.0.0.1", 1, &o) && o == C2);
    assert_int_equal(owned(f, C1), 0);
    assert_int_equal(owned(f, C2), 1);
    nc_client_closed(&f->app, C1, T0, NULL);
    assert_true(find(f, "10.0.0.1", 1, NULL));   /* not C1's any more */
    reg(f, "10.0.0.1", 1, 0);   /* an HTTP register takes it over: beats decide from now on */
    assert_true(find(f, "10.0.0.1", 1, &o) && o == 0);
    assert_int_equal(owned(f, C2), 0);
    nc_client_closed(&f->app, C2, T0, NULL);
    assert_true(find(f, "10.0.0.1", 1, NULL));
}

static void test_deregister_only_what_a_connection_owns(void **state)
{
    struct fx *f = *state;
    reg(f, "10.0.0.1", 1, C1);
    reg(f, "10.0.0.2", 2, 0);
    struct naming_err e;
    struct nc_key k1 = {.ns = "public", .service = SVC, .ip = "10.0.0.1", .port = 1};
    struct nc_key k2 = {.ns = "public", .service = SVC, .ip = "10.0.0.2", .port = 2};
    assert_int_equal(nc_deregister(&f->app, &k1, true, C2, T0, &e), 0);   /* another's: left alone, no error */
    assert_int_equal(nc_deregister(&f->app, &k2, true, C2, T0, &e), 0);   /* HTTP's: left alone */
    assert_true(find(f, "10.0.0.1", 1, NULL) && find(f, "10.0.0.2", 2, NULL));
    assert_int_equal(nc_deregister(&f->app, &k1, true, C1, T0, &e), 0);
    assert_false(find(f, "10.0.0.1", 1, NULL));
    assert_int_equal(owned(f, C1), 0);
    assert_int_equal(nc_deregister(&f->app, &k2, true, 0, T0, &e), 0);   /* HTTP deregisters by key */
    assert_false(find(f, "10.0.0.2", 2, NULL));
}

static void test_batch_replaces_a_connections_own(void **state)
{
    struct fx *f = *state;
    reg(f, "10.0.0.9", 9, C2);   /* another connection's, in the same service */
    struct nc_instance v[3] = {inst(f, "10.0.0.1", 1), inst(f, "10.0.0.2", 2), inst(f, "10.0.0.3", 3)};
    struct naming_err e;
    assert_int_equal(nc_batch_register(&f->app, "public", SVC, v, 3, C1, T0, &e), 0);
    assert_int_equal(owned(f, C1), 3);
    assert_int_equal(nc_batch_register(&f->app, "public", SVC, &v[1], 1, C1, T0, &e), 0);
    assert_int_equal(owned(f, C1), 1);
    assert_false(find(f, "10.0.0.1", 1, NULL) || find(f, "10.0.0.3", 3, NULL));
    assert_true(find(f, "10.0.0.2", 2, NULL) && find(f, "10.0.0.9", 9, NULL));
    /* a bad instance: nothing changes */
    struct nc_instance bad[2] = {inst(f, "10.0.0.5", 5), inst(f, "10.0.0.6", 70000)};
    assert_int_equal(nc_batch_register(&f->app, "public", SVC, bad, 2, C1, T0, &e), -1);
    assert_int_equal(e.code, NAMING_PARAM_INVALID);
    assert_non_null(strstr(e.msg, "'port'"));
    assert_false(find(f, "10.0.0.5", 5, NULL));
    assert_int_equal(owned(f, C1), 1);
    /* empty: the connection's instances of the service go */
    assert_int_equal(nc_batch_register(&f->app, "public", SVC, NULL, 0, C1, T0, &e), 0);
    assert_int_equal(owned(f, C1), 0);
    assert_false(find(f, "10.0.0.2", 2, NULL));
    assert_true(find(f, "10.0.0.9", 9, NULL));
}

static void test_persistent_is_never_owned(void **state)
{
    struct fx *f = *state;
    struct nc_instance in = inst(f, "10.0.0.1", 1);
    in.ephemeral = false;
    struct naming_err e;
    assert_int_equal(nc_register(&f->app, &in, NC_REGISTER, C1, T0, &e), 0);
    uint64_t o = 1;
    assert_true(find(f, "10.0.0.1", 1, &o) && o == 0);
    assert_int_equal(owned(f, C1), 0);
    nc_client_closed(&f->app, C1, T0, NULL);
    assert_true(find(f, "10.0.0.1", 1, NULL));
}

static void test_subscriptions_go_with_their_connection(void **state)
{
    struct fx *f = *state;
    struct naming_err e;
    assert_int_equal(nc_subscribe(&f->app, C1, "public", SVC, "", true, &e), 0);
    assert_int_equal(nc_subscribe(&f->app, C1, "public", SVC, "", true, &e), 0);   /* idempotent */
    assert_int_equal(nc_subscribe(&f->app, C1, "public", SVC, "C2", true, &e), 0);  /* new clusters replace */
    assert_int_equal(subs_count_conn(f->app.subs, C1), 1);
    assert_int_equal(nc_subscribe(&f->app, C1, "public", "G@@other", "a,b", true, &e), 0);
    assert_int_equal(nc_subscribe(&f->app, C2, "public", SVC, "", true, &e), 0);
    assert_int_equal(subs_count_conn(f->app.subs, C1), 2);
    assert_int_equal(nc_subscribe(&f->app, C1, "public", "G@@other", "", false, &e), 0);   /* whatever clusters */
    assert_int_equal(subs_count_conn(f->app.subs, C1), 1);
    nc_client_closed(&f->app, C1, T0, NULL);
    assert_int_equal(subs_count_conn(f->app.subs, C1), 0);
    assert_int_equal(subs_count_conn(f->app.subs, C2), 1);
}

static void test_validation_changes_nothing(void **state)
{
    struct fx *f = *state;
    struct naming_err e;
    struct nc_instance in = inst(f, "not an ip!", 1);
    assert_int_equal(nc_register(&f->app, &in, NC_REGISTER, C1, T0, &e), -1);
    assert_non_null(strstr(e.msg, "'ip'"));
    in = inst(f, "10.0.0.1", 1);
    in.weight = 20000;
    assert_int_equal(nc_register(&f->app, &in, NC_REGISTER, C1, T0, &e), -1);
    assert_int_equal(e.code, NAMING_WEIGHT);
    in = inst(f, "10.0.0.1", 1);
    in.k.cluster = "bad\x01";
    assert_int_equal(nc_register(&f->app, &in, NC_REGISTER, C1, T0, &e), -1);
    assert_non_null(strstr(e.msg, "'clusterName'"));
    assert_int_equal(owned(f, C1), 0);
    long services = -1, instances = -1;
    assert_int_equal(store_counts(f->app.store, &services, &instances, NULL), 0);
    assert_int_equal(services, 0);
    assert_int_equal(instances, 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_owned_instances_go_with_their_connection), T(test_ownership_moves_with_a_register),
        T(test_deregister_only_what_a_connection_owns),  T(test_batch_replaces_a_connections_own),
        T(test_persistent_is_never_owned),                T(test_subscriptions_go_with_their_connection),
        T(test_validation_changes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
