// Native GEMM benchmark (no Python): GFLOP/s of mlpcore::sgemm on the squares
// and the products of a 784-512-256-10 MLP training step (the eight it runs,
// and the first layer's input gradient, which it does not), and the fraction
// of this CPU's peak FMA throughput, which it measures with a register-only
// FMA loop (the ceiling any micro-kernel can reach), together with the
// micro-kernel alone on L1-resident panels. It first prints the CPU model, the
// caches as the GEMM uses them and the blocking derived from them.
//
// The training-step products carry the epilogues the network gives them: the
// forward product adds the bias (and a hidden layer's ReLU), the weight
// gradient X^T dZ takes the column sums of dZ (the bias gradient), and a hidden
// layer's input gradient dZ W^T multiplies by ReLU' of the layer below (the
// first layer's, which training does not need, has none). --plain drops them,
// for figures comparable with a library's bare matmul.
//
//   cmake -S . -B build/bench -DMLPCORE_BENCH=ON -DMLPCORE_PYTHON=OFF && cmake --build build/bench
//   OMP_NUM_THREADS=1 build/bench/mlpcore_bench [--max-n 2048] [--isa avx2] [--only "b32"] [--plain]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <ctime>
#include <vector>

#include "mlpcore/aligned_buffer.h"
#include "mlpcore/cpu_caches.h"
#include "mlpcore/dispatch.h"
#include "mlpcore/gemm.h"
#include "mlpcore/machine_peak.h"
#include "mlpcore/threads.h"

using namespace mlpcore;
using Clock = std::chrono::steady_clock;

