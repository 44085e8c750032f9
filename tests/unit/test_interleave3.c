/* The three-plane interleave kernels (the RGB input's NCHW to NHWC transpose) against the
 * definition, for every kernel this CPU runs, on lengths that cover each vector step's tail and
 * planes that start at odd offsets; and that the selection picks a usable kernel. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "harness.h"
#include "kernels/interleave3.h"

/* Runs kernel k on n pixels of planes `plane` elements apart (plane >= n) starting `shift`
 * elements into the buffer, and compares every byte of the output, and the guard bytes after it,
 * with the definition. */
static void check(const eml_interleave3_kernel *k, size_t n, size_t plane, size_t shift)
{
    const size_t e = k->elem, in_bytes = (shift + 3 * plane) * e,
                 out_bytes = (shift + 3 * n + 4) * e;
    unsigned char *x = malloc(in_bytes), *y = malloc(out_bytes), *want = malloc(out_bytes);
    REQUIRE(x && y && want);
    for (size_t i = 0; i < in_bytes; i++)
        x[i] = (unsigned char)(rand() & 0xff);
    memset(y, 0xa5, out_bytes);
    memset(want, 0xa5, out_bytes);
    const unsigned char *src = x + shift * e;
    for (size_t p = 0; p < n; p++)
        for (size_t c = 0; c < 3; c++)
            memcpy(want + (shift + 3 * p + c) * e, src + (c * plane + p) * e, e);
    k->fn(src, plane, y + shift * e, n);
    if (memcmp(y, want, out_bytes) != 0)
        fprintf(stderr, "%s: n %zu plane %zu shift %zu differs\n", k->name, n, plane, shift);
    CHECK(memcmp(y, want, out_bytes) == 0);
    free(x);
    free(y);
    free(want);
}

EML_TEST(every_usable_kernel_matches_the_definition)
{
    size_t count;
    const eml_interleave3_kernel *ks = eml__interleave3_kernels(&count);
    size_t tested = 0;
    srand(7);
    for (size_t i = 0; i < count; i++) {
        if (!eml__cpu_has(ks[i].isa)) {
            printf("skipped %s: this CPU lacks its ISA\n", ks[i].name);
            continue;
        }
        for (size_t n = 0; n <= 70; n++)
            check(&ks[i], n, n + (n % 5), n % 3);
        check(&ks[i], 224 * 224, 224 * 224, 1);
        tested++;
    }
    printf("%zu of %zu kernels tested\n", tested, count);
}

EML_TEST(selection_returns_a_usable_kernel_of_the_size_asked)
{
    for (size_t elem = 1; elem <= 4; elem++) {
        const eml_interleave3_kernel *k = eml__interleave3_select(elem);
        if (k) {
            CHECK(k->elem == elem);
            CHECK(eml__cpu_has(k->isa));
        }
    }
    CHECK(eml__interleave3_select(2) == NULL); /* no 2-byte kernel is listed */
}
