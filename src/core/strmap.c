/* A small string → int map (open addressing, FNV-1a) for name lookups while importing. */
#include "core/core.h"

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

eml_status eml__strmap_init(eml_env *env, eml_strmap *m, size_t expected)
{
    memset(m, 0, sizeof(*m));
    size_t cap = 16;
    while (cap < expected * 2 + 1)
        cap *= 2;
    m->keys = eml__calloc(env, cap, sizeof(*m->keys));
    m->vals = eml__calloc(env, cap, sizeof(*m->vals));
    if (!m->keys || !m->vals) {
        eml__strmap_deinit(env, m);
        return EML_ENOMEM;
    }
    m->cap = cap;
    return EML_OK;
}

void eml__strmap_deinit(eml_env *env, eml_strmap *m)
{
    eml__free(env, m->keys);
    eml__free(env, m->vals);
    memset(m, 0, sizeof(*m));
}

static size_t find_slot(const eml_strmap *m, const char *key)
{
    size_t i = (size_t)hash_str(key) & (m->cap - 1);
    while (m->keys[i] && strcmp(m->keys[i], key) != 0)
        i = (i + 1) & (m->cap - 1);
    return i;
}

eml_status eml__strmap_put(eml_env *env, eml_strmap *m, const char *key, int32_t val)
{
    if ((m->count + 1) * 2 > m->cap) {
        eml_strmap bigger;
        eml_status st = eml__strmap_init(env, &bigger, m->cap);
        if (st != EML_OK)
            return st;
        for (size_t i = 0; i < m->cap; i++) {
            if (m->keys[i]) {
                size_t j = find_slot(&bigger, m->keys[i]);
                bigger.keys[j] = m->keys[i];
                bigger.vals[j] = m->vals[i];
                bigger.count++;
            }
        }
        eml__strmap_deinit(env, m);
        *m = bigger;
    }
    size_t i = find_slot(m, key);
    if (!m->keys[i]) {
        m->keys[i] = key;
        m->count++;
    }
    m->vals[i] = val;
    return EML_OK;
}

int32_t eml__strmap_get(const eml_strmap *m, const char *key)
{
    if (!m->cap)
        return -1;
    size_t i = find_slot(m, key);
    return m->keys[i] ? m->vals[i] : -1;
}
