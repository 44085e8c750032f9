/* Adaptive inference: a model's variants (most accurate first, cheapest last) and the policy
 * that picks one per request from queue depth, a p95 latency objective and the power mode. */
#ifndef EML_SERVE_ADAPT_H
#define EML_SERVE_ADAPT_H

#include <stddef.h>
#include <stdint.h>

#include "edgeml/serve.h"
#include "edgeml/status.h"

#define EML__ADAPT_MAX_VARIANTS 8
#define EML__ADAPT_MAX_SETS 64
#define EML__ADAPT_MAX_WINDOW 1024
#define EML__ADAPT_NAME 32

typedef struct eml__variant {
    char name[EML__ADAPT_NAME];
    char model[EML_REPO_MAX_NAME + 1];
    uint32_t version; /* 0: that model's serving version */
} eml__variant;

typedef struct eml__adapt_policy {
    double slo_p95_ms;   /* latency objective; 0: no latency rule */
    uint32_t window;     /* W: the p95 is over the last W requests of the current variant */
    uint32_t queue_high; /* queue depth at which a request goes one variant cheaper; 0: off */
    int32_t low_power;   /* variant index used in low power mode; -1: the cheapest */
    double up_ratio;     /* step back up when p95 < up_ratio * SLO (hysteresis), in (0, 1] */
} eml__adapt_policy;

/* Why a variant was chosen. Append-only values. */
typedef enum eml__adapt_reason {
    EML__ADAPT_PREFERRED = 0, /* the current level, which the objective allows */
    EML__ADAPT_SLO = 1,       /* the current level, stepped down because p95 was over the SLO */
    EML__ADAPT_QUEUE = 2,     /* one cheaper than the level: its queue is at queue_high */
    EML__ADAPT_POWER = 3,     /* the low-power variant: the node is in low power mode */
    EML__ADAPT_REASON_COUNT = 4
} eml__adapt_reason;

/* "preferred", "slo", "queue", "power". */
const char *eml__adapt_reason_name(eml__adapt_reason r);

typedef struct eml__adapt_config {
    char model[EML_REPO_MAX_NAME + 1]; /* the model requests name */
    uint32_t n_variants;               /* 1..EML__ADAPT_MAX_VARIANTS */
    eml__variant variants[EML__ADAPT_MAX_VARIANTS];
    eml__adapt_policy policy;
} eml__adapt_config;

/* Fills the policy's defaults: no SLO, window 20, queue rule off, low power = cheapest,
 * up_ratio 0.5. */
void eml__adapt_policy_init(eml__adapt_policy *p);

typedef struct eml__adapt_status {
    uint32_t level;        /* the variant the latency rule currently allows */
    uint32_t window_count; /* latencies in the window (since the last step) */
    double window_p95_ms;  /* NAN when the window is empty */
    uint64_t step_downs, step_ups;
    uint64_t choices[EML__ADAPT_MAX_VARIANTS][EML__ADAPT_REASON_COUNT];
} eml__adapt_status;

typedef struct eml__adapt eml__adapt;

eml_status eml__adapt_create(eml__adapt **out); /* EML_OK or EML_ENOMEM */
void eml__adapt_destroy(eml__adapt *ad);        /* NULL is a no-op */

/* Sets (or replaces, starting afresh) a model's variants. cfg: copied. Returns EML_OK,
 * EML_EINVAL (no variants, duplicate names, bad policy), EML_ELIMIT (too many sets). */
eml_status eml__adapt_set(eml__adapt *ad, const eml__adapt_config *cfg, eml_diag *diag);
/* Returns EML_OK or EML_ENOTFOUND. */
eml_status eml__adapt_clear(eml__adapt *ad, const char *model);
/* Copies of a set's config and state (either may be NULL). Returns EML_OK or EML_ENOTFOUND. */
eml_status eml__adapt_get(eml__adapt *ad, const char *model, eml__adapt_config *cfg,
                          eml__adapt_status *status);
/* The sets' configs in *cfgs (up to cap); returns how many there are. */
size_t eml__adapt_list(eml__adapt *ad, eml__adapt_config *cfgs, size_t cap);
/* Moves a variant to the front (most preferred) and restarts the policy at level 0. Returns
 * EML_OK or EML_ENOTFOUND (no such set or variant). */
eml_status eml__adapt_prefer(eml__adapt *ad, const char *model, const char *variant);

/* The variant the policy would choose before the queue rule (to probe that variant's queue).
 * Returns 1 when the model has variants, 0 otherwise. */
int eml__adapt_peek(eml__adapt *ad, const char *model, int low_power, eml__variant *out);

typedef struct eml__adapt_choice {
    uint64_t set_id; /* a late record never counts in a set replaced since */
    uint32_t index;
    eml__variant variant;
    eml__adapt_reason reason;
} eml__adapt_choice;

/* Chooses the variant of one request and counts the choice. queued: the waiting requests of the
 * variant eml__adapt_peek returned. Returns 1 when the model has variants, 0 otherwise.
 * Thread-safe. */
int eml__adapt_choose(eml__adapt *ad, const char *model, uint32_t queued, int low_power,
                      eml__adapt_choice *out);

/* Feeds a request's latency back: it enters the window when it ran the current level's variant;
 * a full window over the SLO steps one variant down (cheaper), one under up_ratio * SLO steps
 * one up; either step empties the window. Thread-safe. */
void eml__adapt_record(eml__adapt *ad, const char *model, const eml__adapt_choice *choice,
                       double latency_s);

#endif
