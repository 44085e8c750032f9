/* What a node reports about itself: device, CPU, memory, load, temperature and power. */
#ifndef EML_SERVE_NODE_STATUS_H
#define EML_SERVE_NODE_STATUS_H

#include <stdint.h>

typedef struct eml__node_status {
    char hostname[128];
    char device_type[64];   /* "x86_64-cpu", "aarch64-cpu", ... */
    char cpu_model[128];    /* "" when unknown */
    uint32_t cpu_count;
    uint64_t mem_total_bytes, mem_available_bytes; /* 0 when unknown */
    uint64_t rss_bytes;     /* this process */
    double load[3];         /* 1, 5, 15 minutes; negative when unknown */
    int has_temperature;
    double temperature_c;   /* the hottest thermal zone */
    int has_power;
    double power_w;         /* battery/adapter draw from power_supply, when exposed */
    double uptime_s;        /* of the machine; negative when unknown */
} eml__node_status;

/* Reads /proc and /sys (Linux); fields the machine does not expose stay "unknown". Never fails. */
void eml__node_status_read(eml__node_status *out);

/* Resident set size of this process, from /proc/self/statm; 0 when unknown. */
uint64_t eml__rss_bytes(void);

#endif
