/*
 * main.c — argv, signals, lifecycle; nothing else. With --probe it is the health check instead
 * (probe.c) and exits with its verdict.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nacos_mock/config.h"
#include "nacos_mock/faults.h"
#include "nacos_mock/log.h"
#include "nacos_mock/probe.h"
#include "nacos_mock/server.h"

static volatile sig_atomic_t g_stop = 0;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

/* Writes `url` to path atomically (temp file + rename), so a poller never sees a partial file. */
static int write_ready_file(const char *path, const char *url)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) return -1;
    int ok = fprintf(f, "%s\n", url) > 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct config cfg;
    struct server srv;
    int rc = 1;
    bool srv_ready = false;
    char err[512] = "";

    enum config_result cr = config_parse(&cfg, argc, argv, stdout, stderr);
    if (cr != CONFIG_OK) {
        rc = cr == CONFIG_EXIT_OK ? 0 : 2;
        goto out;
    }
    if (cfg.probe) {   /* exit status 0 = ready, 1 = not (docker's HEALTHCHECK convention) */
        rc = probe_readiness(&cfg, PROBE_TIMEOUT_MS, err, sizeof err) == 0 ? 0 : 1;
        if (rc) fprintf(stderr, "nacos-mock --probe: %s\n", err);
        goto out;
    }
    log_set_format(strcmp(cfg.log_format, "json") == 0 ? LOG_JSON : LOG_TEXT);
    log_set_quiet(cfg.quiet);
    log_set_level((enum log_level)log_level_parse(cfg.log_level));

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* block the stop signals in every thread; main waits for them in sigsuspend (no lost wake-up) */
    sigset_t block, orig;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &orig);

    if (cfg.ready_file) unlink(cfg.ready_file);   /* a file left by a killed run must not say "ready" */
    srv_ready = true;
    if (server_init(&srv, &cfg, err, sizeof err)) {
        fprintf(stderr, "nacos-mock: %s\n", err);
        goto out_app;
    }
    if (server_start(&srv, err, sizeof err)) {
        fprintf(stderr, "nacos-mock: %s\n", err);
        goto out_app;
    }

    char url[300];
    bool v6 = strchr(cfg.host, ':') != NULL;
    snprintf(url, sizeof url, "http://%s%s%s:%d", v6 ? "[" : "", cfg.host, v6 ? "]" : "", server_http_port(&srv));
    /* the start-up log line first: once stdout says so, clients come, and their request lines follow it */
    char grpc[64] = "gRPC off";
    if (server_grpc_port(&srv)) snprintf(grpc, sizeof grpc, "gRPC on port %d", server_grpc_port(&srv));
    log_info("nacos-mock %s listening on %s, %s (db %s, seed %llu%s); console %s/__mock/ui/", NACOS_MOCK_VERSION, url,
             grpc, cfg.db_path, (unsigned long long)faults_seed(srv.app.faults),
             cfg.seed_given ? "" : ", random: pass --seed to repeat", url);
    for (int i = 1; i < srv.app.n_nodes; i++)
        log_info("node %d listening on http://%s%s%s:%d, gRPC on port %d", i, v6 ? "[" : "", cfg.host, v6 ? "]" : "",
                 atomic_load(&srv.app.nodes[i].http_port), atomic_load(&srv.app.nodes[i].grpc_port));
    /* node 0's line first (what a reader of one line waits for), then one line per further node */
    printf("nacos-mock listening on %s\n", url);
    for (int i = 1; i < srv.app.n_nodes; i++)
        printf("nacos-mock listening on http://%s%s%s:%d (node %d)\n", v6 ? "[" : "", cfg.host, v6 ? "]" : "",
               atomic_load(&srv.app.nodes[i].http_port), i);
    fflush(stdout);
    if (cfg.ready_file && write_ready_file(cfg.ready_file, url)) {
        fprintf(stderr, "nacos-mock: cannot write --ready-file %s\n", cfg.ready_file);
        goto out_app;
    }

    while (!g_stop) sigsuspend(&orig);
    log_info("stopping");
    rc = 0;
out_app:
    if (srv_ready) server_free(&srv);
    if (cfg.ready_file && rc == 0) unlink(cfg.ready_file);
out:
    config_free(&cfg);
    return rc;
}
