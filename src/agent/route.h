/* Internals shared by the files of the agent's A/B tests, variants and power mode
 * (route_state.c, route_infer.c, handler_route.c). */
#ifndef EML_AGENT_ROUTE_H
#define EML_AGENT_ROUTE_H

#include <pthread.h>
#include <stdatomic.h>

#include "agent/agent.h"
#include "serve/power_mode.h"

struct eml__route_state {
    pthread_mutex_t mu; /* serializes the ops that change tests, sets, the mode and the file */
    eml__router *router;
    eml__adapt *adapt;
    _Atomic int setting;   /* eml__power_setting in force */
    int setting_persisted; /* 1: the mode was set by an op and is kept in the file */
    pthread_mutex_t power_mu;
    uint64_t power_read_ns;
    eml__power_reading power;
    char power_dir[512];      /* /sys/class/power_supply, or $EML_POWER_SUPPLY_DIR */
    size_t restored, dropped; /* tests and sets brought back from the file, and refused */
};

/* A number, or null when it is not finite (no figure yet). */
void eml__route_add_num(cJSON *o, const char *key, double v);

/* An A/B command {model, arms: [...], sticky_key?, shadow_fraction?, seed?} into a config whose
 * arms exist in the repository. Returns EML_OK, EML_EINVAL, EML_ENOTFOUND. */
eml_status eml__route_parse_ab(eml_agent *a, const cJSON *cmd, eml__ab_config *c, eml_diag *d);
/* The config as JSON (the form parse reads back). */
cJSON *eml__route_ab_json(const eml__ab_config *c);
/* A variants command {model, variants: [...], policy: {...}} into a config whose variants
 * exist in the repository. Returns EML_OK, EML_EINVAL, EML_ENOTFOUND. */
eml_status eml__route_parse_variants(eml_agent *a, const cJSON *cmd, eml__adapt_config *c,
                                     eml_diag *d);
cJSON *eml__route_variants_json(const eml__adapt_config *c);
/* Rewrites the routing file from the live state (call with rs->mu held). Returns EML_OK,
 * EML_EIO, EML_ENOMEM. */
eml_status eml__route_persist(eml_agent *a, eml_diag *d);

/* The power supplies, read at most every 2 s. */
void eml__route_power_reading(eml__route_state *rs, eml__power_reading *out);
/* 1 when the node is in low power mode now (set low, or auto and on battery). */
int eml__route_low_power(eml__route_state *rs);

#endif
