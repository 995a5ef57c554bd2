/* CBLAS: the system library module for BLAS and LAPACK (OpenBLAS via pkg-config on Linux,
   Accelerate on Apple platforms). */
#include <stddef.h>
#include <cblas.h>

/* LAPACK ships inside OpenBLAS, but Debian's openblas package installs no lapack.h/lapacke.h,
   so the few routines Mechanic calls are declared here (LP64: 32-bit integers; column-major).
   The trailing lengths are gfortran's hidden CHARACTER lengths (ignored by f2c-style builds). */
void dgeev_(const char *jobvl, const char *jobvr, const int *n, double *a, const int *lda,
            double *wr, double *wi, double *vl, const int *ldvl, double *vr, const int *ldvr,
            double *work, const int *lwork, int *info, size_t jobvl_len, size_t jobvr_len);
void dgesdd_(const char *jobz, const int *m, const int *n, double *a, const int *lda, double *s,
             double *u, const int *ldu, double *vt, const int *ldvt, double *work, const int *lwork,
             int *iwork, int *info, size_t jobz_len);
