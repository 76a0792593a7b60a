/*
 * config.c — flags and NACOS_MOCK_* environment → struct config. One table describes every flag;
 * the same setter handles the environment value and the command-line value, so both validate alike.
 */
#include "nacos_mock/config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nacos_mock/log.h"
#include "nacos_mock/params.h"

enum opt_kind { OPT_STR, OPT_INT, OPT_I64, OPT_U64, OPT_BOOL, OPT_FAULT, OPT_LOGFMT, OPT_LOGLEVEL };

struct opt {
    const char *name;        /* long flag, without -- ; env is NACOS_MOCK_<NAME upper, - → _> */
    enum opt_kind kind;
    size_t offset;
    long long min, max;
    const char *arg;         /* help: argument name */
    const char *help;
};

#define OFF(f) offsetof(struct config, f)
static const struct opt OPTS[] = {
    {"host", OPT_STR, OFF(host), 0, 0, "ADDR", "address to bind (default 127.0.0.1)"},
    {"port", OPT_INT, OFF(port), 0, 65535, "N", "HTTP port; 0 picks a free port (default 8848)"},
    {"db", OPT_STR, OFF(db_path), 0, 0, "PATH", "SQLite database (default :memory:)"},
    {"beat-interval-ms", OPT_I64, OFF(beat_interval_ms), 1, 86400000, "N", "clientBeatInterval told to clients (default 5000)"},
    {"unhealthy-misses", OPT_INT, OFF(unhealthy_misses), 1, 100000, "N", "missed beats before UNHEALTHY (default 3)"},
    {"delete-misses", OPT_INT, OFF(delete_misses), 1, 100000, "N", "missed beats before removal (default 6)"},
    {"sweep-interval-ms", OPT_I64, OFF(sweep_interval_ms), 1, 3600000, "N", "health sweeper period (default 1000)"},
    {"threads", OPT_INT, OFF(threads), 1, 64, "N", "HTTP worker threads (default 2)"},
    {"fault", OPT_FAULT, OFF(fault_specs), 0, 0, "SPEC", "fault rule, compact form k=v,... (repeatable)"},
    {"faults", OPT_STR, OFF(faults_file), 0, 0, "FILE", "JSON array of fault rules"},
    {"fixtures", OPT_STR, OFF(fixtures_file), 0, 0, "FILE", "registry snapshot loaded at start"},
    {"seed", OPT_U64, OFF(seed), 0, 0, "N", "seed of every random choice (default random, printed)"},
    {"admin-token", OPT_STR, OFF(admin_token), 0, 0, "T", "require Authorization: Bearer T on /__mock/"},
    {"auth", OPT_STR, OFF(auth), 0, 0, "USER:PASS", "emulate Nacos auth: /nacos/v1/ns/ calls need a login token"},
    {"log-format", OPT_LOGFMT, OFF(log_format), 0, 0, "text|json", "log line format (default text)"},
    {"log-level", OPT_LOGLEVEL, OFF(log_level), 0, 0, "LEVEL", "debug|info|warn|error: info logs requests and health (default info)"},
    {"ready-file", OPT_STR, OFF(ready_file), 0, 0, "PATH", "write the URL here once listening"},
    {"journal-size", OPT_INT, OFF(journal_size), 0, 10000000, "N", "requests kept in the journal, 0 = off (default 10000)"},
    {"quiet", OPT_BOOL, OFF(quiet), 0, 0, NULL, "no per-request log lines"},
    {"grpc-port-offset", OPT_INT, OFF(grpc_port_offset), 1, 64535, "N",
     "gRPC (Nacos 2.x clients) listens on the HTTP port + N (default 1000)"},
    {"no-grpc", OPT_BOOL, OFF(no_grpc), 0, 0, NULL, "no gRPC listener (Nacos 1.x HTTP only)"},
    {"nodes", OPT_INT, OFF(nodes), 1, 9, "N",
     "N nodes of one cluster sharing one registry: node i on HTTP port + i, gRPC port + i (default 1)"},
    {"probe", OPT_BOOL, OFF(probe), 0, 0, NULL,
     "health check: ask readiness on --host/--port (wildcard: loopback), exit 0 if 200, else 1"},
};
#define N_OPTS (sizeof OPTS / sizeof OPTS[0])

