/* A plain-C test harness: EML_TEST(name) registers a case; each case is its own CTest test. */
#ifndef EML_TESTS_HARNESS_H
#define EML_TESTS_HARNESS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "edgeml/edgeml.h"

typedef void (*eml_test_fn)(void);
void eml_test_register(const char *name, eml_test_fn fn);

/* Write `EML_TEST(name) { ... }` at the start of a line: CMake finds the cases by that pattern. */
#define EML_TEST(name)                                                                             \
    static void test_##name(void);                                                                 \
    __attribute__((constructor)) static void register_##name(void)                                 \
    {                                                                                              \
        eml_test_register(#name, test_##name);                                                     \
    }                                                                                              \
    static void test_##name(void)

extern int eml_test_failures;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);              \
            eml_test_failures++;                                                                   \
        }                                                                                          \
    } while (0)

/* Stops the case at once on failure (for preconditions of later checks). */
#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond);            \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define CHECK_STATUS(expr, expected)                                                               \
    do {                                                                                           \
        eml_status st_ = (expr);                                                                   \
        if (st_ != (expected)) {                                                                   \
            fprintf(stderr, "%s:%d: %s returned %s, expected %s\n", __FILE__, __LINE__, #expr,     \
                    eml_status_name(st_), eml_status_name(expected));                              \
            eml_test_failures++;                                                                   \
        }                                                                                          \
    } while (0)

#define REQUIRE_OK(expr, diagp)                                                                    \
    do {                                                                                           \
        eml_status st_ = (expr);                                                                   \
        if (st_ != EML_OK) {                                                                       \
            fprintf(stderr, "%s:%d: %s failed: %s: %s\n", __FILE__, __LINE__, #expr,               \
                    eml_status_name(st_), eml_test_diag_message(diagp));                           \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* The diag's message, "" for NULL. */
const char *eml_test_diag_message(const eml_diag *diag);

/* Exits with CTest's skip code (77) and a message, e.g. when ../shared is absent. */
void eml_test_skip(const char *why);

/* Seeded random numbers: the seed is printed and EML_TEST_SEED overrides it. */
uint64_t eml_test_seed(void);
uint32_t eml_test_rand(void);
float eml_test_randf(float lo, float hi);

/* A one-thread env whose allocations go through *c (initialized here), so a case can count them
 * and fail the k-th one. */
eml_env *eml_test_counting_env(eml_counting_allocator *c);

/* Paths from the environment CTest sets: source tree, ../shared. NULL when unset. */
const char *eml_test_source_dir(void);
const char *eml_test_shared_dir(void);
/* Reads a whole file into malloc'd memory; NULL when missing. */
void *eml_test_read_file(const char *path, size_t *n_bytes);
/* The bundled Fashion-MNIST CNN (models/fashion_cnn/model.onnx), and its reference input 0 read
 * into *t (the case fails when it cannot be read). */
const char *eml_test_fashion_cnn_path(void);
void eml_test_fashion_cnn_input(eml_env *env, eml_tensor *t);

#endif
