/* The entry point every fuzz target defines: libFuzzer calls it, and so does fuzz_main.c. */
#ifndef EML_TESTS_FUZZ_H
#define EML_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "edgeml/edgeml.h"

/* Returns 0; anything else is reserved by libFuzzer. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The env shared by all inputs of one process: one thread, and an allocation limit low enough
 * that an input claiming gigabytes is refused by the library, not killed by the fuzzer. */
static inline eml_env *fuzz_env(void)
{
    static eml_env *env;
    if (!env) {
        eml_env_options o;
        eml_env_options_init(&o);
        o.n_threads = 1;
        o.max_alloc_bytes = 256u << 20;
        if (eml_env_create(&o, &env) != EML_OK)
            return NULL;
    }
    return env;
}

#endif
