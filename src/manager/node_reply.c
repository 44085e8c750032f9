/* Reading a node's JSON reply back into a status and a diag: the agent's status names (its one
 * table in src/agent/handler.c) mapped back, for every transport. */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/core.h"
#include "manager/transport.h"

static const struct {
    const char *name;
    eml_status status;
} names[] = {
    {"invalid_argument", EML_EINVAL},
    {"out_of_memory", EML_ENOMEM},
    {"io_error", EML_EIO},
    {"corrupt", EML_ECORRUPT},
    {"unsupported", EML_EUNSUPPORTED},
    {"shape_mismatch", EML_ESHAPE},
    {"type_mismatch", EML_ETYPE},
    {"invalid_graph", EML_EGRAPH},
    {"limit_exceeded", EML_ELIMIT},
    {"out_of_range", EML_ERANGE},
    {"not_found", EML_ENOTFOUND},
    {"dynamic", EML_EDYNAMIC},
    {"internal", EML_EINTERNAL},
    {"busy", EML_ELIMIT},
    {"deadline_exceeded", EML_EIO},
    {"unavailable", EML_EIO},
    {"too_large", EML_ELIMIT},
    {"method_not_allowed", EML_EINVAL},
};

eml_status eml__node_reply_status(const char *reply, int http_status, const char *what,
                                  eml_diag *diag)
{
    cJSON *j = reply ? cJSON_Parse(reply) : NULL;
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(j, "error");
    if (http_status == 200 && j && !err) {
        cJSON_Delete(j);
        return EML_OK;
    }
    eml_status st = http_status == 404 ? EML_ENOTFOUND : EML_EIO;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "status");
    if (cJSON_IsString(name))
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
            if (strcmp(names[i].name, name->valuestring) == 0)
                st = names[i].status;
    if (!j)
        eml__diag(diag, EML_EIO, "%sreply is not JSON (HTTP %d)", what, http_status);
    else
        eml__diag(diag, st, "%s%s", what,
                  cJSON_IsString(err) ? err->valuestring : "the node refused the command");
    cJSON_Delete(j);
    return st;
}
