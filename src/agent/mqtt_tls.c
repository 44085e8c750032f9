/* TLS on the fleet bus (docs/mqtt.md "TLS"), shared by the agent's MQTT front and the manager's
 * bus: checks the certificate files an mqtts:// broker is given, sets them on a libmosquitto
 * client (the broker is always verified: there is no insecure switch), and turns libmosquitto's
 * TLS log lines into the reason an error message gives. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <mosquitto.h>

#include "agent/agent.h"
#include "core/core.h"

/* Where Debian (and most distributions) keep the system's CA certificates, hashed for OpenSSL:
 * what an mqtts:// broker is verified against when no CA file is given. */
#define SYSTEM_CA_PATH "/etc/ssl/certs"

/* EML_OK when path names a readable, non-empty regular file; else EML_EINVAL naming it. */
static eml_status check_file(const char *what, const char *path, eml_diag *diag)
{
    if (!*path)
        return eml__diag(diag, EML_EINVAL, "TLS %s: empty file name", what);
    FILE *f = fopen(path, "rb");
    if (!f)
        return eml__diag(diag, EML_EINVAL, "TLS %s '%.300s': %s", what, path, strerror(errno));
    char byte;
    size_t n = fread(&byte, 1, 1, f);
    int err = ferror(f);
    fclose(f);
    if (err)
        return eml__diag(diag, EML_EINVAL, "TLS %s '%.300s': cannot read it", what, path);
    if (n == 0)
        return eml__diag(diag, EML_EINVAL, "TLS %s '%.300s': the file is empty", what, path);
    return EML_OK;
}

eml_status eml__mqtt_tls_check(const char *url, int tls, const eml__mqtt_tls *t, eml_diag *diag)
{
    int any = t && (t->ca_file || t->cert_file || t->key_file);
    if (!tls) {
        if (any)
            return eml__diag(diag, EML_EINVAL,
                             "broker '%.200s': TLS options need an mqtts:// broker URL", url);
        return EML_OK;
    }
    if (!t)
        return EML_OK;
    if (!t->cert_file != !t->key_file)
        return eml__diag(diag, EML_EINVAL,
                         "TLS: a client certificate and its key go together (give both or "
                         "neither)");
    eml_status st = EML_OK;
    if (t->ca_file && (st = check_file("CA file", t->ca_file, diag)) != EML_OK)
        return st;
    if (t->cert_file && (st = check_file("certificate", t->cert_file, diag)) != EML_OK)
        return st;
    if (t->key_file && (st = check_file("key", t->key_file, diag)) != EML_OK)
        return st;
    return EML_OK;
}

eml_status eml__mqtt_tls_apply(struct mosquitto *mosq, const char *url, const eml__mqtt_tls *t,
                               eml_diag *diag)
{
    const char *ca = t ? t->ca_file : NULL;
    const char *cert = t ? t->cert_file : NULL, *key = t ? t->key_file : NULL;
    /* Without a CA file: the system's CAs, by folder and as OpenSSL's defaults (other
     * distributions keep them elsewhere). */
    if (!ca)
        mosquitto_int_option(mosq, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
    int rc = mosquitto_tls_set(mosq, ca, ca ? NULL : SYSTEM_CA_PATH, cert, key, NULL);
    if (rc != MOSQ_ERR_SUCCESS)
        return eml__diag(diag, rc == MOSQ_ERR_NOMEM ? EML_ENOMEM : EML_EINVAL,
                         "broker %.200s: TLS files refused (CA %s, certificate %s, key %s): %s",
                         url, ca ? ca : SYSTEM_CA_PATH, cert ? cert : "none", key ? key : "none",
                         mosquitto_strerror(rc));
    /* SSL_VERIFY_PEER (1): the broker's certificate must chain to the CA and name the host it was
     * reached by (libmosquitto checks the name unless told insecure, which it never is here);
     * "tlsv1.2" means 1.2 or newer. */
    rc = mosquitto_tls_opts_set(mosq, 1, "tlsv1.2", NULL);
    if (rc == MOSQ_ERR_SUCCESS)
        rc = mosquitto_tls_insecure_set(mosq, false);
    if (rc != MOSQ_ERR_SUCCESS)
        return eml__diag(diag, rc == MOSQ_ERR_NOMEM ? EML_ENOMEM : EML_EINVAL,
                         "broker %.200s: TLS options: %s", url, mosquitto_strerror(rc));
    return EML_OK;
}

int eml__mqtt_tls_log_reason(const char *line, char *reason, size_t cap)
{
    if (!line || cap == 0)
        return 0;
    const char *why = NULL;
    if (strncmp(line, "OpenSSL Error", 13) == 0) {
        /* "OpenSSL Error[0]: error:0A000086:SSL routines::certificate verify failed": the text
         * after the last colon is OpenSSL's reason. */
        why = strrchr(line, ':');
        why = why ? why + 1 : line;
    } else if (strncmp(line, "Error: ", 7) == 0) {
        why = line + 7; /* "Error: Unable to load client certificate ..." */
    } else {
        return 0;
    }
    while (*why == ' ')
        why++;
    snprintf(reason, cap, "%s", why);
    return 1;
}

void eml__mqtt_tls_explain(const eml__mqtt_tls *t, const char *host, const char *reason,
                           const char *closed_why, char *out, size_t cap)
{
    const char *ca = t && t->ca_file ? t->ca_file : NULL;
    const char *cert = t ? t->cert_file : NULL;
    if (reason && strstr(reason, "certificate verify failed")) {
        snprintf(out, cap,
                 "%s (the broker's certificate does not chain to %s%s, or does not name %s)",
                 reason, ca ? "the CA file " : "the system's CA certificates", ca ? ca : "", host);
    } else if (reason && *reason) {
        snprintf(out, cap, "%s", reason);
    } else if (!cert) {
        /* A broker that wants a client certificate drops the connection at the end of the
         * handshake; its alert rarely reaches the client before the reset. */
        snprintf(out, cap,
                 "the broker closed the connection (%s): it may require a client certificate, "
                 "and none was given",
                 closed_why);
    } else {
        snprintf(out, cap,
                 "the broker closed the connection (%s): it may not accept the client "
                 "certificate %s",
                 closed_why, cert);
    }
}
