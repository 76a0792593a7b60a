/*
 * validate — parameter validators. Each parses strictly and, on a problem, fills a naming_err (the
 * kind, the v1 status 400, and a message naming the parameter) and returns -1, so every HTTP
 * adapter words the same problem its own way (v1 `caused: ...;`, v2 envelope). The `_or_reply`
 * forms (Redis's ...OrReply) answer the v1 form directly.
 * Absent or blank parameters take `def` unless the validator says required.
 */
#ifndef NACOS_MOCK_VALIDATE_H
#define NACOS_MOCK_VALIDATE_H

#include <stdbool.h>
#include "nacos_mock/naming.h"
#include "nacos_mock/params.h"
#include "nacos_mock/reply.h"

/* *out = the trimmed value; NAMING_PARAM_MISSING `Param 'k' is required.` when absent or blank
 * (`type`, a string literal, is the Java type the v2 API names: "String", "Integer", ...). */
int param_required(const struct params *p, const char *key, const char *type, const char **out, struct naming_err *e);
/* A TCP port 1..65535 from a string value (named `key` in the message). */
int value_port(const char *key, const char *v, int *out, struct naming_err *e);
/* A TCP port 1..65535; required. */
int param_port(const struct params *p, const char *key, int *out, struct naming_err *e);
/* An integer in [min, max]; def when absent. */
int param_int(const struct params *p, const char *key, long long def, long long min, long long max, long long *out,
              struct naming_err *e);
/* A finite number; def when absent. */
int param_double(const struct params *p, const char *key, double def, double *out, struct naming_err *e);

/* The same, answering the v1 form (400 `caused: <msg>;`) into rep. */
int param_required_or_reply(const struct params *p, struct reply *rep, const char *key, const char **out);
int value_port_or_reply(const char *key, const char *v, struct reply *rep, int *out);
int param_port_or_reply(const struct params *p, struct reply *rep, const char *key, int *out);
int param_int_or_reply(const struct params *p, struct reply *rep, const char *key, long long def, long long min,
                       long long max, long long *out);
int param_double_or_reply(const struct params *p, struct reply *rep, const char *key, double def, double *out);
/* Lenient boolean (true/on/yes/y/t); def when absent. */
bool param_bool(const struct params *p, const char *key, bool def);

#endif
