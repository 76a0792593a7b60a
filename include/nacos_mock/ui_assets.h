/*
 * ui_assets — the console's files (everything in server/ui/), compiled in: the table that
 * cmake/embed_assets.cmake generates at build time (ui_assets.c in the build tree, a library of its
 * own, nm_ui_assets) and console.c serves. Read-only data; no dependencies.
 */
#ifndef NACOS_MOCK_UI_ASSETS_H
#define NACOS_MOCK_UI_ASSETS_H

#include <stddef.h>

struct ui_asset {
    const char *name;            /* "index.html" */
    const unsigned char *data;
    size_t len;
};
extern const struct ui_asset UI_ASSETS[];
extern const size_t UI_ASSETS_N;

#endif
