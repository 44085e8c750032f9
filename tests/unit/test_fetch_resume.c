/* Resumable downloads: eml__fetch_url (src/agent/fetch.c) against a tiny HTTP server in the test
 * that breaks its transfers on purpose (it resumes with a Range request from what arrived,
 * starts over when the server ignores Range, keeps the size limit across tries, gives up after
 * 5 retries, does not retry an HTTP error), and the manager's artifact server
 * (src/manager/artifact_http.c) answering Range requests (206 + Content-Range, 416). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "agent/agent.h"
#include "harness.h"
#include "manager/mqtt_internal.h"

#define FILE_BYTES 100000
#define MAX_REQUESTS 16

enum mode {
    BREAK_ONCE_RANGE = 1, /* the first answer stops at half the file; later ones honour Range */
    BREAK_ONCE_NO_RANGE,  /* the same, but later answers are always 200 with the whole file */
    ALWAYS_BREAK,         /* every answer (Range honoured) stops after CHUNK bytes */
    NOT_FOUND,            /* 404 */
    CHUNKED_BREAK_ONCE,   /* as BREAK_ONCE_RANGE, bodies chunked: no length said up front */
};
#define CHUNK 1000

typedef struct server {
    int listen_fd, port;
    enum mode mode;
    pthread_t thread;
    atomic_int stop;
    const uint8_t *file;
    size_t size;
    /* written by the server thread, read after it stopped */
    int n_requests;
    long long range_from[MAX_REQUESTS]; /* -1: no Range header */
} server;

static uint8_t file_bytes[FILE_BYTES];

static void fill_file(void)
{
    uint32_t x = 12345;
    for (size_t i = 0; i < FILE_BYTES; i++) {
        x = x * 1664525u + 1013904223u;
        file_bytes[i] = (uint8_t)(x >> 24);
    }
}

static void send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
        if (k <= 0)
            return;
        c += k;
        n -= (size_t)k;
    }
}

/* Reads the request head; the Range start ("bytes=A-") or -1. */
static long long read_request(int fd)
{
    char buf[4096];
    size_t n = 0;
    while (n < sizeof(buf) - 1) {
        ssize_t k = recv(fd, buf + n, sizeof(buf) - 1 - n, 0);
        if (k <= 0)
            break;
        n += (size_t)k;
        buf[n] = 0;
        if (strstr(buf, "\r\n\r\n"))
            break;
    }
    buf[n] = 0;
    for (char *line = strstr(buf, "\r\n"); line; line = strstr(line + 2, "\r\n"))
        if (strncasecmp(line + 2, "Range: bytes=", 13) == 0)
            return atoll(line + 15);
    return -1;
}

