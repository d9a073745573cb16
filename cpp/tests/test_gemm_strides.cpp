// mlpcore::sgemm on strided operands (lda, ldb, ldc and ld_act_output larger
// than the width), against a float64 reference computed here, for every ISA
// this CPU runs and on 1 and 2 threads (which must agree bitwise).
//
// Python always hands the GEMM dense arrays; this program is where the row
// strides are exercised: all four transpose combinations, shapes spanning
// several micro-tiles, k blocks and nc blocks (of the tables' default blocks; the
// blocks derived from this CPU's caches may be larger, so CTest also runs it
// under MLPCORE_BLOCKING=kc=40,mc=30,nc=70), on
// every split of the driver (serial, by columns, by rows with B shared, A
// packed or read in place, B read in place), with each epilogue: bias +
// activation, the act_output derivative, b_column_sums, and beta != 0.
//
// Checks, for every product:
// - C within a float32 error bound of the reference (below);
// - C's padding columns (j in [n, ldc)) and a guard after C bitwise untouched;
// - NaN in A's, B's and Y's padding, in a guard after every input and, where
//   beta == 0, in C itself, never reaching the result (nothing outside the
//   operands is read, and beta == 0 does not read C);
// - b_column_sums (n sums of op(B) over k) and the guard after them;
// - 2 threads bitwise equal to 1 thread.
//
// Error bound. Any order of summing k products in float32 (unit roundoff
// u = 2^-24), with FMA or not, errs by at most gamma_k = k u / (1 - k u) times
// the sum of |terms|; the test allows 2 (k + 4) u times |alpha| sum |a||b| +
// |beta| |C0| + |bias| for the pre-activation, that propagated through the
// activation (Lipschitz 1) plus 1e-6 for its float32 evaluation, and for the
// derivative epilogue the same times |act'(Y)| plus the rounding of act'(Y).
// A wrong stride, a dropped or repeated k block or a misplaced tile errs by
// O(1) per element, where the bound is ~1e-2 for k ~ 500.
//
//   cmake -S . -B build/tests -DMLPCORE_PYTHON=OFF -DMLPCORE_TESTS=ON
//   cmake --build build/tests && ctest --test-dir build/tests --output-on-failure
//   build/tests/test_gemm_strides [--isa avx2] [--verbose]
#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "mlpcore/dispatch.h"
#include "mlpcore/gemm.h"
#include "mlpcore/threads.h"

using namespace mlpcore;

namespace {

constexpr std::size_t kGuard = 64;  // floats after every array
constexpr double kU = 1.0 / (1 << 24);

float nan_with(std::uint32_t payload) {
  const std::uint32_t bits = 0x7fc00000u | (payload & 0x3fffffu);
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}
const float kInputPad = nan_with(0x1234);   // must never reach a result
const float kOutputPad = nan_with(0x2345);  // must stay bit for bit

const char* act_name(Activation a) {
  switch (a) {
    case Activation::identity: return "identity";
    case Activation::relu: return "relu";
    case Activation::sigmoid: return "sigmoid";
    case Activation::tanh: return "tanh";
  }
  return "?";
}

double act_ref(Activation a, double x) {
  switch (a) {
    case Activation::identity: return x;
    case Activation::relu: return x > 0 ? x : 0.0;
    case Activation::sigmoid: return 1.0 / (1.0 + std::exp(-x));
    case Activation::tanh: return std::tanh(x);
  }
  return x;
}

double derivative_ref(Activation a, double y) {
  switch (a) {
    case Activation::identity: return 1.0;
    case Activation::relu: return y > 0 ? 1.0 : 0.0;
    case Activation::sigmoid: return y * (1.0 - y);
    case Activation::tanh: return 1.0 - y * y;
  }
  return 1.0;
}

// A rows x cols matrix at row stride ld (>= cols), padding and guard filled with pad.
struct Strided {
  std::size_t rows = 0, cols = 0, ld = 0;
  std::vector<float> data;
  Strided(std::size_t r, std::size_t c, std::size_t pad_cols, float pad)
      : rows(r), cols(c), ld(c + pad_cols), data(r * (c + pad_cols) + kGuard, pad) {}
  float& at(std::size_t i, std::size_t j) { return data[i * ld + j]; }
  float at(std::size_t i, std::size_t j) const { return data[i * ld + j]; }
};

enum class Ep { none, bias_act, act_only, derivative };

struct Case {
  std::size_t m, n, k;
  bool ta, tb;
  float alpha, beta;
  Ep ep;
  Activation act;
  bool column_sums;
  std::size_t pad_a, pad_b, pad_c, pad_y;
};

std::string describe(const Case& c) {
  const char* ep = c.ep == Ep::none ? "none" : c.ep == Ep::bias_act ? "bias+act"
                   : c.ep == Ep::act_only ? "act" : "act_output derivative";
  char buf[320];
  std::snprintf(buf, sizeof buf,
                "m=%zu n=%zu k=%zu trans_a=%d trans_b=%d alpha=%g beta=%g epilogue=%s act=%s "
                "column_sums=%d lda=+%zu ldb=+%zu ldc=+%zu ld_y=+%zu",
                c.m, c.n, c.k, c.ta, c.tb, c.alpha, c.beta, ep, act_name(c.act), c.column_sums,
                c.pad_a, c.pad_b, c.pad_c, c.pad_y);
  return buf;
}

struct Inputs {
  Strided a, b, c0, y;
  std::vector<float> bias;
  std::vector<double> ref, tol, sums_ref, sums_tol;
};

// op(A) * op(B) in float64, with the sums of |terms| for the error bound, and
// B's column sums: computed once per shape and transposition, shared by the
// epilogue variants that follow (each with its own strides and C).
struct Product {
  std::size_t m = 0, n = 0, k = 0;
  bool ta = false, tb = false;
  std::vector<float> a, b;  // stored (untransposed), dense
  std::vector<double> acc, abs_acc, sums, abs_sums;

