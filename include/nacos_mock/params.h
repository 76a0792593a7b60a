/*
 * params — request parameters the way a Servlet container merges them: query first, then an
 * application/x-www-form-urlencoded body; the first value of a key wins. Parsing is lenient like
 * Tomcat facing the Go SDK's raw bodies: raw `{}"[]|` pass through, `%XX` is decoded, `+` is a
 * space, a `%` not followed by two hex digits is kept literally. Values are trimmed; a blank value
 * is treated as absent by params_get().
 *
 * Pure: bytes in, struct out; no I/O, no globals (a fuzz harness is a few lines).
 * Ownership: a struct params owns every key and value; params_free() releases them.
 */
#ifndef NACOS_MOCK_PARAMS_H
#define NACOS_MOCK_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PARAMS_MAX 1024          /* more distinct keys than this: the rest are refused */

struct param {
    char *key;
    char *val;          /* decoded and trimmed */
    char *untrimmed;    /* decoded, as sent, when trimming changed it (else NULL: val is as sent) */
};
struct params {
    struct param *v;
    size_t n, cap;
    bool overflow;      /* more than PARAMS_MAX keys were sent */
    char *nul_key;      /* first key whose decoded key or value held a NUL byte, else NULL */
};

void params_init(struct params *p);
void params_free(struct params *p);

/* Adds one raw (still encoded) pair unless the key is already present. Returns 0, or -1 when out of
 * memory or past PARAMS_MAX (then p->overflow is set). */
int params_add_encoded(struct params *p, const char *key, size_t klen, const char *val, size_t vlen);
/* Adds an already-decoded pair (trimmed) unless present. */
int params_add(struct params *p, const char *key, const char *val);
/* Parses `a=1&b=2` (form body or query string) with params_add_encoded. */
void params_parse_form(struct params *p, const char *s, size_t len);

/* The trimmed value, or NULL when absent or blank. */
const char *params_get(const struct params *p, const char *key);
/* The value even when blank (""), or NULL when absent. */
const char *params_get_raw(const struct params *p, const char *key);
/* The value as sent — decoded but not trimmed (config contents are byte-exact) — or NULL when absent. */
const char *params_get_untrimmed(const struct params *p, const char *key);

/* Decodes `len` bytes of src into dst (capacity >= len + 1) leniently; returns the decoded length.
 * dst is NUL-terminated; a decoded %00 stays in the output (compare strlen with the result). */
size_t params_url_decode(char *dst, const char *src, size_t len);

/* Booleans the way Nacos reads them. Lenient form (`true/on/yes/y/t`, any case; Python's True) for
 * ephemeral/enabled/healthy; parseBoolean form ("true" any case) for healthyOnly/isCheck. */
bool params_truthy(const char *v);
bool params_parse_boolean(const char *v);

/* Strict integer / floating-point parsing: whole string, no trailing junk. 0 ok, -1 bad. */
int params_strtoll(const char *s, long long *out);
int params_strtod(const char *s, double *out);

#endif
