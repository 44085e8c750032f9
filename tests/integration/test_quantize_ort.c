/* ONNX Runtime runs the INT8 models `edgeml quantize` writes, and its top-1 on the Fashion-MNIST
 * test set agrees with edgeml's on at least 99.5 % of the images (bench/ort_agreement.py; skipped
 * when Node, onnxruntime-node or the data set is absent). Under the sanitizers: the first 1,000
 * test images. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"

#if defined(__SANITIZE_ADDRESS__)
#define LIMIT " --limit 1000"
#else
#define LIMIT ""
#endif

static void agreement(const char *precisions)
{
    const char *src = eml_test_source_dir(), *bin = getenv("EML_BINARY_DIR");
    if (!src || !bin)
        eml_test_skip("EML_SOURCE_DIR / EML_BINARY_DIR unset (run through ctest)");
    char cmd[4096];
    snprintf(cmd, sizeof(cmd),
             "python3 '%s/bench/ort_agreement.py' --edgeml '%s/edgeml' "
             "--precisions %s" LIMIT,
             src, bin, precisions);
    printf("%s\n", cmd);
    fflush(stdout);
    int rc = system(cmd);
    REQUIRE(rc != -1 && WIFEXITED(rc));
    if (WEXITSTATUS(rc) == 77)
        eml_test_skip("node, onnxruntime-node or the data set is absent");
    CHECK(WEXITSTATUS(rc) == 0);
}

EML_TEST(ort_agrees_on_static_int8)
{
    agreement("int8");
}

EML_TEST(ort_agrees_on_dynamic_int8)
{
    agreement("int8-dynamic");
}