  bool same_as(const Case& c) const { return m == c.m && n == c.n && k == c.k && ta == c.ta && tb == c.tb; }
};

void compute_product(const Case& c, std::mt19937& gen, Product& pr) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  pr.m = c.m, pr.n = c.n, pr.k = c.k, pr.ta = c.ta, pr.tb = c.tb;
  pr.a.resize(c.m * c.k);
  pr.b.resize(c.k * c.n);
  for (float& x : pr.a) x = normal(gen);
  for (float& x : pr.b) x = normal(gen);
  // Stored shapes: A is m x k (k x m when transposed), B k x n (n x k).
  auto op_a = [&](std::size_t i, std::size_t p) -> double { return c.ta ? pr.a[p * c.m + i] : pr.a[i * c.k + p]; };
  auto op_b = [&](std::size_t p, std::size_t j) -> double { return c.tb ? pr.b[j * c.k + p] : pr.b[p * c.n + j]; };
  std::vector<double> dense_b(c.k * c.n), abs_b(c.k * c.n);  // op(B) and |op(B)|, dense
  pr.sums.assign(c.n, 0.0);
  pr.abs_sums.assign(c.n, 0.0);
  for (std::size_t p = 0; p < c.k; ++p) {
    for (std::size_t j = 0; j < c.n; ++j) {
      dense_b[p * c.n + j] = op_b(p, j);
      abs_b[p * c.n + j] = std::fabs(dense_b[p * c.n + j]);
      pr.sums[j] += dense_b[p * c.n + j];
      pr.abs_sums[j] += abs_b[p * c.n + j];
    }
  }
  pr.acc.assign(c.m * c.n, 0.0);
  pr.abs_acc.assign(c.m * c.n, 0.0);
  for (std::size_t i = 0; i < c.m; ++i) {
    double* acc = pr.acc.data() + i * c.n;
    double* abs_acc = pr.abs_acc.data() + i * c.n;
    for (std::size_t p = 0; p < c.k; ++p) {
      const double aip = op_a(i, p), abs_aip = std::fabs(aip);
      const double* bp = dense_b.data() + p * c.n;
      const double* abs_bp = abs_b.data() + p * c.n;
      for (std::size_t j = 0; j < c.n; ++j) {
        acc[j] += aip * bp[j];
        abs_acc[j] += abs_aip * abs_bp[j];
      }
    }
  }
}

