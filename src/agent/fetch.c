/* Downloads a model for a deploy by URL with libcurl, into memory, with a size limit; a transfer
 * that breaks is resumed from what arrived (an HTTP Range request), up to 5 times. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "agent/agent.h"
#include "core/core.h"

#define FETCH_RETRIES 5      /* attempts after the first */
#define FETCH_BACKOFF_MS 200 /* before the first retry; doubles, up to FETCH_BACKOFF_MAX_MS */
#define FETCH_BACKOFF_MAX_MS 2000
#define FETCH_STALL_S 30 /* a transfer that moves no byte for this long is broken */

typedef struct sink {
    uint8_t *data;
    size_t n, cap;
    uint64_t max;
    int over;
    /* this attempt: the offset asked for, and whether the answer was checked to continue it */
    size_t resume_at;
    int checked;
    CURL *curl;
} sink;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *user)
{
    sink *s = user;
    size_t k = size * nmemb;
    if (!s->checked) {
        /* A server that answers a Range request with the whole file (200, not 206) starts it
         * over: what came before is dropped, not doubled. (libcurl refuses most such answers
         * itself; this is the guard for the ones it lets through.) */
        long code = 0;
        curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code);
        if (s->resume_at && code == 200)
            s->n = 0;
        s->checked = 1;
    }
    if (s->n + k > s->max) {
        s->over = 1;
        return 0;
    }
    if (s->n + k > s->cap) {
        size_t cap = EML_MAX(s->cap * 2, s->n + k);
        uint8_t *p = realloc(s->data, cap);
        if (!p)
            return 0;
        s->data = p;
        s->cap = cap;
    }
    memcpy(s->data + s->n, ptr, k);
    s->n += k;
    return k;
}

/* The failures of a transfer that another try may fix: the connection broke, stalled or the
 * server went away mid-file. Not: HTTP errors (404...), bad URLs, the size limit, file://. */
static int retryable(CURLcode rc, size_t have)
{
    switch (rc) {
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_OPERATION_TIMEDOUT:
        return 1;
    case CURLE_COULDNT_CONNECT: /* a server restarting mid-download; not a first refusal */
        return have > 0;
    default:
        return 0;
    }
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

eml_status eml__fetch_url(const char *url, uint64_t max_bytes, uint8_t **data, size_t *n_bytes,
                          eml_diag *diag)
{
    *data = NULL;
    *n_bytes = 0;
    int is_http = strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0;
    if (!is_http && strncmp(url, "file://", 7) != 0)
        return eml__diag(diag, EML_EINVAL, "url must be http://, https:// or file://");
    CURL *c = curl_easy_init();
    if (!c)
        return eml__diag(diag, EML_ENOMEM, "cannot start a download");
    sink s = {NULL, 0, 0, max_bytes, 0, 0, 0, c};
    char err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)FETCH_STALL_S);
    CURLcode rc = CURLE_OK;
    int no_ranges = 0; /* the server ignored a Range request: every try starts at 0 */
    int attempts = 0;
    long backoff_ms = FETCH_BACKOFF_MS;
    for (;;) {
        if (no_ranges || !is_http)
            s.n = 0;
        s.resume_at = s.n;
        s.checked = 0;
        err[0] = 0;
        curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)s.resume_at);
        /* The limit is on the whole file: a resumed answer's length is what remains. */
        uint64_t room = max_bytes - s.n;
        curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)(room ? room : 1));
        rc = curl_easy_perform(c);
        attempts++;
        if (rc == CURLE_OK || s.over || rc == CURLE_FILESIZE_EXCEEDED || attempts > FETCH_RETRIES)
            break;
        if (rc == CURLE_RANGE_ERROR && s.resume_at && !no_ranges) {
            no_ranges = 1; /* "does not support byte ranges": start over, at once */
            continue;
        }
        if (!is_http || !retryable(rc, s.n))
            break;
        sleep_ms(backoff_ms);
        backoff_ms = EML_MIN(backoff_ms * 2, FETCH_BACKOFF_MAX_MS);
    }
    curl_easy_cleanup(c);
    if (s.over || rc == CURLE_FILESIZE_EXCEEDED) {
        free(s.data);
        return eml__diag(diag, EML_ELIMIT, "download: the model is larger than %llu bytes",
                         (unsigned long long)max_bytes);
    }
    if (rc != CURLE_OK) {
        free(s.data);
        if (attempts > 1)
            return eml__diag(diag, EML_EIO, "download of %.200s failed after %d tries: %s", url,
                             attempts, err[0] ? err : curl_easy_strerror(rc));
        return eml__diag(diag, EML_EIO, "download of %.200s failed: %s", url,
                         err[0] ? err : curl_easy_strerror(rc));
    }
    *data = s.data;
    *n_bytes = s.n;
    return EML_OK;
}
