// The system BLAS as the lean backend uses it (src/engine/blas.hpp): found at run time, and, single-threaded, a
// product's bytes depend on the matrices' values and shapes only, not on where they lie in memory (the lean
// backend's determinism across groups, segments and resumes rests on this).
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "engine/blas.hpp"

namespace sweeplab {
namespace {

std::vector<float> values(std::size_t count, std::uint64_t seed) {
  std::vector<float> out(count);
  for (auto& v : out) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    v = float(double(seed >> 40) / double(1ULL << 24)) * 2.0f - 1.0f;
  }
  return out;
}

// C = op(A) op(B) (row-major), with A, B and C placed `shift` floats into buffers of their own.
std::vector<float> product(blas::Sgemm sgemm, bool trans_a, bool trans_b, int m, int k, int n, const std::vector<float>& a,
                           const std::vector<float>& b, std::size_t shift) {
  std::vector<float> a_at(shift + a.size()), b_at(shift + b.size()), c_at(shift + std::size_t(m * n), -7.0f);
  std::memcpy(a_at.data() + shift, a.data(), sizeof(float) * a.size());
  std::memcpy(b_at.data() + shift, b.data(), sizeof(float) * b.size());
  sgemm(blas::kRowMajor, trans_a ? blas::kTrans : blas::kNoTrans, trans_b ? blas::kTrans : blas::kNoTrans, m, n, k,
        1.0f, a_at.data() + shift, trans_a ? m : k, b_at.data() + shift, trans_b ? k : n, 0.0f, c_at.data() + shift, n);
  return {c_at.begin() + std::ptrdiff_t(shift), c_at.end()};
}

TEST(Blas, AProductsBytesDoNotDependOnWhereItsMatricesLie) {
  const auto& library = blas::system_library();
  if (!library.sgemm) GTEST_SKIP() << "no system BLAS: " << library.name;
  EXPECT_FALSE(library.name.empty());
  // The lean backend's three products of a layer 25 -> 100 at a batch of 300 rows, and a wide one, 784 -> 128.
  struct Shape {
    bool trans_a, trans_b;
    int m, k, n;
  };
  for (const Shape& s : {Shape{false, false, 300, 25, 100}, Shape{false, true, 300, 100, 25},
                         Shape{true, false, 25, 300, 100}, Shape{false, false, 1000, 784, 128}}) {
    const auto a = values(std::size_t(s.m * s.k), 1), b = values(std::size_t(s.k * s.n), 2);
    const auto reference = product(library.sgemm, s.trans_a, s.trans_b, s.m, s.k, s.n, a, b, 0);
    // Not a copy of the inputs: an entry is the sum it should be, to float tolerance.
    double want = 0.0;
    for (int j = 0; j < s.k; ++j) {
      const float x = s.trans_a ? a[std::size_t(j * s.m)] : a[std::size_t(j)];
      const float y = s.trans_b ? b[std::size_t(j)] : b[std::size_t(j * s.n)];
      want += double(x) * double(y);
    }
    EXPECT_NEAR(reference[0], want, 1e-4 * s.k);
    for (const std::size_t shift : {1, 3, 5, 8, 16}) {
      const auto moved = product(library.sgemm, s.trans_a, s.trans_b, s.m, s.k, s.n, a, b, shift);
      EXPECT_EQ(std::memcmp(moved.data(), reference.data(), sizeof(float) * reference.size()), 0)
          << s.m << "x" << s.k << "x" << s.n << " at an offset of " << shift << " floats";
    }
  }
}

TEST(Blas, OpenBlasRunsTheThreadsAskedForBeforeAndAfterItLoads) {
  blas::set_threads(2);  // asked before the library is loaded: applied when it loads
  const auto& library = blas::system_library();
  if (!library.openblas) GTEST_SKIP() << "the system BLAS is not OpenBLAS: " << library.name;
  void* handle = dlopen("libblas.so.3", RTLD_NOW | RTLD_NOLOAD);
  ASSERT_NE(handle, nullptr);
  using GetThreads = int (*)();
  const auto threads = reinterpret_cast<GetThreads>(dlsym(handle, "openblas_get_num_threads"));
  ASSERT_NE(threads, nullptr);
  EXPECT_EQ(threads(), 2);
  blas::set_threads(1);
  EXPECT_EQ(threads(), 1);
  dlclose(handle);
}

}  // namespace
}  // namespace sweeplab
