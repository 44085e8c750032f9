/* The manager's artifact server (src/manager/artifact_http.c) on loopback: it serves
 * artifacts/<64 hex>.onnx byte for byte and nothing else (other names, paths out of the folder,
 * other methods). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>

#include "harness.h"
#include "manager/mqtt_internal.h"

typedef struct body {
    char data[256];
    size_t n;
} body;

static size_t on_data(char *p, size_t size, size_t count, void *userdata)
{
    body *b = userdata;
    size_t n = size * count;
    size_t room = sizeof(b->data) - 1 - b->n;
    memcpy(b->data + b->n, p, n < room ? n : room);
    b->n += n < room ? n : room;
    b->data[b->n] = 0;
    return n;
}

/* The HTTP status of a request (method NULL: GET), body in *b. */
static long request(const char *url, const char *method, body *b)
{
    memset(b, 0, sizeof(*b));
    CURL *c = curl_easy_init();
    REQUIRE(c != NULL);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L); /* send "/../" as written */
    if (method) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "x");
    }
    long code = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    return code;
}

EML_TEST(artifact_server_serves_only_artifacts)
{
    char dir[256], path[400];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/eml_arthttp_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    REQUIRE(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/artifacts", dir);
    REQUIRE(mkdir(path, 0755) == 0);
    const char *sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    snprintf(path, sizeof(path), "%s/artifacts/%s.onnx", dir, sha);
    FILE *f = fopen(path, "wb");
    REQUIRE(f != NULL);
    fputs("model bytes", f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/site.db", dir);
    f = fopen(path, "wb");
    REQUIRE(f != NULL);
    fputs("secret", f);
    fclose(f);

    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    eml__artifact_http *http = NULL;
    char base[128], url[512];
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml__artifact_http_start(dir, (struct sockaddr *)&a, &http, base, sizeof(base), &d),
               &d);
    CHECK(strncmp(base, "http://127.0.0.1:", 17) == 0 && atoi(base + 17) > 0);

    body b;
    snprintf(url, sizeof(url), "%s/artifacts/%s.onnx", base, sha);
    CHECK(request(url, NULL, &b) == 200 && strcmp(b.data, "model bytes") == 0);
    CHECK(request(url, "POST", &b) == 405);
    CHECK(request(url, "PUT", &b) == 405);
    const char *bad[] = {
        "/artifacts/../site.db",
        "/site.db",
        "/artifacts/0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef.onnx",
        "/artifacts/0123456789abcdef.onnx",
        "/artifacts/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.onnx/x",
        "/artifacts/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdee.onnx",
        "/",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(url, sizeof(url), "%s%s", base, bad[i]);
        long code = request(url, NULL, &b);
        CHECK(code == 404);
        CHECK(strstr(b.data, "secret") == NULL);
        if (code != 404)
            fprintf(stderr, "%s: HTTP %ld\n", bad[i], code);
    }
    eml__artifact_http_stop(http);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}