void config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->host = strdup("127.0.0.1");
    cfg->port = 8848;
    cfg->db_path = strdup(":memory:");
    cfg->beat_interval_ms = 5000;
    cfg->unhealthy_misses = 3;
    cfg->delete_misses = 6;
    cfg->sweep_interval_ms = 1000;
    cfg->threads = 2;
    cfg->journal_size = 10000;
    cfg->grpc_port_offset = 1000;
    cfg->nodes = 1;
    cfg->log_format = strdup("text");
    cfg->log_level = strdup("info");
}

void config_free(struct config *cfg)
{
    free(cfg->host);
    free(cfg->db_path);
    free(cfg->admin_token);
    free(cfg->auth);
    free(cfg->log_format);
    free(cfg->log_level);
    free(cfg->faults_file);
    free(cfg->fixtures_file);
    free(cfg->ready_file);
    for (size_t i = 0; i < cfg->n_fault_specs; i++) free(cfg->fault_specs[i]);
    free(cfg->fault_specs);
    memset(cfg, 0, sizeof *cfg);
}

int64_t config_unhealthy_timeout_ms(const struct config *cfg)
{
    return cfg->beat_interval_ms * cfg->unhealthy_misses;
}

int64_t config_delete_timeout_ms(const struct config *cfg)
{
    return cfg->beat_interval_ms * cfg->delete_misses;
}

/* Applies one value; `from` names its source for messages. 0 ok, -1 with a message on err. */
static int apply(struct config *cfg, const struct opt *o, const char *val, const char *from, FILE *err)
{
    char *base = (char *)cfg + o->offset;
    switch (o->kind) {
    case OPT_STR: {
        char **dst = (char **)base;
        char *v = strdup(val);
        if (!v) return -1;
        free(*dst);
        *dst = v;
        return 0;
    }
    case OPT_LOGFMT: {
        if (strcmp(val, "text") && strcmp(val, "json")) {
            fprintf(err, "nacos-mock: %s: --log-format must be text or json, got '%s'\n", from, val);
            return -1;
        }
        char **dst = (char **)base;
        free(*dst);
        *dst = strdup(val);
        return *dst ? 0 : -1;
    }
    case OPT_LOGLEVEL: {
        if (log_level_parse(val) < 0) {
            fprintf(err, "nacos-mock: %s: --log-level must be debug, info, warn or error, got '%s'\n", from, val);
            return -1;
        }
        char **dst = (char **)base;
        free(*dst);
        *dst = strdup(val);
        return *dst ? 0 : -1;
    }
    case OPT_INT:
    case OPT_I64: {
        long long v;
        if (params_strtoll(val, &v) || v < o->min || v > o->max) {
            fprintf(err, "nacos-mock: %s: --%s must be an integer from %lld to %lld, got '%s'\n", from, o->name,
                    o->min, o->max, val);
            return -1;
        }
        if (o->kind == OPT_INT) *(int *)base = (int)v;
        else *(int64_t *)base = v;
        return 0;
    }
    case OPT_U64: {
        char *end = NULL;
        errno = 0;
        if (!*val || !isdigit((unsigned char)*val)) goto bad_u64;
        unsigned long long v = strtoull(val, &end, 10);
        if (errno || *end) goto bad_u64;
        *(uint64_t *)base = v;
        cfg->seed_given = true;
        return 0;
    bad_u64:
        fprintf(err, "nacos-mock: %s: --%s must be a non-negative integer, got '%s'\n", from, o->name, val);
        return -1;
    }
    case OPT_BOOL:
        *(bool *)base = val == NULL || params_truthy(val);
        return 0;
    case OPT_FAULT: {
        char **nv = realloc(cfg->fault_specs, (cfg->n_fault_specs + 1) * sizeof *nv);
        if (!nv) return -1;
        cfg->fault_specs = nv;
        if (!(nv[cfg->n_fault_specs] = strdup(val))) return -1;
        cfg->n_fault_specs++;
        return 0;
    }
    }
    return -1;
}