Inputs make_inputs(const Case& c, const Product& pr, std::mt19937& gen) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  Inputs in{Strided(c.ta ? c.k : c.m, c.ta ? c.m : c.k, c.pad_a, kInputPad),
            Strided(c.tb ? c.n : c.k, c.tb ? c.k : c.n, c.pad_b, kInputPad),
            Strided(c.m, c.n, c.pad_c, kOutputPad),
            Strided(c.m, c.n, c.pad_y, kInputPad),
            std::vector<float>(c.n + kGuard, kInputPad),
            {}, {}, {}, {}};
  for (std::size_t i = 0; i < in.a.rows; ++i) {
    for (std::size_t j = 0; j < in.a.cols; ++j) in.a.at(i, j) = pr.a[i * in.a.cols + j];
  }
  for (std::size_t i = 0; i < in.b.rows; ++i) {
    for (std::size_t j = 0; j < in.b.cols; ++j) in.b.at(i, j) = pr.b[i * in.b.cols + j];
  }
  for (std::size_t i = 0; i < c.m; ++i) {
    for (std::size_t j = 0; j < c.n; ++j) {
      // beta == 0 must not read C: NaN there would otherwise show.
      in.c0.at(i, j) = c.beta == 0.0f ? kInputPad : normal(gen);
      float y = normal(gen);
      if (c.act == Activation::sigmoid) y = unit(gen);
      if (c.act == Activation::tanh) y = 2.0f * unit(gen) - 1.0f;
      if (c.act == Activation::relu && (i + j) % 7 == 0) y = 0.0f;  // act'(0) = 0
      in.y.at(i, j) = y;
    }
  }
  for (std::size_t j = 0; j < c.n; ++j) in.bias[j] = normal(gen);

  in.ref.assign(c.m * c.n, 0.0);
  in.tol.assign(c.m * c.n, 0.0);
  const double alpha = c.alpha, beta = c.beta;
  const double gamma = 2.0 * static_cast<double>(c.k + 4) * kU;
  for (std::size_t i = 0; i < c.m; ++i) {
    for (std::size_t j = 0; j < c.n; ++j) {
      const double c0 = beta == 0.0 ? 0.0 : static_cast<double>(in.c0.at(i, j));
      double pre = alpha * pr.acc[i * c.n + j] + beta * c0;
      double bound = std::fabs(alpha) * pr.abs_acc[i * c.n + j] + std::fabs(beta * c0);
      double value = pre, tol;
      if (c.ep == Ep::bias_act || c.ep == Ep::act_only) {
        if (c.ep == Ep::bias_act) {
          pre += in.bias[j];
          bound += std::fabs(in.bias[j]);
        }
        value = act_ref(c.act, pre);
        tol = gamma * bound + (c.act == Activation::sigmoid || c.act == Activation::tanh ? 1e-6 : 0.0) +
              2.0 * kU * std::fabs(value);
      } else if (c.ep == Ep::derivative) {
        const double y = in.y.at(i, j), d = derivative_ref(c.act, y);
        value = pre * d;
        const double d_err = 4.0 * kU * (1.0 + std::fabs(y) + y * y);  // act'(Y) in float32
        tol = gamma * bound * (std::fabs(d) + d_err) + std::fabs(pre) * d_err + 2.0 * kU * std::fabs(value);
      } else {
        tol = gamma * bound + 2.0 * kU * std::fabs(value);
      }
      in.ref[i * c.n + j] = value;
      in.tol[i * c.n + j] = tol + 1e-30;
    }
  }
  if (c.column_sums) {
    in.sums_ref = pr.sums;
    in.sums_tol.resize(c.n);
    for (std::size_t j = 0; j < c.n; ++j) in.sums_tol[j] = gamma * pr.abs_sums[j] + 1e-30;
  }
  return in;
}

struct Result {
  std::vector<float> c, sums;
};