static void answer(server *s, int fd, long long from)
{
    char head[256];
    size_t size = s->size;
    int first = s->n_requests == 1;
    if (s->mode == NOT_FOUND) {
        snprintf(head, sizeof(head), "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        send_all(fd, head, strlen(head));
        return;
    }
    int honour = from >= 0 && (size_t)from < size && s->mode != BREAK_ONCE_NO_RANGE;
    size_t start = honour ? (size_t)from : 0;
    if (s->mode == CHUNKED_BREAK_ONCE) {
        if (honour)
            snprintf(head, sizeof(head),
                     "HTTP/1.1 206 Partial Content\r\nTransfer-Encoding: chunked\r\n"
                     "Content-Range: bytes %zu-%zu/%zu\r\nConnection: close\r\n\r\n%zx\r\n",
                     start, size - 1, size, size - start);
        else
            snprintf(head, sizeof(head),
                     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n"
                     "\r\n%zx\r\n",
                     size);
        send_all(fd, head, strlen(head));
        size_t end = first ? size / 2 : size;
        send_all(fd, s->file + start, end - start);
        if (!first)
            send_all(fd, "\r\n0\r\n\r\n", 7);
        return;
    }
    if (honour)
        snprintf(head, sizeof(head),
                 "HTTP/1.1 206 Partial Content\r\nContent-Length: %zu\r\n"
                 "Content-Range: bytes %zu-%zu/%zu\r\nConnection: close\r\n\r\n",
                 size - start, start, size - 1, size);
    else
        snprintf(head, sizeof(head),
                 "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", size);
    send_all(fd, head, strlen(head));
    size_t end = size;
    if (s->mode == ALWAYS_BREAK)
        end = start + CHUNK < size ? start + CHUNK : size;
    else if (first)
        end = size / 2;
    send_all(fd, s->file + start, end - start);
}

static void *server_main(void *arg)
{
    server *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {s->listen_fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int fd = accept(s->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        long long from = read_request(fd);
        if (s->n_requests < MAX_REQUESTS)
            s->range_from[s->n_requests] = from;
        s->n_requests++;
        answer(s, fd, from);
        close(fd); /* FIN after what was sent: the client sees a short body */
    }
    return NULL;
}

static void server_start(server *s, enum mode mode)
{
    memset(s, 0, sizeof(*s));
    s->mode = mode;
    s->file = file_bytes;
    s->size = FILE_BYTES;
    s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(s->listen_fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    REQUIRE(bind(s->listen_fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    REQUIRE(listen(s->listen_fd, 8) == 0);
    REQUIRE(getsockname(s->listen_fd, (struct sockaddr *)&a, &len) == 0);
    s->port = ntohs(a.sin_port);
    REQUIRE(pthread_create(&s->thread, NULL, server_main, s) == 0);
}

static void server_stop(server *s)
{
    atomic_store(&s->stop, 1);
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
}

static eml_status fetch(server *s, uint64_t max, uint8_t **data, size_t *n, eml_diag *d)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/artifacts/model.onnx", s->port);
    eml_diag_init(d);
    return eml__fetch_url(url, max, data, n, d);
}

EML_TEST(resumes_from_what_arrived)
{
    fill_file();
    server s;
    server_start(&s, BREAK_ONCE_RANGE);
    uint8_t *data = NULL;
    size_t n = 0;
    eml_diag d;
    eml_status st = fetch(&s, 1 << 20, &data, &n, &d);
    server_stop(&s);
    REQUIRE_OK(st, &d);
    CHECK(n == FILE_BYTES && memcmp(data, file_bytes, FILE_BYTES) == 0);
    /* The second request asked for the rest, from exactly the half that came. */
    CHECK(s.n_requests == 2);
    CHECK(s.range_from[0] == -1);
    CHECK(s.range_from[1] == FILE_BYTES / 2);
    free(data);
}

EML_TEST(server_ignoring_range_starts_over)
{
    fill_file();
    server s;
    server_start(&s, BREAK_ONCE_NO_RANGE);
    uint8_t *data = NULL;
    size_t n = 0;
    eml_diag d;
    eml_status st = fetch(&s, 1 << 20, &data, &n, &d);
    server_stop(&s);
    REQUIRE_OK(st, &d);
    /* A 200 to the Range request: the whole file once, not the half twice. */
    CHECK(n == FILE_BYTES && memcmp(data, file_bytes, FILE_BYTES) == 0);
    CHECK(s.n_requests >= 2 && s.n_requests <= 3);
    CHECK(s.range_from[1] == FILE_BYTES / 2);
    if (s.n_requests == 3)
        CHECK(s.range_from[2] == -1); /* libcurl refused the 200; asked again from 0 */
    free(data);
}

EML_TEST(size_limit_holds_across_retries)
{
    fill_file();
    /* The first half fits, the whole file does not: refused while resuming. */
    server s;
    server_start(&s, BREAK_ONCE_RANGE);
    uint8_t *data = NULL;
    size_t n = 0;
    eml_diag d;
    eml_status st = fetch(&s, FILE_BYTES / 2 + 100, &data, &n, &d);
    server_stop(&s);
    CHECK_STATUS(st, EML_ELIMIT);
    CHECK(data == NULL && n == 0);
    CHECK(strstr(eml_test_diag_message(&d), "larger than") != NULL);
    /* The length the server said (the whole file, then the rest) is checked up front: the
     * first answer is refused at once. */
    CHECK(s.n_requests == 1);
    /* Chunked answers say no length: the bytes are counted, across tries. */
    for (int limit = 0; limit < 3; limit++) {
        uint64_t max = limit == 0 ? FILE_BYTES / 2 + 100 : limit == 1 ? FILE_BYTES - 1 : FILE_BYTES;
        server_start(&s, CHUNKED_BREAK_ONCE);
        st = fetch(&s, max, &data, &n, &d);
        server_stop(&s);
        CHECK(s.n_requests == 2 && s.range_from[1] == FILE_BYTES / 2);
        if (max < FILE_BYTES) {
            CHECK_STATUS(st, EML_ELIMIT);
            CHECK(data == NULL);
        } else {
            CHECK_STATUS(st, EML_OK);
            CHECK(n == FILE_BYTES && data && memcmp(data, file_bytes, FILE_BYTES) == 0);
            free(data);
        }
    }
    /* One byte short of the file, the file exactly, with lengths said. */
    server_start(&s, BREAK_ONCE_RANGE);
    st = fetch(&s, FILE_BYTES - 1, &data, &n, &d);
    server_stop(&s);
    CHECK_STATUS(st, EML_ELIMIT);
    server_start(&s, BREAK_ONCE_RANGE);
    st = fetch(&s, FILE_BYTES, &data, &n, &d);
    server_stop(&s);
    CHECK_STATUS(st, EML_OK);
    CHECK(n == FILE_BYTES && data && memcmp(data, file_bytes, FILE_BYTES) == 0);
    free(data);
}

EML_TEST(gives_up_after_five_retries)
{
    fill_file();
    server s;
    server_start(&s, ALWAYS_BREAK);
    uint8_t *data = NULL;
    size_t n = 0;
    eml_diag d;
    eml_status st = fetch(&s, 1 << 20, &data, &n, &d);
    server_stop(&s);
    CHECK_STATUS(st, EML_EIO);
    CHECK(data == NULL);
    fprintf(stderr, "%s\n", eml_test_diag_message(&d));
    CHECK(strstr(eml_test_diag_message(&d), "after 6 tries") != NULL);
    /* Each try went on from where the last stopped. */
    CHECK(s.n_requests == 6);
    for (int i = 0; i < 6 && i < s.n_requests; i++)
        CHECK(s.range_from[i] == (i == 0 ? -1 : (long long)i * CHUNK));
}

EML_TEST(http_error_is_not_retried)
{
    server s;
    server_start(&s, NOT_FOUND);
    uint8_t *data = NULL;
    size_t n = 0;
    eml_diag d;
    eml_status st = fetch(&s, 1 << 20, &data, &n, &d);
    server_stop(&s);
    CHECK_STATUS(st, EML_EIO);
    CHECK(s.n_requests == 1);
    CHECK(strstr(eml_test_diag_message(&d), "404") != NULL);
}

/* ---- the manager's artifact server ---- */

typedef struct reply {
    uint8_t body[FILE_BYTES + 16];
    size_t n;
    char headers[2048];
    size_t n_headers;
} reply;

static size_t on_body(char *p, size_t size, size_t count, void *user)
{
    reply *r = user;
    size_t k = size * count;
    if (r->n + k > sizeof(r->body))
        return 0;
    memcpy(r->body + r->n, p, k);
    r->n += k;
    return k;
}

static size_t on_header(char *p, size_t size, size_t count, void *user)
{
    reply *r = user;
    size_t k = size * count;
    size_t room = sizeof(r->headers) - 1 - r->n_headers;
    size_t m = k < room ? k : room;
    memcpy(r->headers + r->n_headers, p, m);
    r->n_headers += m;
    r->headers[r->n_headers] = 0;
    return k;
}

/* GET url with a Range header (NULL: none); the status code (0: failed), reply in *r. */
static long get(const char *url, const char *range, reply *r)
{
    memset(r, 0, sizeof(*r));
    CURL *c = curl_easy_init();
    REQUIRE(c != NULL);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    struct curl_slist *h = NULL;
    char line[128];
    if (range) {
        snprintf(line, sizeof(line), "Range: %s", range);
        h = curl_slist_append(h, line);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    }
    long code = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    return code;
}

static int has_header(const reply *r, const char *line)
{
    for (const char *p = r->headers; (p = strchr(p, '\n')) != NULL; p++)
        if (strncasecmp(p + 1, line, strlen(line)) == 0)
            return 1;
    return 0;
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    REQUIRE(f != NULL);
    REQUIRE(fwrite(data, 1, n, f) == n);
    fclose(f);
}

EML_TEST(artifact_server_answers_ranges)
{
    fill_file();
    char dir[256], path[400], url[512], want[128];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/eml_range_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    REQUIRE(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/artifacts", dir);
    REQUIRE(mkdir(path, 0755) == 0);
    const char *sha = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    snprintf(path, sizeof(path), "%s/artifacts/%s.onnx", dir, sha);
    write_file(path, file_bytes, FILE_BYTES);
    snprintf(path, sizeof(path), "%s/artifacts/%s.npy", dir, sha);
    write_file(path, "\x93NUMPY eval data", 16);

    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    eml__artifact_http *http = NULL;
    char base[128];
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml__artifact_http_start(dir, (struct sockaddr *)&a, &http, base, sizeof(base), &d),
               &d);
    snprintf(url, sizeof(url), "%s/artifacts/%s.onnx", base, sha);
    reply *r = malloc(sizeof(*r));
    REQUIRE(r != NULL);

    /* The whole file, saying ranges are accepted. */
    CHECK(get(url, NULL, r) == 200);
    CHECK(r->n == FILE_BYTES && memcmp(r->body, file_bytes, FILE_BYTES) == 0);
    CHECK(has_header(r, "Accept-Ranges: bytes"));
    CHECK(!has_header(r, "Content-Range:"));
    /* bytes=A-B */
    CHECK(get(url, "bytes=10-19", r) == 206);
    CHECK(r->n == 10 && memcmp(r->body, file_bytes + 10, 10) == 0);
    snprintf(want, sizeof(want), "Content-Range: bytes 10-19/%d", FILE_BYTES);
    CHECK(has_header(r, want));
    CHECK(has_header(r, "Content-Length: 10"));
    /* bytes=A- (what a resumed download asks) */
    CHECK(get(url, "bytes=50000-", r) == 206);
    CHECK(r->n == FILE_BYTES - 50000 && memcmp(r->body, file_bytes + 50000, r->n) == 0);
    snprintf(want, sizeof(want), "Content-Range: bytes 50000-%d/%d", FILE_BYTES - 1, FILE_BYTES);
    CHECK(has_header(r, want));
    /* An end past the file is cut to it; the last byte alone; the last N bytes. */
    CHECK(get(url, "bytes=99990-200000", r) == 206);
    CHECK(r->n == 10 && memcmp(r->body, file_bytes + 99990, 10) == 0);
    CHECK(get(url, "bytes=99999-99999", r) == 206);
    CHECK(r->n == 1 && r->body[0] == file_bytes[99999]);
    CHECK(get(url, "bytes=-5", r) == 206);
    CHECK(r->n == 5 && memcmp(r->body, file_bytes + FILE_BYTES - 5, 5) == 0);
    /* Unsatisfiable: 416 with the size. */
    snprintf(want, sizeof(want), "bytes=%d-", FILE_BYTES);
    CHECK(get(url, want, r) == 416);
    snprintf(want, sizeof(want), "Content-Range: bytes */%d", FILE_BYTES);
    CHECK(has_header(r, want));
    CHECK(get(url, "bytes=200000-300000", r) == 416);
    /* Headers that cannot be read, or several ranges: the whole file. */
    const char *whole[] = {"bytes=20-10", "bytes=abc", "items=0-5", "bytes=0-1,5-6", "bytes=-"};
    for (size_t i = 0; i < sizeof(whole) / sizeof(whole[0]); i++) {
        long code = get(url, whole[i], r);
        CHECK(code == 200 && r->n == FILE_BYTES);
        if (code != 200)
            fprintf(stderr, "Range %s: HTTP %ld\n", whole[i], code);
    }
    /* Evaluation data as .npy artifacts, ranges too; other extensions are not served. */
    snprintf(url, sizeof(url), "%s/artifacts/%s.npy", base, sha);
    CHECK(get(url, NULL, r) == 200 && r->n == 16 && memcmp(r->body, "\x93NUMPY", 6) == 0);
    CHECK(get(url, "bytes=7-", r) == 206 && r->n == 9 && memcmp(r->body, "eval data", 9) == 0);
    snprintf(url, sizeof(url), "%s/artifacts/%s.bin", base, sha);
    CHECK(get(url, NULL, r) == 404);

    /* eml__fetch_url against it, whole. */
    snprintf(url, sizeof(url), "%s/artifacts/%s.onnx", base, sha);
    uint8_t *data = NULL;
    size_t n = 0;
    REQUIRE_OK(eml__fetch_url(url, 1 << 20, &data, &n, &d), &d);
    CHECK(n == FILE_BYTES && memcmp(data, file_bytes, FILE_BYTES) == 0);
    free(data);

    free(r);
    eml__artifact_http_stop(http);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}
