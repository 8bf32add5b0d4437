#pragma once
// The system BLAS's single-precision matrix product, found at run time: Debian's libblas.so.3 is whatever BLAS
// the alternatives system points at (OpenBLAS when libopenblas0 is installed, else the slow reference BLAS).
// Looked up with dlopen, so nothing links against a BLAS and a machine without one still trains (on the lean
// kernels alone).
#include <string>

namespace sweeplab::blas {

// cblas_sgemm: C = alpha op(A) op(B) + beta C. The CBLAS constants are plain ints here, so no BLAS header is needed.
using Sgemm = void (*)(int order, int trans_a, int trans_b, int m, int n, int k, float alpha, const float* a, int lda,
                       const float* b, int ldb, float beta, float* c, int ldc);
constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;

struct Library {
  Sgemm sgemm = nullptr;  // nullptr: no libblas.so.3 with cblas_sgemm here
  bool openblas = false;  // it is OpenBLAS (the only BLAS the lean backend uses by default)
  std::string name;       // "OpenBLAS 0.3.21 ... Haswell", "reference BLAS", or why there is none
};

// libblas.so.3, loaded once. OpenBLAS is set to the threads of set_threads, one unless asked (trials run side by
// side, one core each): each product then runs its sums in an order fixed by the matrices' shapes and the CPU's
// kernel, so a trial's numbers do not depend on where or with whom it runs on one machine.
const Library& system_library();

// OpenBLAS's threads (training.threads): set now when it is loaded, else when it loads.
void set_threads(int threads);

}  // namespace sweeplab::blas
