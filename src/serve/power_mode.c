/* The node's power mode from Linux's power-supply class: a discharging battery with no mains
 * supply online means low power; no supply exposed means "unavailable", never a guess. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/power_mode.h"

static const char *const setting_names[] = {"normal", "low", "auto"};

const char *eml__power_setting_name(eml__power_setting s)
{
    return (unsigned)s < 3 ? setting_names[s] : "normal";
}

int eml__power_setting_parse(const char *name, eml__power_setting *out)
{
    for (int i = 0; name && i < 3; i++)
        if (strcmp(name, setting_names[i]) == 0) {
            *out = (eml__power_setting)i;
            return 1;
        }
    return 0;
}

/* Reads a one-line sysfs attribute into buf without its newline; 0 when unreadable. */
static int read_attr(const char *dir, const char *entry, const char *attr, char *buf, size_t cap)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s/%s", dir, entry, attr);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int ok = fgets(buf, (int)cap, f) != NULL;
    fclose(f);
    if (ok)
        buf[strcspn(buf, "\r\n")] = 0;
    return ok;
}

static void append(eml__power_reading *r, const char *fmt_name, const char *state)
{
    size_t n = strlen(r->detail);
    if (n + 4 >= sizeof(r->detail))
        return;
    snprintf(r->detail + n, sizeof(r->detail) - n, "%s%.40s: %.40s", n ? "; " : "", fmt_name,
             state);
}

void eml__power_read(const char *dir, eml__power_reading *out)
{
    memset(out, 0, sizeof(*out));
    out->battery_percent = -1;
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(out->detail, sizeof(out->detail), "unavailable: %s is absent", dir);
        return;
    }
    int discharging = 0, external_online = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char type[64], status[64], online[16], cap[16];
        if (!read_attr(dir, e->d_name, "type", type, sizeof(type)))
            continue;
        if (strcmp(type, "Battery") == 0) {
            out->available = 1;
            if (!read_attr(dir, e->d_name, "status", status, sizeof(status)))
                snprintf(status, sizeof(status), "status unavailable");
            if (strcmp(status, "Discharging") == 0)
                discharging = 1;
            if (out->battery_percent < 0 && read_attr(dir, e->d_name, "capacity", cap, sizeof(cap)))
                out->battery_percent = atoi(cap);
            append(out, e->d_name, status);
        } else if (strcmp(type, "Mains") == 0 || strncmp(type, "USB", 3) == 0) {
            out->available = 1;
            int on =
                read_attr(dir, e->d_name, "online", online, sizeof(online)) && atoi(online) == 1;
            external_online |= on;
            append(out, e->d_name, on ? "online" : "offline");
        }
    }
    closedir(d);
    out->on_battery = discharging && !external_online;
    if (!out->available)
        snprintf(out->detail, sizeof(out->detail), "unavailable: no battery or mains supply in %s",
                 dir);
}

int eml__power_is_low(eml__power_setting s, const eml__power_reading *r)
{
    if (s == EML__POWER_LOW)
        return 1;
    if (s == EML__POWER_AUTO)
        return r && r->available && r->on_battery;
    return 0;
}
