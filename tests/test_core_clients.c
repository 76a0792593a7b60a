/*
 * test_core_clients.c — unit tests of the naming-core pieces the v2 Open API brought (naming_core.h),
 * with no transport at all: an in-process app over the :memory: store, connection clients opened
 * directly in the clients table. Client views (ip:port clients derived from the instances no
 * connection owns, connection clients with what they own and subscribe to), the 2.x service delete,
 * and the metadata batch (all or nothing).
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

#define T0 INT64_C(1000000000000)
#define SVC "DEFAULT_GROUP@@order"

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

static void reg(struct fx *f, const char *service, const char *ip, int port, bool ephemeral, uint64_t owner)
{
    struct nc_instance in = {.k = {.ns = "public", .service = service, .ip = ip, .port = port}, .weight = 1.0,
                             .enabled = true, .healthy = true, .ephemeral = ephemeral, .metadata = f->md};
    struct naming_err e;
    if (nc_register(&f->app, &in, NC_REGISTER, owner, T0, &e)) fail_msg("register %s:%d: %s", ip, port, e.msg);
}

/* The client ids, joined with spaces, in nc_client_foreach order. */
struct ids {
    char s[1024];
};

static int add_id(void *ctx, const struct nc_client *c)
{
    struct ids *ids = ctx;
    size_t n = strlen(ids->s);
    snprintf(ids->s + n, sizeof ids->s - n, "%s%s", n ? " " : "", c->id);
    return 0;
}

static const char *all_ids(struct fx *f, struct ids *ids)
{
    struct naming_err e;
    ids->s[0] = '\0';
    assert_int_equal(nc_client_foreach(&f->app, add_id, ids, &e), 0);
    return ids->s;
}

static int count_inst(void *ctx, const struct instance_rec *r)
{
    (*(int *)ctx)++;
    return 0;
}

static int count_pub(void *ctx, const char *client_id, const struct instance_rec *r)
{
    (*(int *)ctx)++;
    return 0;
}

static int count_client(void *ctx, const struct nc_client *c)
{
    (*(int *)ctx)++;
    return 0;
}

static void count_sub(void *ctx, const char *ns, const char *service, const char *clusters)
{
    (*(int *)ctx)++;
}

static void test_ip_port_clients(void **state)
{
    struct fx *f = *state;
    struct ids ids;
    assert_string_equal(all_ids(f, &ids), "");
    reg(f, SVC, "10.0.0.2", 80, true, 0);
    reg(f, SVC, "10.0.0.1", 80, true, 0);
    reg(f, "DEFAULT_GROUP@@other", "10.0.0.1", 80, true, 0);   /* the same address: one client */
    reg(f, SVC, "10.0.0.1", 81, false, 0);
    assert_string_equal(all_ids(f, &ids), "10.0.0.1:80#true 10.0.0.1:81#false 10.0.0.2:80#true");

    struct nc_client c;
    struct naming_err e;
    assert_int_equal(nc_client_get(&f->app, "10.0.0.1:80#true", &c, &e), 0);
    assert_false(c.connection);
    assert_true(c.ephemeral);
    assert_string_equal(c.ip, "10.0.0.1");
    assert_int_equal(c.port, 80);
    assert_true(c.last_updated_ms == T0);
    int n = 0;
    assert_int_equal(nc_client_published(&f->app, "10.0.0.1:80#true", count_inst, &n, &e), 0);
    assert_int_equal(n, 2);
    n = 0;
    assert_int_equal(nc_client_subscribed(&f->app, "10.0.0.1:80#true", count_sub, &n, &e), 0);
    assert_int_equal(n, 0);
    /* an id of the right form, but no such address or kind */
    assert_int_equal(nc_client_get(&f->app, "10.0.0.2:80#false", &c, &e), -1);
    assert_int_equal(e.code, NAMING_CLIENT_NOT_FOUND);
    assert_string_equal(e.msg, "clientId [ 10.0.0.2:80#false ] not exist");
    assert_int_equal(nc_client_get(&f->app, "10.0.0.2:x#true", &c, &e), -1);

    struct nc_client_counts cc;
    assert_int_equal(nc_client_counts(&f->app, &cc, &e), 0);
    assert_int_equal(cc.ephemeral_ip_port, 2);
    assert_int_equal(cc.persistent_ip_port, 1);
    assert_int_equal(cc.connection, 0);
    n = 0;
    assert_int_equal(nc_service_publishers(&f->app, "public", SVC, "10.0.0.1", 0, count_pub, &n, &e), 0);
    assert_int_equal(n, 2);
    n = 0;
    assert_int_equal(nc_service_publishers(&f->app, "public", "DEFAULT_GROUP@@none", NULL, 0, count_pub, &n, &e), 0);
    assert_int_equal(n, 0);
}

