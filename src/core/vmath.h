/* Lets GCC vectorise loops that call expf/logf/log1pf/sinf/cosf/exp/log1p: glibc's libmvec has
 * SIMD versions of them, but <math.h> announces those only under -ffast-math, which we do not want
 * (it would also let the compiler drop NaN checks).  Declaring the same functions with the simd
 * attribute gives the vector calls without any other fast-math licence.  Include after <math.h>. */
#ifndef EBM_VMATH_H
#define EBM_VMATH_H

#include <math.h>

#if defined(__x86_64__) && defined(__GLIBC__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__FAST_MATH__) && !defined(EBM_NO_LIBMVEC)
#define EBM_SIMD_DECL __attribute__((simd("notinbranch")))
EBM_SIMD_DECL extern float expf(float);
EBM_SIMD_DECL extern float logf(float);
EBM_SIMD_DECL extern float sinf(float);
EBM_SIMD_DECL extern float cosf(float);
EBM_SIMD_DECL extern double exp(double);
EBM_SIMD_DECL extern double log(double);
#if __GLIBC_PREREQ(2, 35)
EBM_SIMD_DECL extern float log1pf(float);
EBM_SIMD_DECL extern double log1p(double);
#endif
#endif

#endif
