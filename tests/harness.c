/* The test harness: registry, runner (one case by name, or all), seeds and paths. */
#include "harness.h"

#include <string.h>
#include <time.h>

#define MAX_CASES 1024

static struct {
    const char *name;
    eml_test_fn fn;
} cases[MAX_CASES];
static int n_cases;
int eml_test_failures;
static uint64_t rng_state;

void eml_test_register(const char *name, eml_test_fn fn)
{
    if (n_cases < MAX_CASES) {
        cases[n_cases].name = name;
        cases[n_cases].fn = fn;
        n_cases++;
    }
}

const char *eml_test_diag_message(const eml_diag *diag)
{
    return diag ? diag->message : "";
}

void eml_test_skip(const char *why)
{
    printf("SKIP: %s\n", why);
    exit(77);
}

uint64_t eml_test_seed(void)
{
    static uint64_t seed;
    if (!seed) {
        const char *s = getenv("EML_TEST_SEED");
        seed = s ? strtoull(s, NULL, 0) : (uint64_t)time(NULL);
        if (!seed)
            seed = 1;
        printf("EML_TEST_SEED=%llu\n", (unsigned long long)seed);
        rng_state = seed;
    }
    return seed;
}

uint32_t eml_test_rand(void)
{
    eml_test_seed();
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

float eml_test_randf(float lo, float hi)
{
    return lo + (hi - lo) * ((float)(eml_test_rand() & 0xffffff) / 16777216.0f);
}

eml_env *eml_test_counting_env(eml_counting_allocator *c)
{
    eml_counting_allocator_init(c);
    eml_env_options o;
    eml_env_options_init(&o);
    o.allocator = &c->base;
    o.n_threads = 1;
    eml_env *env = NULL;
    REQUIRE(eml_env_create(&o, &env) == EML_OK);
    return env;
}

const char *eml_test_source_dir(void)
{
    return getenv("EML_SOURCE_DIR");
}

const char *eml_test_shared_dir(void)
{
    return getenv("EML_SHARED_DIR");
}

void *eml_test_read_file(const char *path, size_t *n_bytes)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *buf = malloc(n > 0 ? (size_t)n : 1);
    if (buf && n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf)
        *n_bytes = (size_t)n;
    return buf;
}

int main(int argc, char **argv)
{
    int ran = 0;
    for (int i = 0; i < n_cases; i++) {
        if (argc > 1 && strcmp(argv[1], "all") != 0 && strcmp(argv[1], cases[i].name) != 0)
            continue;
        int before = eml_test_failures;
        cases[i].fn();
        printf("%s: %s\n", cases[i].name, eml_test_failures == before ? "ok" : "FAILED");
        ran++;
    }
    if (ran == 0) {
        fprintf(stderr, "no test case named %s\n", argc > 1 ? argv[1] : "(any)");
        return 2;
    }
    return eml_test_failures ? 1 : 0;
}

const char *eml_test_fashion_cnn_path(void)
{
    static char path[1024];
    snprintf(path, sizeof(path), "%s/models/fashion_cnn/model.onnx", eml_test_source_dir());
    return path;
}

void eml_test_fashion_cnn_input(eml_env *env, eml_tensor *t)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/models/fashion_cnn/test_data_set_0/input_0.pb",
             eml_test_source_dir());
    size_t n;
    void *bytes = eml_test_read_file(path, &n);
    REQUIRE(bytes);
    eml_diag diag;
    char name[64];
    REQUIRE_OK(eml_tensor_read_pb(env, bytes, n, t, name, sizeof(name), &diag), &diag);
    free(bytes);
}