namespace {

// With one thread, time the calling thread's CPU clock: on a busy shared host
// it leaves out the time other processes hold the core (wall time otherwise).
bool g_cpu_clock = false;

double now_seconds() {
  if (g_cpu_clock) {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
  }
  return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}

// Median (or with quantile 0, the fastest) of repeated timings of f.
template <class F>
double median_seconds(F&& f, double budget_s = 0.3, int min_reps = 5, int max_reps = 2000,
                      double quantile = 0.5) {
  f();  // warm up
  std::vector<double> t;
  const auto start = Clock::now();
  while (static_cast<int>(t.size()) < max_reps) {
    const double t0 = now_seconds();
    f();
    t.push_back(now_seconds() - t0);
    if (static_cast<int>(t.size()) >= min_reps &&
        std::chrono::duration<double>(Clock::now() - start).count() > budget_s) {
      break;
    }
  }
  std::sort(t.begin(), t.end());
  return t[static_cast<std::size_t>(quantile * static_cast<double>(t.size() - 1))];
}

// The micro-kernel alone, on packed panels that stay in L1: its cycles per FMA
// relative to the FMA loop tell how well it keeps the pipes busy.
double microkernel_flops(const KernelTable& kt, std::size_t kc) {
  const GemmBlocking bl = kt.sgemm_blocking;
  AlignedBuffer a(bl.mr * kc), b(bl.nr * kc), c(bl.mr * bl.nr);
  for (std::size_t i = 0; i < bl.mr * kc; ++i) a.data()[i] = 1e-3f * static_cast<float>(i % 7);
  for (std::size_t i = 0; i < bl.nr * kc; ++i) b.data()[i] = 1e-3f * static_cast<float>(i % 5);
  const int reps = 2000;
  const double s = median_seconds([&] {
    for (int r = 0; r < reps; ++r) {
      kt.sgemm_ukr(kc, a.data(), 1, bl.mr, b.data(), bl.nr, c.data(), bl.nr, bl.mr, bl.nr, 1.0f, 1.0f,
                   nullptr);
    }
  }, 0.3, 5, 2000, 0.0);
  return 2.0 * bl.mr * bl.nr * kc * reps / s;
}

// The epilogue a product of the training step carries in the network.
enum class Fused { none, bias, bias_relu, column_sums, relu_derivative };

const char* fused_name(Fused f) {
  switch (f) {
    case Fused::bias: return "+bias";
    case Fused::bias_relu: return "+bias,relu";
    case Fused::column_sums: return "+colsums";
    case Fused::relu_derivative: return "*relu'";
    case Fused::none: break;
  }
  return "";
}

struct Case {
  std::string label;
  std::size_t m, n, k;
  bool ta, tb;
  std::size_t batch;  // of the training step; 0 for the squares
  Fused fused;
  bool in_step = true;  // false: the first layer's input gradient, which training does not compute
};

double time_case(const Case& cs) {
  AlignedBuffer a(cs.m * cs.k), b(cs.k * cs.n), c(cs.m * cs.n), bias(cs.n), sums(cs.n), y(cs.m * cs.n);
  for (std::size_t i = 0; i < cs.m * cs.k; ++i) a.data()[i] = static_cast<float>((i * 7) % 13) - 6.0f;
  for (std::size_t i = 0; i < cs.k * cs.n; ++i) b.data()[i] = static_cast<float>((i * 5) % 11) - 5.0f;
  for (std::size_t i = 0; i < cs.n; ++i) bias.data()[i] = 0.25f * static_cast<float>(i % 3);
  for (std::size_t i = 0; i < cs.m * cs.n; ++i) y.data()[i] = static_cast<float>(i % 3);  // a ReLU output
  Epilogue ep;
  if (cs.fused == Fused::bias || cs.fused == Fused::bias_relu) ep.bias = bias.data();
  if (cs.fused == Fused::bias_relu) ep.act = Activation::relu;
  if (cs.fused == Fused::column_sums) ep.b_column_sums = sums.data();
  if (cs.fused == Fused::relu_derivative) {
    ep.act = Activation::relu;
    ep.act_output = y.data();
    ep.ld_act_output = cs.n;
  }
  const std::size_t lda = cs.ta ? cs.m : cs.k, ldb = cs.tb ? cs.k : cs.n;
  // Calls in runs of about 5 MFLOP, so that reading the clock (a system call
  // for the thread's CPU time) stays out of a small product's time.
  const int calls = std::max(1, static_cast<int>(5e6 / (2.0 * cs.m * cs.n * cs.k)));
  return median_seconds([&] {
    for (int r = 0; r < calls; ++r) {
      sgemm(cs.ta ? Trans::yes : Trans::no, cs.tb ? Trans::yes : Trans::no, cs.m, cs.n, cs.k, 1.0f,
            a.data(), lda, b.data(), ldb, 0.0f, c.data(), cs.n, ep);
    }
  }) / calls;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t max_n = 2048;
  std::string only;  // run only products whose label contains this
  bool plain = false;  // the training-step products without their epilogues
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--max-n") && i + 1 < argc) max_n = std::strtoul(argv[++i], nullptr, 10);
    if (!std::strcmp(argv[i], "--isa") && i + 1 < argc) select_isa(argv[++i]);
    if (!std::strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
    if (!std::strcmp(argv[i], "--plain")) plain = true;
  }
  const KernelTable& kt = kernels();
  const int threads = max_threads();
  g_cpu_clock = threads == 1;
  const double peak1 = isa_emulated(kt.isa) ? 0.0 : measure_fma_peak(kt.isa);
  const double peak = peak1 * threads;
  {
    const std::string model = cpu_model_name();
    const CachesInUse& caches = cpu_caches();
    const GemmBlocking& bl = kt.sgemm_blocking;
    std::printf("cpu %s; caches (a core's share, %s): L1d %zu KiB, L2 %zu KiB, L3 %zu KiB\n",
                model.c_str(), caches.source.c_str(), caches.per_core.l1d / 1024,
                caches.per_core.l2 / 1024, caches.per_core.l3 / 1024);
    for (const std::string& why : caches.distrusted) std::printf("  distrusted: %s\n", why.c_str());
    std::printf("blocking (%s): mr %d, nr %d, mc %d, kc %d, nc %d\n", blocking_source(), bl.mr, bl.nr,
                bl.mc, bl.kc, bl.nc);
  }
  std::printf("isa %s, tile %dx%d, threads %d, clock: %s\n", isa_name(kt.isa), kt.sgemm_blocking.mr,
              kt.sgemm_blocking.nr, threads, g_cpu_clock ? "thread CPU time" : "wall");
  if (peak1 > 0) {
    std::printf("measured FMA peak: %.1f GFLOP/s per core, %.1f on %d threads\n", peak1 / 1e9,
                peak / 1e9, threads);
  }
  const double ukr = microkernel_flops(kt, kt.sgemm_blocking.kc);
  std::printf("micro-kernel alone (kc=%d, L1-resident): %.1f GFLOP/s", kt.sgemm_blocking.kc, ukr / 1e9);
  if (peak1 > 0) std::printf(" = %.0f%% of one core's peak", 100.0 * ukr / peak1);
  std::printf("\n\n%-34s %5s %5s %5s %9s %7s\n", "product", "m", "n", "k", "GFLOP/s", "% peak");

  std::vector<Case> cases;
  for (std::size_t n = 64; n <= max_n; n *= 2) {
    cases.push_back({"square " + std::to_string(n), n, n, n, false, false, 0, Fused::none});
  }
  const std::size_t dims[] = {784, 512, 256, 10};
  for (std::size_t batch : {32, 128, 512}) {
    for (int l = 0; l < 3; ++l) {
      const std::size_t in = dims[l], out = dims[l + 1];
      const std::string tag = std::to_string(in) + "->" + std::to_string(out) + " b" + std::to_string(batch);
      const Fused fwd = plain ? Fused::none : l == 2 ? Fused::bias : Fused::bias_relu;
      const Fused wgrad = plain ? Fused::none : Fused::column_sums;
      const Fused igrad = plain || l == 0 ? Fused::none : Fused::relu_derivative;
      cases.push_back({tag + " X.W", batch, out, in, false, false, batch, fwd});
      cases.push_back({tag + " Xt.dY", in, out, batch, true, false, batch, wgrad});
      cases.push_back({tag + " dY.Wt", batch, in, out, false, true, batch, igrad, l > 0});
    }
  }
  double step_time = 0.0;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const Case& cs = cases[i];
    if (!only.empty() && cs.label.find(only) == std::string::npos) continue;
    const double s = time_case(cs);
    const double flops = 2.0 * cs.m * cs.n * cs.k;
    const std::string label = cs.label + (cs.fused == Fused::none ? "" : " " + std::string(fused_name(cs.fused)));
    std::printf("%-34s %5zu %5zu %5zu %9.1f", label.c_str(), cs.m, cs.n, cs.k, flops / s / 1e9);
    if (peak > 0) std::printf(" %6.0f%%", 100.0 * flops / s / peak);
    std::printf("\n");
    if (cs.batch != 0) {
      if (cs.in_step) step_time += s;
      if (i + 1 == cases.size() || cases[i + 1].batch != cs.batch) {
        std::printf("  the eight products of a training step at batch %zu: %.0f us, %.0f samples/s\n", cs.batch,
                    step_time * 1e6, static_cast<double>(cs.batch) / step_time);
        step_time = 0.0;
      }
    }
  }
  return 0;
}
