/*
 * auth — optional emulation of Nacos's auth (--auth USER:PASS), so clients' login and token code
 * paths can be tested. Off by default: then login accepts anything and nothing is checked.
 * When on, every /nacos/v1/ns/ call needs a token from POST /nacos/v1/auth/login (parameter
 * `accessToken` or header `Authorization: Bearer`), or the raw `username`/`password` parameters
 * (the Node client's way); else 403 with Nacos's texts (`user not found!`, `token invalid!`,
 * `token expired!`). Tokens are JWT-shaped, signed with a per-process secret, and carry their
 * expiry, so the module keeps no session state.
 * Threading: read-only after auth_init; any thread.
 */
#ifndef NACOS_MOCK_AUTH_H
#define NACOS_MOCK_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nacos_mock/params.h"

#define AUTH_TOKEN_TTL_S 18000

struct auth {
    bool enabled;
    char user[128], pass[128];
    unsigned char secret[16];
};

/* spec "USER:PASS" or NULL (disabled). -1 when malformed. */
int auth_init(struct auth *a, const char *spec, uint64_t entropy);
/* Credentials check for login. */
bool auth_credentials_ok(const struct auth *a, const char *user, const char *pass);
/* A token for `user` valid until now_s + AUTH_TOKEN_TTL_S into out. */
void auth_token(const struct auth *a, const char *user, int64_t now_s, char *out, size_t outlen);
/* NULL when the request may pass, else the 403 text. */
const char *auth_check(const struct auth *a, const struct params *p, const char *authorization, int64_t now_s);

#endif