Result run(const Case& c, const Inputs& in) {
  Result r{in.c0.data, std::vector<float>(c.n + kGuard, kOutputPad)};
  Epilogue ep;
  if (c.ep == Ep::bias_act) ep.bias = in.bias.data();
  if (c.ep == Ep::bias_act || c.ep == Ep::act_only || c.ep == Ep::derivative) ep.act = c.act;
  if (c.ep == Ep::derivative) {
    ep.act_output = in.y.data.data();
    ep.ld_act_output = in.y.ld;
  }
  if (c.column_sums) ep.b_column_sums = r.sums.data();
  sgemm(c.ta ? Trans::yes : Trans::no, c.tb ? Trans::yes : Trans::no, c.m, c.n, c.k, c.alpha,
        in.a.data.data(), in.a.ld, in.b.data.data(), in.b.ld, c.beta, r.c.data(), in.c0.ld, ep);
  return r;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

struct Checker {
  int failures = 0;
  double worst = 0.0;  // largest |error| / bound seen

#if defined(__GNUC__)
  __attribute__((format(printf, 3, 4)))
#endif
  void fail(const std::string& where, const char* fmt, ...) {
    if (++failures > 40) return;
    std::fprintf(stderr, "FAIL %s: ", where.c_str());
    va_list args;
    va_start(args, fmt);
    std::vfprintf(stderr, fmt, args);
    va_end(args);
    std::fprintf(stderr, "\n");
  }

  // Reports the first bad element of a product (one line per product).
  void check(const Case& c, const Inputs& in, const Result& r, const std::string& where) {
    const std::size_t ldc = in.c0.ld;
    for (std::size_t i = 0; i < c.m; ++i) {
      for (std::size_t j = 0; j < ldc; ++j) {
        const float got = r.c[i * ldc + j];
        if (j >= c.n) {
          if (!same_bits(got, kOutputPad)) return fail(where, "C padding (%zu, %zu) written: %g", i, j, got);
          continue;
        }
        const double want = in.ref[i * c.n + j], tol = in.tol[i * c.n + j];
        const double err = std::fabs(static_cast<double>(got) - want);
        if (!(err <= tol)) {
          return fail(where, "C(%zu, %zu) = %.9g, reference %.9g (bound %.3g)", i, j, got, want, tol);
        }
        worst = std::max(worst, err / tol);
      }
    }
    for (std::size_t g = c.m * ldc; g < r.c.size(); ++g) {
      if (!same_bits(r.c[g], kOutputPad)) return fail(where, "guard after C, element %zu, written: %g", g - c.m * ldc, r.c[g]);
    }
    if (c.column_sums) {
      for (std::size_t j = 0; j < c.n; ++j) {
        const double err = std::fabs(static_cast<double>(r.sums[j]) - in.sums_ref[j]);
        if (!(err <= in.sums_tol[j])) {
          return fail(where, "b_column_sums[%zu] = %.9g, reference %.9g", j, r.sums[j], in.sums_ref[j]);
        }
        worst = std::max(worst, err / in.sums_tol[j]);
      }
      for (std::size_t g = c.n; g < r.sums.size(); ++g) {
        if (!same_bits(r.sums[g], kOutputPad)) return fail(where, "guard after b_column_sums, element %zu, written: %g", g - c.n, r.sums[g]);
      }
    }
  }
};

// The shapes: each crosses tiles, k blocks or nc blocks of every ISA's table
// (mr x nr: avx512 12 x 32, avx2 6 x 16, generic 4 x 16, neon 8 x 12; the
// tables' kc 256, mc 128..192, nc 2048 or 4096, and the small blocks CTest
// also sets) and lands on a different split of the driver.
struct Shape {
  std::size_t m, n, k;
  const char* why;
};
const Shape kShapes[] = {
    {100, 133, 521, "A in place, columns split over threads, 3 k blocks, split last row tile"},
    {389, 71, 300, "A packed (m > mc, n > 2 nr), rows split with B shared, 2 k blocks"},
    {7, 300, 600, "m <= mr (avx512): B read in place, 3 k blocks"},
    {300, 20, 700, "one column sliver: rows split, A in place, 3 k blocks"},
    {5, 2100, 120, "n > nc (avx2, generic, neon): two column panels"},
    {3, 4200, 90, "n > nc (avx512): two column panels"},
    {50, 40, 270, "two slivers of 32, 2 k blocks"},
    {13, 33, 257, "one past a tile in each dimension, 2 k blocks"},
    {1, 1, 1, "a single element"},
    {17, 29, 0, "k == 0: C = beta * C, then the epilogue"},
};

std::vector<Case> make_cases() {
  std::vector<Case> cases;
  const Activation acts[] = {Activation::relu, Activation::sigmoid, Activation::tanh, Activation::identity};
  const std::size_t pads[][4] = {{7, 5, 3, 9}, {1, 16, 33, 2}, {32, 3, 1, 17}, {13, 29, 16, 1}};
  std::size_t serial = 0;
  for (const Shape& s : kShapes) {
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      // Epilogue variants, each with its own beta and alpha; the activation
      // and the paddings rotate so every combination meets each of them.
      for (int e = 0; e < 5; ++e, ++serial) {
        Case c{};
        c.m = s.m;
        c.n = s.n;
        c.k = s.k;
        c.ta = ta;
        c.tb = tb;
        const std::size_t* pad = pads[serial % 4];
        c.pad_a = pad[0];
        c.pad_b = pad[1];
        c.pad_c = pad[2];
        c.pad_y = pad[3];
        c.act = acts[serial % 3];
        switch (e) {
          case 0:  // plain product, beta = 0 with NaN in C, column sums (the dW + db of backward)
            c.alpha = 1.0f, c.beta = 0.0f, c.ep = Ep::none, c.column_sums = true;
            break;
          case 1:  // forward: bias + activation, accumulating into C
            c.alpha = 0.75f, c.beta = 0.5f, c.ep = Ep::bias_act;
            break;
          case 2:  // activation, no bias, beta = 1
            c.alpha = -1.25f, c.beta = 1.0f, c.ep = Ep::act_only, c.act = acts[(serial + 1) % 3];
            break;
          case 3:  // backward: dZ = (dY W^T) (.) act'(Y), with beta
            c.alpha = 1.0f, c.beta = -0.3f, c.ep = Ep::derivative, c.act = acts[serial % 4];
            break;
          case 4:  // derivative with beta = 0 and column sums together
            c.alpha = 2.0f, c.beta = 0.0f, c.ep = Ep::derivative, c.column_sums = true;
            break;
        }
        cases.push_back(c);
      }
    }
  }
  // alpha == 0: C = beta * C and the epilogue, B's column sums still taken.
  cases.push_back(Case{37, 70, 300, false, true, 0.0f, 0.5f, Ep::bias_act, Activation::tanh, true, 3, 5, 7, 1});
  cases.push_back(Case{37, 70, 300, true, false, 0.0f, 2.0f, Ep::derivative, Activation::sigmoid, true, 1, 2, 3, 4});
  return cases;
}

}  // namespace