static void test_connection_clients(void **state)
{
    struct fx *f = *state;
    struct app *app = &f->app;
    struct client *cl = clients_open(app->clients, 7, "1700000000000_127.0.0.1_50001", "127.0.0.1:50001", 0, T0);
    assert_non_null(cl);
    reg(f, SVC, "10.0.1.1", 9000, true, 7);
    reg(f, SVC, "10.0.1.2", 9000, true, 0);
    struct naming_err e;
    assert_int_equal(nc_subscribe(app, 7, "public", SVC, "", true, &e), 0);
    struct ids ids;
    assert_string_equal(all_ids(f, &ids), "10.0.1.2:9000#true 1700000000000_127.0.0.1_50001");

    struct nc_client c;
    assert_int_equal(nc_client_get(app, "1700000000000_127.0.0.1_50001", &c, &e), 0);
    assert_true(c.connection);
    assert_string_equal(c.ip, "127.0.0.1");
    assert_int_equal(c.port, 50001);
    assert_ptr_equal(c.conn, cl);
    int n = 0;
    assert_int_equal(nc_client_published(app, c.id, count_inst, &n, &e), 0);
    assert_int_equal(n, 1);
    n = 0;
    assert_int_equal(nc_client_subscribed(app, c.id, count_sub, &n, &e), 0);
    assert_int_equal(n, 1);
    n = 0;
    assert_int_equal(nc_service_subscribers(app, "public", SVC, NULL, 0, count_client, &n, &e), 0);
    assert_int_equal(n, 1);
    n = 0;   /* a connection subscriber's port is 0: a port filter leaves it out */
    assert_int_equal(nc_service_subscribers(app, "public", SVC, NULL, 50001, count_client, &n, &e), 0);
    assert_int_equal(n, 0);

    /* the connection ends: it, its instance and its subscription go */
    long removed = 0;
    nc_client_closed(app, 7, T0 + 1, &removed);
    assert_int_equal(removed, 1);
    assert_string_equal(all_ids(f, &ids), "10.0.1.2:9000#true");
    assert_int_equal(nc_client_get(app, "1700000000000_127.0.0.1_50001", &c, &e), -1);
}

static void test_service_delete_empty(void **state)
{
    struct fx *f = *state;
    struct naming_err e;
    reg(f, SVC, "10.0.2.1", 80, true, 0);
    assert_int_equal(nc_service_delete_empty(&f->app, "public", SVC, T0, &e), -1);
    assert_int_equal(e.code, NAMING_SERVICE_NOT_EMPTY);
    assert_string_equal(e.msg, "Service DEFAULT_GROUP@@order is not empty, can't be delete. Please unregister instance first");
    struct nc_key k = {.ns = "public", .service = SVC, .ip = "10.0.2.1", .port = 80};
    assert_int_equal(nc_deregister(&f->app, &k, true, 0, T0, &e), 0);
    assert_int_equal(nc_service_delete_empty(&f->app, "public", SVC, T0, &e), 0);
    assert_int_equal(nc_service_delete_empty(&f->app, "public", SVC, T0, &e), -1);
    assert_int_equal(e.code, NAMING_SERVICE_NOT_FOUND);
    assert_string_equal(e.msg, "service DEFAULT_GROUP@@order not found!");
    /* the 1.x delete takes the instances along */
    reg(f, SVC, "10.0.2.1", 80, true, 0);
    assert_int_equal(nc_service_delete(&f->app, "public", SVC, T0, &e), 0);
}

static void collect_updated(void *ctx, const struct instance_rec *r)
{
    (*(int *)ctx)++;
}

static void test_metadata_batch_all_or_nothing(void **state)
{
    struct fx *f = *state;
    struct naming_err e;
    reg(f, SVC, "10.0.3.1", 80, true, 0);
    reg(f, SVC, "10.0.3.2", 80, true, 0);
    cJSON *md = cJSON_Parse("{\"preserved.heart.beat.interval\":\"60000\"}");   /* above the 15 s timeout */
    struct nc_metadata_batch b = {.ns = "public", .service = SVC, .ephemeral = true, .metadata = md};
    int n = 0;
    assert_int_equal(nc_metadata_batch(&f->app, &b, T0, collect_updated, &n, &e), -1);
    assert_int_equal(e.code, NAMING_INSTANCE_METADATA);
    struct instance_rec r;
    struct service_rec s;
    assert_int_equal(store_service_get(f->app.store, "public", SVC, &s), 0);
    assert_int_equal(store_instance_get(f->app.store, s.id, "DEFAULT", "10.0.3.1", 80, &r), 0);
    assert_string_equal(r.metadata, "{}");   /* nothing changed, the first instance neither */
    store_instance_rec_free(&r);
    cJSON_Delete(md);

    /* usable timings are applied to the instance's timeouts too */
    md = cJSON_Parse("{\"preserved.heart.beat.timeout\":\"20000\"}");
    struct nc_key t = {.ip = "10.0.3.2", .port = 80};
    b = (struct nc_metadata_batch){.ns = "public", .service = SVC, .targets = &t, .n_targets = 1, .ephemeral = true,
                                   .metadata = md};
    n = 0;
    assert_int_equal(nc_metadata_batch(&f->app, &b, T0, collect_updated, &n, &e), 0);
    assert_int_equal(n, 1);
    assert_int_equal(store_instance_get(f->app.store, s.id, "DEFAULT", "10.0.3.2", 80, &r), 0);
    assert_int_equal(r.hb_timeout_ms, 20000);
    store_instance_rec_free(&r);
    store_service_rec_free(&s);
    cJSON_Delete(md);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ip_port_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_service_delete_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metadata_batch_all_or_nothing, setup, teardown),
    };
    return cmocka_run_group_tests_name("naming core: clients, 2.x delete, metadata batch", tests, NULL, NULL);
}
