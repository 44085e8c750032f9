/* The node's power mode: "normal", "low", or "auto" (read from the power supplies the kernel
 * exposes in sysfs; where it exposes none, that is said, and the mode stays normal). */
#ifndef EML_SERVE_POWER_MODE_H
#define EML_SERVE_POWER_MODE_H

#include <stddef.h>

/* Append-only values. */
typedef enum eml__power_setting {
    EML__POWER_NORMAL = 0,
    EML__POWER_LOW = 1,
    EML__POWER_AUTO = 2
} eml__power_setting;

/* "normal", "low", "auto". */
const char *eml__power_setting_name(eml__power_setting s);
/* Parses a setting's name; returns 0 when it is none of them. */
int eml__power_setting_parse(const char *name, eml__power_setting *out);

/* What the power supplies say. */
typedef struct eml__power_reading {
    int available;       /* 1 when a battery or a mains supply was found */
    int on_battery;      /* a battery is discharging and no mains/USB supply is online */
    int battery_percent; /* of the first battery with a capacity file; -1: unavailable */
    char detail[160];    /* e.g. "BAT0: Discharging; AC: offline", or why unavailable */
} eml__power_reading;

/* Reads dir (normally "/sys/class/power_supply"): each entry's type (Battery, Mains, USB),
 * status, online and capacity files. Never fails: an absent or empty folder gives
 * available = 0. */
void eml__power_read(const char *dir, eml__power_reading *out);

/* The effective mode of a setting: 1 for low. auto: low exactly when on battery. */
int eml__power_is_low(eml__power_setting s, const eml__power_reading *r);

#endif
