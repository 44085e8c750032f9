/* What the MQTT tests share: loopback ports, and a mosquitto broker started on one of them in a
 * folder of the test's (a config file: listener on 127.0.0.1, anonymous or not). */
#ifndef EML_TEST_MQTT_UTIL_H
#define EML_TEST_MQTT_UTIL_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define MOSQUITTO "/usr/sbin/mosquitto"

static inline void mqtt_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A loopback port nothing listens on now. */
static inline int mqtt_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    REQUIRE(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    REQUIRE(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
    close(fd);
    return ntohs(sa.sin_port);
}

/* 1 when something accepts connections on the loopback port. */
static inline int mqtt_port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)port);
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* Starts mosquitto on `port` with its config and log in dir, and waits (10 s at most) until it
 * accepts connections. anonymous 0 makes it refuse every client (CONNACK "not authorized").
 * Returns the broker's pid; it dies with the test process. */
static inline pid_t mqtt_start_broker(const char *dir, int port, int anonymous)
{
    char conf[700], log[700];
    snprintf(conf, sizeof(conf), "%s/mosquitto.conf", dir);
    snprintf(log, sizeof(log), "%s/mosquitto.log", dir);
    FILE *f = fopen(conf, "w");
    REQUIRE(f != NULL);
    fprintf(f, "listener %d 127.0.0.1\nallow_anonymous %s\n", port, anonymous ? "true" : "false");
    fclose(f);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        FILE *out = freopen(log, "w", stdout);
        if (out)
            dup2(fileno(out), 2);
        execl(MOSQUITTO, MOSQUITTO, "-c", conf, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 1000 && !mqtt_port_open(port); i++)
        mqtt_sleep_ms(10);
    REQUIRE(mqtt_port_open(port));
    return pid;
}

#endif
