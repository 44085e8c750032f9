/* Fixed-point multipliers of the shared requantization (see qrequant.h). */
#include <math.h>

#include "kernels/ref/qrequant.h"

bool eml__qrequant_init(double real, eml_qrequant *out)
{
    if (!(real >= 0.0) || !(real <= 1.0))
        return false;
    if (real < ldexp(1.0, -32)) {
        out->multiplier = 0;
        out->shift = 31;
        return true;
    }
    int e;
    const double m = frexp(real, &e); /* real = m · 2^e, m in [0.5, 1), e in [-31, 1] */
    int64_t q = (int64_t)llround(ldexp(m, 31));
    if (q == ((int64_t)1 << 31)) { /* m rounded up to 1 */
        q >>= 1;
        e++;
    }
    out->multiplier = (int32_t)q;
    out->shift = 31 - e;
    if (out->shift < 30) /* real = 1 rounds to 2^30 · 2^-30 */
        return false;
    return true;
}

bool eml__qadd_init(double a, double b, eml_qadd *out)
{
    if (!(a >= 0.0) || !(b >= 0.0) || !isfinite(a) || !isfinite(b))
        return false;
    const double big = a > b ? a : b;
    int shift = 30;
    /* the largest shift that keeps both weights below the limit */
    while (shift > 0 && ldexp(big, shift) >= (double)(EML_QADD_WEIGHT_LIMIT - 1))
        shift--;
    if (shift < 1)
        return false;
    out->shift = shift;
    out->weight[0] = (int32_t)llround(ldexp(a, shift));
    out->weight[1] = (int32_t)llround(ldexp(b, shift));
    return true;
}