static void usage(FILE *out)
{
    fprintf(out, "Usage: nacos-mock [options]\n"
                 "A fast, wire-compatible stand-in for the Nacos naming server (v1 HTTP API).\n\n");
    for (size_t i = 0; i < N_OPTS; i++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", OPTS[i].name, OPTS[i].arg ? " " : "", OPTS[i].arg ? OPTS[i].arg : "");
        fprintf(out, "  %-28s %s\n", left, OPTS[i].help);
    }
    fprintf(out, "  %-28s %s\n  %-28s %s\n\n", "--version", "print the version and exit", "--help",
            "print this help and exit");
    fprintf(out, "Every flag can also be set with NACOS_MOCK_<FLAG>, e.g. NACOS_MOCK_PORT=0 or\n"
                 "NACOS_MOCK_BEAT_INTERVAL_MS=200. Command-line flags win over the environment.\n");
}

enum config_result config_parse(struct config *cfg, int argc, char **argv, FILE *out, FILE *err)
{
    config_defaults(cfg);
    if (!cfg->host || !cfg->db_path || !cfg->log_format || !cfg->log_level) return CONFIG_ERROR;

    for (size_t i = 0; i < N_OPTS; i++) {
        /* --probe is an action, not a setting: from the environment it would turn every server started
         * in that environment (a container's) into a probe */
        if (!strcmp(OPTS[i].name, "probe")) continue;
        char env[64] = "NACOS_MOCK_";
        size_t n = strlen(env);
        for (const char *c = OPTS[i].name; *c && n + 1 < sizeof env; c++)
            env[n++] = *c == '-' ? '_' : (char)toupper((unsigned char)*c);
        env[n] = '\0';
        const char *v = getenv(env);
        if (v && *v && apply(cfg, &OPTS[i], v, env, err)) return CONFIG_ERROR;
    }

    struct option lopts[N_OPTS + 3];
    for (size_t i = 0; i < N_OPTS; i++)
        lopts[i] = (struct option){OPTS[i].name, OPTS[i].kind == OPT_BOOL ? no_argument : required_argument,
                                   NULL, (int)(1000 + i)};
    lopts[N_OPTS] = (struct option){"help", no_argument, NULL, 'h'};
    lopts[N_OPTS + 1] = (struct option){"version", no_argument, NULL, 'V'};
    lopts[N_OPTS + 2] = (struct option){NULL, 0, NULL, 0};

    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":hV", lopts, NULL)) != -1) {
        if (c == 'h') { usage(out); return CONFIG_EXIT_OK; }
        if (c == 'V') { fprintf(out, "nacos-mock %s\n", NACOS_MOCK_VERSION); return CONFIG_EXIT_OK; }
        if (c == '?' || c == ':') {
            const char *bad = argv[optind - 1] ? argv[optind - 1] : "?";
            fprintf(err, "nacos-mock: %s '%s' (see --help)\n", c == ':' ? "missing value for" : "unknown option", bad);
            return CONFIG_ERROR;
        }
        const struct opt *o = &OPTS[c - 1000];
        char from[80];
        snprintf(from, sizeof from, "--%s", o->name);
        if (apply(cfg, o, optarg, from, err)) return CONFIG_ERROR;
    }
    if (optind < argc) {
        fprintf(err, "nacos-mock: unexpected argument '%s' (see --help)\n", argv[optind]);
        return CONFIG_ERROR;
    }
    if (cfg->delete_misses < cfg->unhealthy_misses) {
        fprintf(err, "nacos-mock: --delete-misses (%d) must be >= --unhealthy-misses (%d)\n", cfg->delete_misses,
                cfg->unhealthy_misses);
        return CONFIG_ERROR;
    }
    return CONFIG_OK;
}
