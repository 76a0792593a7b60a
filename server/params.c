/*
 * params.c — lenient Servlet-style parameter parsing (see params.h for the rules and why).
 */
#include "nacos_mock/params.h"
#include "nacos_mock/util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void params_init(struct params *p) { memset(p, 0, sizeof *p); }

void params_free(struct params *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].key);
        free(p->v[i].val);
        free(p->v[i].untrimmed);
    }
    free(p->v);
    free(p->nul_key);
    memset(p, 0, sizeof *p);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

size_t params_url_decode(char *dst, const char *src, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        int hi, lo;
        if (c == '+') {
            dst[o++] = ' ';
        } else if (c == '%' && i + 2 < len && (hi = hexval((unsigned char)src[i + 1])) >= 0 &&
                   (lo = hexval((unsigned char)src[i + 2])) >= 0) {
            dst[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            dst[o++] = c;   /* raw bytes and stray '%' pass through (Go SDK sends raw JSON) */
        }
    }
    dst[o] = '\0';
    return o;
}

static const struct param *find(const struct params *p, const char *key, size_t klen)
{
    for (size_t i = 0; i < p->n; i++)
        if (strlen(p->v[i].key) == klen && memcmp(p->v[i].key, key, klen) == 0) return &p->v[i];
    return NULL;
}

/* Trims ASCII white space in place; returns the start. */
static char *trim(char *s, size_t *len)
{
    size_t n = *len;
    char *b = s;
    while (n && isspace((unsigned char)*b)) { b++; n--; }
    while (n && isspace((unsigned char)b[n - 1])) n--;
    b[n] = '\0';
    *len = n;
    return b;
}

/* Adds the pair, taking ownership of k, v and u (the untrimmed value, may be NULL). */
static int push_pair(struct params *p, char *k, char *v, char *u)
{
    if (p->n >= PARAMS_MAX) {
        p->overflow = true;
        free(k);
        free(v);
        free(u);
        return -1;
    }
    if (util_grow((void **)&p->v, &p->cap, p->n, sizeof *p->v)) {
        free(k);
        free(v);
        free(u);
        return -1;
    }
    p->v[p->n] = (struct param){k, v, u};
    p->n++;
    return 0;
}

int params_add_encoded(struct params *p, const char *key, size_t klen, const char *val, size_t vlen)
{
    char *k = malloc(klen + 1), *v = malloc(vlen + 1);
    if (!k || !v) { free(k); free(v); return -1; }
    size_t kl = params_url_decode(k, key, klen);
    size_t vl = params_url_decode(v, val, vlen);
    char *u = NULL;
    if (vl && (isspace((unsigned char)v[0]) || isspace((unsigned char)v[vl - 1]))) {
        if (!(u = malloc(vl + 1))) { free(k); free(v); return -1; }
        memcpy(u, v, vl + 1);   /* as sent, before trimming */
    }
    char *kt = trim(k, &kl);
    char *vt = trim(v, &vl);
    /* a decoded %00: the dispatcher refuses the request — also when this pair is dropped below
     * (blank key, repeated key), so `a=1&a=%00` is refused like `a=%00&a=1` */
    if (!p->nul_key && (strlen(vt) != vl || strlen(kt) != kl)) {
        p->nul_key = strdup(kt);
        if (!p->nul_key) { free(k); free(v); free(u); return -1; }
    }
    if (kl == 0 || find(p, kt, kl)) { free(k); free(v); free(u); return 0; }
    if (kt != k) memmove(k, kt, kl + 1);
    if (vt != v) memmove(v, vt, vl + 1);
    return push_pair(p, k, v, u);
}

int params_add(struct params *p, const char *key, const char *val)
{
    size_t kl = strlen(key), vl = strlen(val);
    if (kl == 0 || find(p, key, kl)) return 0;
    char *k = strdup(key), *v = strdup(val);
    if (!k || !v) { free(k); free(v); return -1; }
    char *vt = trim(v, &vl);
    if (vt != v) memmove(v, vt, vl + 1);
    return push_pair(p, k, v, NULL);
}

void params_parse_form(struct params *p, const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && s[j] != '&') j++;
        if (j > i) {
            const char *eq = memchr(s + i, '=', j - i);
            if (eq)
                params_add_encoded(p, s + i, (size_t)(eq - (s + i)), eq + 1, (size_t)(s + j - eq - 1));
            else
                params_add_encoded(p, s + i, j - i, "", 0);
        }
        i = j + 1;
    }
}

const char *params_get_raw(const struct params *p, const char *key)
{
    const struct param *e = find(p, key, strlen(key));
    return e ? e->val : NULL;
}

const char *params_get_untrimmed(const struct params *p, const char *key)
{
    const struct param *e = find(p, key, strlen(key));
    return e ? (e->untrimmed ? e->untrimmed : e->val) : NULL;
}

const char *params_get(const struct params *p, const char *key)
{
    const char *v = params_get_raw(p, key);
    return (v && *v) ? v : NULL;
}

bool params_truthy(const char *v)
{
    if (!v) return false;
    return !strcasecmp(v, "true") || !strcasecmp(v, "on") || !strcasecmp(v, "yes") ||
           !strcasecmp(v, "y") || !strcasecmp(v, "t") || !strcmp(v, "1");
}

bool params_parse_boolean(const char *v) { return v && !strcasecmp(v, "true"); }

int params_strtoll(const char *s, long long *out)
{
    if (!s || !*s || isspace((unsigned char)*s)) return -1;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || !end || *end) return -1;
    *out = v;
    return 0;
}

int params_strtod(const char *s, double *out)
{
    if (!s || !*s || isspace((unsigned char)*s)) return -1;
    /* Java's Double.parseDouble accepts a trailing d/f/D/F; hex floats and "inf" are not numbers here */
    for (const char *c = s; *c; c++)
        if (!(isdigit((unsigned char)*c) || *c == '.' || *c == '-' || *c == '+' || *c == 'e' || *c == 'E'))
            return -1;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || !end || *end || !isfinite(v)) return -1;
    *out = v;
    return 0;
}
