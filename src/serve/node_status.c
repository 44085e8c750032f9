/* Node status from Linux's /proc and /sys: each reader leaves its field unknown when the file is
 * missing (containers, other systems), so a status never fails. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "serve/node_status.h"

/* First line of a small file into buf; 0 when unreadable. */
static int read_line(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int ok = fgets(buf, (int)cap, f) != NULL;
    fclose(f);
    if (ok)
        buf[strcspn(buf, "\n")] = 0;
    return ok;
}

static void read_meminfo(eml__node_status *s)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return;
    char line[256];
    while (fgets(line, sizeof(line), f)) {
        unsigned long long kb;
        if (sscanf(line, "MemTotal: %llu kB", &kb) == 1)
            s->mem_total_bytes = kb * 1024;
        else if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
            s->mem_available_bytes = kb * 1024;
    }
    fclose(f);
}

static void read_cpu_model(eml__node_status *s)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof(line), f)) {
        /* "model name" on x86, "Model" or "Hardware" on ARM boards */
        if (strncmp(line, "model name", 10) == 0 || strncmp(line, "Model", 5) == 0 ||
            strncmp(line, "Hardware", 8) == 0) {
            char *colon = strchr(line, ':');
            if (!colon)
                continue;
            colon++;
            while (*colon == ' ' || *colon == '\t')
                colon++;
            colon[strcspn(colon, "\n")] = 0;
            snprintf(s->cpu_model, sizeof(s->cpu_model), "%s", colon);
            break;
        }
    }
    fclose(f);
}

/* The hottest of /sys/class/thermal/thermal_zone*\/temp (millidegrees). */
static void read_temperature(eml__node_status *s)
{
    DIR *d = opendir("/sys/class/thermal");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "thermal_zone", 12) != 0)
            continue;
        char path[512], buf[64];
        snprintf(path, sizeof(path), "/sys/class/thermal/%.200s/temp", e->d_name);
        if (!read_line(path, buf, sizeof(buf)))
            continue;
        double c = strtod(buf, NULL) / 1000.0;
        if (!s->has_temperature || c > s->temperature_c) {
            s->temperature_c = c;
            s->has_temperature = 1;
        }
    }
    closedir(d);
}

/* Sum of power_now (microwatts) of /sys/class/power_supply/<any>. */
static void read_power(eml__node_status *s)
{
    DIR *d = opendir("/sys/class/power_supply");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[512], buf[64];
        snprintf(path, sizeof(path), "/sys/class/power_supply/%.200s/power_now", e->d_name);
        if (!read_line(path, buf, sizeof(buf)))
            continue;
        s->power_w += strtod(buf, NULL) / 1e6;
        s->has_power = 1;
    }
    closedir(d);
}

uint64_t eml__rss_bytes(void)
{
    char buf[128];
    unsigned long long size, resident;
    if (!read_line("/proc/self/statm", buf, sizeof(buf)) ||
        sscanf(buf, "%llu %llu", &size, &resident) != 2)
        return 0;
    return resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

void eml__node_status_read(eml__node_status *s)
{
    memset(s, 0, sizeof(*s));
    s->load[0] = s->load[1] = s->load[2] = -1;
    s->uptime_s = -1;
    if (gethostname(s->hostname, sizeof(s->hostname) - 1) != 0)
        s->hostname[0] = 0;
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(s->device_type, sizeof(s->device_type), "%.50s-cpu", u.machine);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    s->cpu_count = cpus > 0 ? (uint32_t)cpus : 0;
    read_cpu_model(s);
    read_meminfo(s);
    char buf[256];
    if (read_line("/proc/loadavg", buf, sizeof(buf)))
        sscanf(buf, "%lf %lf %lf", &s->load[0], &s->load[1], &s->load[2]);
    if (read_line("/proc/uptime", buf, sizeof(buf)))
        sscanf(buf, "%lf", &s->uptime_s);
    read_temperature(s);
    read_power(s);
    s->rss_bytes = eml__rss_bytes();
}
