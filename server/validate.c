/*
 * validate.c — parameter validators (see validate.h). Messages keep Java's wording where clients
 * or users know it (`Param 'x' is required.`, `For input string: "abc"`) and always name the field.
 */
#include "nacos_mock/validate.h"

#include <stdio.h>

int param_required(const struct params *p, const char *key, const char *type, const char **out, struct naming_err *e)
{
    const char *v = params_get(p, key);
    if (!v) {
        naming_err_missing(e, key, type);
        return -1;
    }
    *out = v;
    return 0;
}

static int not_a_number(const char *key, const char *v, struct naming_err *e)
{
    naming_err_set(e, NAMING_PARAM_INVALID, 400, "Param '%s' is not a number: For input string: \"%.64s\"", key, v);
    return -1;
}

int value_port(const char *key, const char *v, int *out, struct naming_err *e)
{
    long long port;
    if (params_strtoll(v, &port)) return not_a_number(key, v, e);
    if (port < 1 || port > 65535) {
        naming_err_set(e, NAMING_PARAM_INVALID, 400, "Param '%s' must be a port from 1 to 65535, got %lld", key, port);
        return -1;
    }
    *out = (int)port;
    return 0;
}

int param_port(const struct params *p, const char *key, int *out, struct naming_err *e)
{
    const char *v;
    if (param_required(p, key, "Integer", &v, e)) return -1;
    return value_port(key, v, out, e);
}

int param_int(const struct params *p, const char *key, long long def, long long min, long long max, long long *out,
              struct naming_err *e)
{
    const char *v = params_get(p, key);
    long long n;
    if (!v) {
        *out = def;
        return 0;
    }
    if (params_strtoll(v, &n)) return not_a_number(key, v, e);
    if (n < min || n > max) {
        naming_err_set(e, NAMING_PARAM_INVALID, 400, "Param '%s' must be from %lld to %lld, got %lld", key, min, max, n);
        return -1;
    }
    *out = n;
    return 0;
}

int param_double(const struct params *p, const char *key, double def, double *out, struct naming_err *e)
{
    const char *v = params_get(p, key);
    if (!v) {
        *out = def;
        return 0;
    }
    return params_strtod(v, out) ? not_a_number(key, v, e) : 0;
}

/* v1: the naming_err as `400 caused: <msg>;`. Always -1. */
static int v1_fail(const struct naming_err *e, struct reply *rep)
{
    naming_err_reply(e, rep);
    return -1;
}

int param_required_or_reply(const struct params *p, struct reply *rep, const char *key, const char **out)
{
    struct naming_err e;
    return param_required(p, key, "String", out, &e) ? v1_fail(&e, rep) : 0;
}

int param_port_or_reply(const struct params *p, struct reply *rep, const char *key, int *out)
{
    struct naming_err e;
    return param_port(p, key, out, &e) ? v1_fail(&e, rep) : 0;
}

int value_port_or_reply(const char *key, const char *v, struct reply *rep, int *out)
{
    struct naming_err e;
    return value_port(key, v, out, &e) ? v1_fail(&e, rep) : 0;
}

int param_int_or_reply(const struct params *p, struct reply *rep, const char *key, long long def, long long min,
                       long long max, long long *out)
{
    struct naming_err e;
    return param_int(p, key, def, min, max, out, &e) ? v1_fail(&e, rep) : 0;
}

int param_double_or_reply(const struct params *p, struct reply *rep, const char *key, double def, double *out)
{
    struct naming_err e;
    return param_double(p, key, def, out, &e) ? v1_fail(&e, rep) : 0;
}

bool param_bool(const struct params *p, const char *key, bool def)
{
    const char *v = params_get(p, key);
    return v ? params_truthy(v) : def;
}
