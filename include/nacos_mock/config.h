/*
 * config — the command line and NACOS_MOCK_* environment turned into one struct config.
 *
 * Owns: nothing after parsing but the strings it strdup'd (config_free releases them).
 * Precedence: defaults < environment (NACOS_MOCK_<FLAG>, e.g. NACOS_MOCK_PORT) < command line.
 * Threading: parsed once in main before any thread starts; read-only afterwards.
 */
#ifndef NACOS_MOCK_CONFIG_H
#define NACOS_MOCK_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct config {
    char *host;                  /* bind address, default 127.0.0.1 */
    int port;                    /* 0 = pick a free port */
    char *db_path;               /* ":memory:" by default */
    int64_t beat_interval_ms;    /* clientBeatInterval told to clients */
    int unhealthy_misses;        /* missed beats before UNHEALTHY */
    int delete_misses;           /* missed beats before removal */
    int64_t sweep_interval_ms;   /* health sweeper period */
    int threads;                 /* libmicrohttpd worker threads */
    uint64_t seed;               /* seed of every random choice */
    bool seed_given;
    char *admin_token;           /* bearer token for /__mock/, NULL = open */
    char *auth;                  /* --auth USER:PASS: emulate Nacos auth, NULL = off */
    char *log_format;            /* "text" | "json" */
    char *log_level;             /* "debug" | "info" | "warn" | "error" */
    char **fault_specs;          /* --fault, repeatable (compact form) */
    size_t n_fault_specs;
    char *faults_file;           /* --faults FILE */
    char *fixtures_file;         /* --fixtures FILE */
    char *ready_file;            /* --ready-file PATH */
    bool quiet;                  /* --quiet: no per-request log lines */
    int journal_size;            /* request journal capacity, 0 = off */
    int grpc_port_offset;        /* gRPC listens on the HTTP port + this */
    bool no_grpc;                /* --no-grpc: no gRPC listener */
    int nodes;                   /* --nodes N: N nodes of one cluster, each its own HTTP + gRPC ports */
    bool probe;                  /* --probe: ask readiness of the server these flags describe, then exit */
};

enum config_result { CONFIG_OK = 0, CONFIG_EXIT_OK = 1, CONFIG_ERROR = 2 };

/* Fills *cfg with defaults, then the environment, then argv. --help / --version print to `out`
 * and return CONFIG_EXIT_OK; a bad flag prints a message naming it to `err` and returns
 * CONFIG_ERROR. The caller frees with config_free() in every case. */
enum config_result config_parse(struct config *cfg, int argc, char **argv, FILE *out, FILE *err);
void config_defaults(struct config *cfg);
void config_free(struct config *cfg);

/* Health timeouts derived from the flags (ms). */
int64_t config_unhealthy_timeout_ms(const struct config *cfg);
int64_t config_delete_timeout_ms(const struct config *cfg);

#endif
