/*
 * fuzz_metadata.c — naming_parse_metadata on arbitrary text (JSON object or `k1=v1,k2=v2`).
 *
 * Invariants: NULL comes with a message; an answer is an object whose members all have a name and
 * a string value, with no name twice (Nacos reads metadata into a Map: one value per key); printing
 * it and parsing the text back gives the same object, and so does parsing the printed text as
 * metadata again (what is stored reads back unchanged).
 */
#include "fuzz.h"

#include <string.h>

#include <cjson/cJSON.h>

#include "nacos_mock/naming.h"

static void check_metadata(const cJSON *md)
{
    FUZZ_CHECK(cJSON_IsObject(md), "not an object");
    for (const cJSON *it = md->child; it; it = it->next) {
        FUZZ_CHECK(it->string != NULL, "member without a name");
        FUZZ_CHECK(cJSON_IsString(it) && it->valuestring, "value of '%s' is not a string", it->string);
        for (const cJSON *o = it->next; o; o = o->next)
            FUZZ_CHECK(strcmp(o->string, it->string) != 0, "key '%s' twice", it->string);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);

    char err[256] = "";
    cJSON *md = naming_parse_metadata(text, err, sizeof err);
    if (!md) {
        FUZZ_CHECK(err[0] != '\0', "NULL without a message");
        free(text);
        return 0;
    }
    check_metadata(md);

    char *printed = cJSON_PrintUnformatted(md);
    FUZZ_CHECK(printed, "cannot print");
    cJSON *back = cJSON_Parse(printed);
    FUZZ_CHECK(back && cJSON_Compare(md, back, true), "print/parse round trip differs: %s", printed);
    if (strlen(printed) <= METADATA_MAX_BYTES) {
        char err2[256] = "";
        cJSON *again = naming_parse_metadata(printed, err2, sizeof err2);
        FUZZ_CHECK(again, "printed metadata refused: %s", err2);
        FUZZ_CHECK(cJSON_Compare(md, again, true), "re-parsing printed metadata differs: %s", printed);
        cJSON_Delete(again);
    }
    cJSON_Delete(back);
    cJSON_free(printed);
    cJSON_Delete(md);
    free(text);
    return 0;
}
