/*
 * validate — parameter validators that also answer (Redis's ...OrReply): each parses strictly and,
 * on a problem, fills `rep` with the Nacos-style 400 naming the parameter and returns -1.
 * Absent or blank parameters take `def` unless the validator says required.
 */
#ifndef NACOS_MOCK_VALIDATE_H
#define NACOS_MOCK_VALIDATE_H

#include <stdbool.h>
#include "nacos_mock/params.h"
#include "nacos_mock/reply.h"

/* *out = the trimmed value; 400 `Param 'k' is required.` when absent or blank. */
int param_required_or_reply(const struct params *p, struct reply *rep, const char *key, const char **out);
/* A TCP port 1..65535 from a string value (named `key` in the message). */
int value_port_or_reply(const char *key, const char *v, struct reply *rep, int *out);
/* A TCP port 1..65535; required. */
int param_port_or_reply(const struct params *p, struct reply *rep, const char *key, int *out);
/* An integer in [min, max]; def when absent. */
int param_int_or_reply(const struct params *p, struct reply *rep, const char *key, long long def, long long min,
                       long long max, long long *out);
/* A finite number; def when absent. */
int param_double_or_reply(const struct params *p, struct reply *rep, const char *key, double def, double *out);
/* Lenient boolean (true/on/yes/y/t); def when absent. */
bool param_bool(const struct params *p, const char *key, bool def);

#endif
