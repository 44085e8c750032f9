/* Downloads a model for a deploy by URL with libcurl, into memory, with a size limit. */
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "agent/agent.h"
#include "core/core.h"

typedef struct sink {
    uint8_t *data;
    size_t n, cap;
    uint64_t max;
    int over;
} sink;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *user)
{
    sink *s = user;
    size_t k = size * nmemb;
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

eml_status eml__fetch_url(const char *url, uint64_t max_bytes, uint8_t **data, size_t *n_bytes,
                          eml_diag *diag)
{
    *data = NULL;
    *n_bytes = 0;
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0 &&
        strncmp(url, "file://", 7) != 0)
        return eml__diag(diag, EML_EINVAL, "url must be http://, https:// or file://");
    CURL *c = curl_easy_init();
    if (!c)
        return eml__diag(diag, EML_ENOMEM, "cannot start a download");
    sink s = {NULL, 0, 0, max_bytes, 0};
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
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max_bytes);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    if (s.over || rc == CURLE_FILESIZE_EXCEEDED) {
        free(s.data);
        return eml__diag(diag, EML_ELIMIT, "download: the model is larger than %llu bytes",
                         (unsigned long long)max_bytes);
    }
    if (rc != CURLE_OK) {
        free(s.data);
        return eml__diag(diag, EML_EIO, "download of %.200s failed: %s", url,
                         err[0] ? err : curl_easy_strerror(rc));
    }
    *data = s.data;
    *n_bytes = s.n;
    return EML_OK;
}
