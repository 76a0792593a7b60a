/*
 * auth.c — token issue and check for the optional auth emulation (see auth.h).
 */
#include "nacos_mock/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nacos_mock/md5.h"

int auth_init(struct auth *a, const char *spec, uint64_t entropy)
{
    memset(a, 0, sizeof *a);
    for (int i = 0; i < 16; i++) {   /* per-process signing secret */
        entropy ^= entropy << 13;
        entropy ^= entropy >> 7;
        entropy ^= entropy << 17;
        a->secret[i] = (unsigned char)(entropy >> 24);
    }
    if (!spec || !*spec) return 0;
    const char *colon = strchr(spec, ':');
    if (!colon || colon == spec || !colon[1] || (size_t)(colon - spec) >= sizeof a->user ||
        strlen(colon + 1) >= sizeof a->pass)
        return -1;
    snprintf(a->user, sizeof a->user, "%.*s", (int)(colon - spec), spec);
    snprintf(a->pass, sizeof a->pass, "%s", colon + 1);
    a->enabled = true;
    return 0;
}

bool auth_credentials_ok(const struct auth *a, const char *user, const char *pass)
{
    if (!a->enabled) return true;
    return user && pass && !strcmp(user, a->user) && !strcmp(pass, a->pass);
}

static void b64url(const unsigned char *in, size_t n, char *out, size_t outlen)
{
    static const char T[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < outlen; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
        out[o++] = T[(v >> 18) & 63];
        out[o++] = T[(v >> 12) & 63];
        if (i + 1 < n) out[o++] = T[(v >> 6) & 63];
        if (i + 2 < n) out[o++] = T[v & 63];
    }
    out[o] = '\0';
}

static void sign(const struct auth *a, const char *payload, char out[33])
{
    struct md5_ctx m;
    md5_init(&m);
    md5_update(&m, sizeof a->secret, a->secret);
    md5_update(&m, strlen(payload), (const uint8_t *)payload);
    md5_hex_final(&m, out);
}

/* Token: eyJhbGciOiJIUzI1NiJ9.<b64url("<exp>:<user>")>.<md5(secret, that b64)> */
void auth_token(const struct auth *a, const char *user, int64_t now_s, char *out, size_t outlen)
{
    char payload[300], b64[420], sig[33];
    snprintf(payload, sizeof payload, "%lld:%.200s", (long long)(now_s + AUTH_TOKEN_TTL_S), user ? user : "");
    b64url((const unsigned char *)payload, strlen(payload), b64, sizeof b64);
    sign(a, b64, sig);
    snprintf(out, outlen, "eyJhbGciOiJIUzI1NiJ9.%s.%s", b64, sig);
}

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

const char *auth_check(const struct auth *a, const struct params *p, const char *authorization, int64_t now_s)
{
    if (!a->enabled) return NULL;
    const char *token = params_get(p, "accessToken");
    if (!token && authorization && !strncmp(authorization, "Bearer ", 7)) token = authorization + 7;
    if (!token) {
        const char *u = params_get(p, "username"), *pw = params_get(p, "password");
        if (u && pw) return auth_credentials_ok(a, u, pw) ? NULL : "unknown user!";
        return "user not found!";
    }
    const char *prefix = "eyJhbGciOiJIUzI1NiJ9.";
    if (strncmp(token, prefix, strlen(prefix))) return "token invalid!";
    const char *body = token + strlen(prefix), *dot = strchr(body, '.');
    if (!dot || (size_t)(dot - body) >= 420) return "token invalid!";
    char b64[420], sig[33];
    snprintf(b64, sizeof b64, "%.*s", (int)(dot - body), body);
    sign(a, b64, sig);
    if (strcmp(sig, dot + 1)) return "token invalid!";
    unsigned char raw[320];
    size_t n = 0;
    unsigned acc = 0;
    int bits = 0;
    for (const char *c = b64; *c && n < sizeof raw - 1; c++) {
        int v = b64val(*c);
        if (v < 0) return "token invalid!";
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            raw[n++] = (unsigned char)(acc >> bits);
        }
    }
    raw[n] = '\0';
    long long exp = strtoll((const char *)raw, NULL, 10);
    return exp < now_s ? "token expired!" : NULL;
}
