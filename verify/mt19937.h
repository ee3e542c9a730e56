/* mt19937.h — the 32-bit Mersenne Twister and the integer draw of libstdc++, bit for bit,
 * so that ingot picks the same tasks as llama.cpp (std::mt19937 rng(1) with
 * std::uniform_int_distribution<size_t>) and so that a pure-Python reference can replay
 * every bootstrap resample exactly.
 *
 * mt19937: Matsumoto & Nishimura (1998), the C++11 std::mt19937 parameters; seeding is
 * std::mt19937(seed)'s: x[0] = seed, x[i] = 1812433253·(x[i-1] ^ (x[i-1] >> 30)) + i.
 * uniform_int(0, n-1), libstdc++ since gcc 11 for a 32-bit generator and a range below 2^32:
 * Lemire's nearly-divisionless method (arXiv:1805.10941): p = g()·n (64-bit); if the low
 * 32 bits are below n, draw again while they are below (2^32 − n) mod n; the result is p >> 32.
 */
#ifndef VERIFY_MT19937_H
#define VERIFY_MT19937_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MT19937_N 624

/* Plain data: copying it forks the stream. */
struct mt19937 {
    uint32_t x[MT19937_N];
    int i;
};

/* Seed as std::mt19937(seed). */
void mt19937_seed(struct mt19937 *g, uint32_t seed);

/* The next 32-bit output (operator()). */
uint32_t mt19937_next(struct mt19937 *g);

/* A draw in [0, n) as std::uniform_int_distribution<size_t>(0, n - 1)(g) in libstdc++
 * (gcc 11 and later). n must be in 1 .. 2^32. */
uint64_t mt19937_uniform(struct mt19937 *g, uint64_t n);

#ifdef __cplusplus
}
#endif

#endif /* VERIFY_MT19937_H */
