// Timing of the GPU SGEMM on device-resident operands, for bench/compare_cuda.py:
// CUDA events around back-to-back calls, so no copy or host overhead is counted.
// Operands are random: a product of zeros can run faster than real data.
#include <vector>

#include "check.cuh"
#include "kernels.cuh"
#include "mlpcore/cuda/backend.h"
#include "mlpcore/random.h"

namespace mlpcore::cuda {

double time_sgemm(Trans trans_a, Trans trans_b, std::size_t m, std::size_t n, std::size_t k, int repeats,
                  bool with_bias, Activation act) {
  require_device();
  if (repeats < 1) repeats = 1;
  const Backend& device = backend();
  DeviceBuffer<float> a(device, 0), b(device, 0), c(device, m * n), bias(device, 0);
  Rng rng(20261126);
  auto random_array = [&](DeviceBuffer<float>& d, std::size_t count) {
    std::vector<float> host(count);
    for (float& v : host) v = rng.uniform(-1.0f, 1.0f);
    d.upload(host.data(), count);
  };
  random_array(a, m * k);
  random_array(b, k * n);
  random_array(bias, n);
  const std::size_t lda = trans_a == Trans::yes ? m : k, ldb = trans_b == Trans::yes ? k : n;
  const Epilogue ep{with_bias ? bias.data() : nullptr, act};
  auto run = [&] { cuda::sgemm(trans_a, trans_b, m, n, k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f, c.data(), n, ep); };
  run();  // warm-up: first launch loads the module
  cudaEvent_t start, stop;
  check(cudaEventCreate(&start), "cudaEventCreate");
  check(cudaEventCreate(&stop), "cudaEventCreate");
  check(cudaEventRecord(start), "cudaEventRecord");
  for (int i = 0; i < repeats; ++i) run();
  check(cudaEventRecord(stop), "cudaEventRecord");
  check(cudaEventSynchronize(stop), "cudaEventSynchronize");
  float ms = 0.0f;
  check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return static_cast<double>(ms) / 1000.0 / repeats;
}

}  // namespace mlpcore::cuda
