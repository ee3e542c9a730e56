/* mt19937.c — std::mt19937 and libstdc++'s uniform_int_distribution draw (see mt19937.h).
 * The scalar reference is the only version: task selection and the bootstrap draw a few
 * million numbers at most.
 */
#include "mt19937.h"

#include <assert.h>

/* ---- the generator ------------------------------------------------------------------ */

void mt19937_seed(struct mt19937 *g, uint32_t seed)
{
    g->x[0] = seed;
    for (int i = 1; i < MT19937_N; i++)
        g->x[i] = 1812433253u * (g->x[i - 1] ^ (g->x[i - 1] >> 30)) + (uint32_t)i;
    g->i = MT19937_N;
}

/* Regenerate the whole state (the "twist"): m = 397, matrix a = 0x9908b0df. */
static void twist(struct mt19937 *g)
{
    for (int k = 0; k < MT19937_N; k++) {
        uint32_t y = (g->x[k] & 0x80000000u) | (g->x[(k + 1) % MT19937_N] & 0x7fffffffu);
        g->x[k] = g->x[(k + 397) % MT19937_N] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
    }
    g->i = 0;
}

uint32_t mt19937_next(struct mt19937 *g)
{
    if (g->i >= MT19937_N)
        twist(g);
    uint32_t z = g->x[g->i++];
    z ^= z >> 11;   /* tempering: u = 11, (s, b) = (7, 0x9d2c5680), (t, c) = (15, 0xefc60000), l = 18 */
    z ^= (z << 7) & 0x9d2c5680u;
    z ^= (z << 15) & 0xefc60000u;
    z ^= z >> 18;
    return z;
}

/* ---- the draw ------------------------------------------------------------------------- */

uint64_t mt19937_uniform(struct mt19937 *g, uint64_t n)
{
    assert(n >= 1 && n <= (1ull << 32));
    if (n == (1ull << 32))
        return mt19937_next(g);   /* libstdc++: range equals the generator's, no scaling */
    const uint32_t range = (uint32_t)n;
    uint64_t product = (uint64_t)mt19937_next(g) * range;
    uint32_t low = (uint32_t)product;
    if (low < range) {
        const uint32_t threshold = (uint32_t)(-range) % range;   /* (2^32 − n) mod n */
        while (low < threshold) {
            product = (uint64_t)mt19937_next(g) * range;
            low = (uint32_t)product;
        }
    }
    return product >> 32;
}
