/*
 * validate.c — validators that answer (see validate.h). Messages keep Java's wording where clients
 * or users know it (`Param 'x' is required.`, `For input string: "abc"`) and always name the field.
 */
#include "nacos_mock/validate.h"

#include <stdio.h>

int param_required_or_reply(const struct params *p, struct reply *rep, const char *key, const char **out)
{
    const char *v = params_get(p, key);
    if (!v) {
        reply_caused(rep, 400, "Param '%s' is required.", key);
        return -1;
    }
    *out = v;
    return 0;
}

int param_port_or_reply(const struct params *p, struct reply *rep, const char *key, int *out)
{
    const char *v;
    if (param_required_or_reply(p, rep, key, &v)) return -1;
    return value_port_or_reply(key, v, rep, out);
}

int value_port_or_reply(const char *key, const char *v, struct reply *rep, int *out)
{
    long long port;
    if (params_strtoll(v, &port)) {
        reply_caused(rep, 400, "Param '%s' is not a number: For input string: \"%.64s\"", key, v);
        return -1;
    }
    if (port < 1 || port > 65535) {
        reply_caused(rep, 400, "Param '%s' must be a port from 1 to 65535, got %lld", key, port);
        return -1;
    }
    *out = (int)port;
    return 0;
}

int param_int_or_reply(const struct params *p, struct reply *rep, const char *key, long long def, long long min,
                       long long max, long long *out)
{
    const char *v = params_get(p, key);
    long long n;
    if (!v) {
        *out = def;
        return 0;
    }
    if (params_strtoll(v, &n)) {
        reply_caused(rep, 400, "Param '%s' is not a number: For input string: \"%.64s\"", key, v);
        return -1;
    }
    if (n < min || n > max) {
        reply_caused(rep, 400, "Param '%s' must be from %lld to %lld, got %lld", key, min, max, n);
        return -1;
    }
    *out = n;
    return 0;
}

int param_double_or_reply(const struct params *p, struct reply *rep, const char *key, double def, double *out)
{
    const char *v = params_get(p, key);
    if (!v) {
        *out = def;
        return 0;
    }
    if (params_strtod(v, out)) {
        reply_caused(rep, 400, "Param '%s' is not a number: For input string: \"%.64s\"", key, v);
        return -1;
    }
    return 0;
}

bool param_bool(const struct params *p, const char *key, bool def)
{
    const char *v = params_get(p, key);
    return v ? params_truthy(v) : def;
}
