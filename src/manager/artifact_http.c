/* The read-only HTTP server that MQTT nodes fetch model artifacts from on a deploy: GET
 * /artifacts/<sha256>.onnx (or .npy) out of the site's artifacts/ folder, nothing else
 * (libmicrohttpd); a Range request gets that part (206), so a broken download resumes. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>

#include "core/core.h"
#include "manager/mqtt_internal.h"

struct eml__artifact_http {
    struct MHD_Daemon *daemon;
    char dir[2100]; /* <site>/artifacts */
};

/* Only content-addressed names: the path never leaves the folder. */
static int artifact_name_ok(const char *url)
{
    static const char prefix[] = "/artifacts/";
    if (strncmp(url, prefix, sizeof(prefix) - 1) != 0)
        return 0;
    const char *name = url + sizeof(prefix) - 1;
    for (int i = 0; i < 64; i++)
        if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
            return 0;
    return strcmp(name + 64, ".onnx") == 0 || strcmp(name + 64, ".npy") == 0;
}

/* Reads "bytes=A-", "bytes=A-B" or "bytes=-N" (one range) for a file of size bytes into
 * [*first, *last]. Returns 1 (a satisfiable range), 0 (no usable Range header: the whole file,
 * as RFC 9110 says for one that cannot be read, and for several ranges), -1 (unsatisfiable:
 * 416). */
static int parse_range(const char *h, uint64_t size, uint64_t *first, uint64_t *last)
{
    if (!h || strncmp(h, "bytes=", 6) != 0)
        return 0;
    const char *p = h + 6;
    while (*p == ' ')
        p++;
    if (strchr(p, ','))
        return 0;
    uint64_t a = 0, b = 0;
    int has_a = 0, has_b = 0;
    for (; *p >= '0' && *p <= '9'; p++, has_a = 1) {
        if (a > (UINT64_MAX - 9) / 10)
            return 0;
        a = a * 10 + (uint64_t)(*p - '0');
    }
    if (*p++ != '-')
        return 0;
    for (; *p >= '0' && *p <= '9'; p++, has_b = 1) {
        if (b > (UINT64_MAX - 9) / 10)
            return 0;
        b = b * 10 + (uint64_t)(*p - '0');
    }
    while (*p == ' ')
        p++;
    if (*p || (!has_a && !has_b))
        return 0;
    if (!has_a) { /* the last b bytes */
        if (b == 0 || size == 0)
            return -1;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return 1;
    }
    if (has_b && b < a)
        return 0;
    if (a >= size)
        return -1;
    *first = a;
    *last = has_b && b < size ? b : size - 1;
    return 1;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned code, const char *text)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **state)
{
    (void)version;
    (void)upload;
    eml__artifact_http *http = cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        if (*upload_size) {
            *upload_size = 0; /* ignored */
            return MHD_YES;
        }
        return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "read-only\n");
    }
    if (!*state) { /* first call: headers only */
        *state = http;
        return MHD_YES;
    }
    if (!artifact_name_ok(url))
        return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
    char path[2200];
    snprintf(path, sizeof(path), "%s/%s", http->dir, url + strlen("/artifacts/"));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        if (fd >= 0)
            close(fd);
        return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
    }
    uint64_t size = (uint64_t)sb.st_size, first = 0, last = size ? size - 1 : 0;
    int ranged = parse_range(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE),
                             size, &first, &last);
    char content_range[96];
    if (ranged < 0) {
        close(fd);
        struct MHD_Response *r416 =
            MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        if (!r416)
            return MHD_NO;
        snprintf(content_range, sizeof(content_range), "bytes */%llu", (unsigned long long)size);
        MHD_add_response_header(r416, MHD_HTTP_HEADER_CONTENT_RANGE, content_range);
        enum MHD_Result ret416 = MHD_queue_response(c, MHD_HTTP_RANGE_NOT_SATISFIABLE, r416);
        MHD_destroy_response(r416);
        return ret416;
    }
    struct MHD_Response *r =
        ranged ? MHD_create_response_from_fd_at_offset64(last - first + 1, fd, first)
               : MHD_create_response_from_fd((size_t)sb.st_size, fd);
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/octet-stream");
    MHD_add_response_header(r, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
    if (ranged) {
        snprintf(content_range, sizeof(content_range), "bytes %llu-%llu/%llu",
                 (unsigned long long)first, (unsigned long long)last, (unsigned long long)size);
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, content_range);
    }
    enum MHD_Result ret = MHD_queue_response(c, ranged ? MHD_HTTP_PARTIAL_CONTENT : MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

eml_status eml__artifact_http_start(const char *site_dir, const struct sockaddr *addr,
                                    eml__artifact_http **out, char *base, size_t base_cap,
                                    eml_diag *diag)
{
    *out = NULL;
    eml__artifact_http *http = calloc(1, sizeof(*http));
    if (!http)
        return eml__diag(diag, EML_ENOMEM, "out of memory");
    snprintf(http->dir, sizeof(http->dir), "%s/artifacts", site_dir);
    struct sockaddr_storage bind_addr;
    memset(&bind_addr, 0, sizeof(bind_addr));
    char host[INET6_ADDRSTRLEN] = "";
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (addr->sa_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&bind_addr;
        memcpy(a, addr, sizeof(*a));
        a->sin6_port = 0;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
        flags |= MHD_USE_IPv6;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&bind_addr;
        memcpy(a, addr, sizeof(*a));
        a->sin_port = 0;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
    }
    http->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, http, MHD_OPTION_SOCK_ADDR,
                                    (struct sockaddr *)&bind_addr, MHD_OPTION_CONNECTION_TIMEOUT,
                                    (unsigned)30, MHD_OPTION_END);
    const union MHD_DaemonInfo *info =
        http->daemon ? MHD_get_daemon_info(http->daemon, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    if (!info || info->port == 0) {
        eml__artifact_http_stop(http);
        return eml__diag(diag, EML_EIO, "cannot start the artifact server on %s", host);
    }
    if (addr->sa_family == AF_INET6)
        snprintf(base, base_cap, "http://[%s]:%u", host, (unsigned)info->port);
    else
        snprintf(base, base_cap, "http://%s:%u", host, (unsigned)info->port);
    *out = http;
    return EML_OK;
}

void eml__artifact_http_stop(eml__artifact_http *http)
{
    if (!http)
        return;
    if (http->daemon)
        MHD_stop_daemon(http->daemon);
    free(http);
}