int main(int argc, char** argv) {
  std::string only_isa;
  bool verbose = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--isa") && i + 1 < argc) {
      only_isa = argv[++i];
    } else if (!std::strcmp(argv[i], "--verbose")) {
      verbose = true;
    } else {
      std::fprintf(stderr, "usage: %s [--isa NAME] [--verbose]\n", argv[0]);
      return 2;
    }
  }
  std::vector<std::string> isas;
  for (Isa isa : supported_isas()) {
    if (only_isa.empty() || only_isa == isa_name(isa)) isas.push_back(isa_name(isa));
  }
  if (isas.empty()) {
    std::fprintf(stderr, "ISA %s is not supported here\n", only_isa.c_str());
    return 2;
  }
  set_num_threads(2);
  if (max_threads() < 2) {
    std::printf("note: only %d thread available (OpenMP %s); the 2-thread runs use it\n", max_threads(),
                openmp_enabled() ? "on" : "off");
  }

  const std::vector<Case> cases = make_cases();
  std::mt19937 gen(20240613);
  Checker checker;
  std::size_t products = 0;
  try {
    Product product;
    for (const Case& c : cases) {
      if (!product.same_as(c)) compute_product(c, gen, product);
      const Inputs in = make_inputs(c, product, gen);
      for (const std::string& isa : isas) {
        select_isa(isa);
        set_num_threads(1);
        const Result one = run(c, in);
        set_num_threads(2);
        const Result two = run(c, in);
        products += 2;
        const std::string where = isa + ", " + describe(c);
        const int before = checker.failures;
        checker.check(c, in, one, where + ", 1 thread");
        checker.check(c, in, two, where + ", 2 threads");
        if (checker.failures == before &&
            (std::memcmp(one.c.data(), two.c.data(), one.c.size() * sizeof(float)) != 0 ||
             std::memcmp(one.sums.data(), two.sums.data(), one.sums.size() * sizeof(float)) != 0)) {
          ++checker.failures;
          std::fprintf(stderr, "FAIL %s: 1 and 2 threads differ\n", where.c_str());
        }
        if (verbose) std::printf("%s: %s\n", checker.failures == before ? "ok" : "FAILED", where.c_str());
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "FAIL: exception: %s\n", e.what());
    return 1;
  }
  std::printf("%zu products (%zu cases x ISAs", products, cases.size());
  for (const std::string& isa : isas) std::printf(" %s", isa.c_str());
  std::printf(" x 1 and 2 threads); largest error %.3g of the bound\n", checker.worst);
  if (checker.failures) {
    std::fprintf(stderr, "%d failure(s)\n", checker.failures);
    return 1;
  }
  std::printf("all passed\n");
  return 0;
}
