/* Peak multiply-add throughput of one CPU core in float32 (AVX-512 FMA) and bfloat16 (AVX512-BF16 dot products).

   The ceiling for any bf16 / fp32 speed-up of a compute-bound network on this CPU: a convolution or a linear layer
   cannot run faster than these instructions. Twelve independent accumulator chains hide the latency, so the loop
   runs at the instructions' throughput; time is the process CPU time (a busy machine does not inflate it).

       gcc -O2 -mavx512f -mavx512bf16 -mavx512vl benchmarks/fma_peak.c -o /tmp/fma_peak && /tmp/fma_peak

   FLOPs: vfmadd231ps zmm = 16 multiply-adds = 32 FLOP; vdpbf16ps zmm = 32 bf16 products summed pairwise into
   16 float32 lanes = 64 FLOP.  */
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

#define ITERATIONS 200000000L
#define REPEAT12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define DECLARE(i) __m512 acc##i = _mm512_set1_ps((float)i);
#define RESET(i) acc##i = _mm512_set1_ps((float)i);
#define FMA(i) acc##i = _mm512_fmadd_ps(x, y, acc##i);
#define DPBF16(i) acc##i = _mm512_dpbf16_ps(acc##i, bx, by);
#define SUM(i) total = _mm512_add_ps(total, acc##i);

static double cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    (void)argv;
    /* Inputs depend on argc so the compiler cannot fold the loops away. */
    __m512 x = _mm512_set1_ps(1e-8f * argc), y = _mm512_set1_ps(1.0f), total;
    __m512bh bx = (__m512bh)_mm512_set1_epi16((short)(0x3f80 + argc)), by = (__m512bh)_mm512_set1_epi16(0x3f80);
    REPEAT12(DECLARE)

    double start = cpu_seconds();
    for (long n = 0; n < ITERATIONS; n++) { REPEAT12(FMA) }
    double fp32 = ITERATIONS * 12.0 * 32 / (cpu_seconds() - start);
    total = _mm512_setzero_ps();
    REPEAT12(SUM)
    printf("float32  vfmadd231ps zmm: %6.1f GFLOP/s per core (checksum %g)\n", fp32 / 1e9, _mm512_reduce_add_ps(total));

    REPEAT12(RESET)
    start = cpu_seconds();
    for (long n = 0; n < ITERATIONS; n++) { REPEAT12(DPBF16) }
    double bf16 = ITERATIONS * 12.0 * 64 / (cpu_seconds() - start);
    total = _mm512_setzero_ps();
    REPEAT12(SUM)
    printf("bfloat16 vdpbf16ps  zmm: %6.1f GFLOP/s per core (checksum %g)\n", bf16 / 1e9, _mm512_reduce_add_ps(total));
    printf("peak bf16 / fp32: %.2fx\n", bf16 / fp32);
    return 0;
}
