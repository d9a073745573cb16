// mlpcore._core: the module definition. Version, exceptions, the build and
// run-time configuration and the process-wide knobs live here; the ops, the
// model and each backend's operations are bound in their own files (see bindings.h).
// Python objects are only created or destroyed with the GIL held; inside a
// released section only raw pointers are touched.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <exception>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>

#include "args.h"
#include "bindings.h"
#include "busy.h"
#include "mlpcore/dispatch.h"
#include "mlpcore/float_env.h"
#include "mlpcore/gemm_blocking.h"
#include "mlpcore/machine_peak.h"
#include "mlpcore/threads.h"

#include "mlpcore/backend.h"

#ifdef MLPCORE_HAVE_CUDA
#include "mlpcore/cuda/backend.h"
#include "mlpcore/cuda/device.h"
#endif

namespace py = pybind11;
using namespace mlpcore;
using namespace mlpcore::bindings;

namespace {

int max_threads_allowed() {
  const unsigned hw = std::thread::hardware_concurrency();
  return static_cast<int>(std::max(1024u, 16u * hw));
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "mlpcore's native core: kernels, networks and the training loop.";
  m.attr("__version__") = MLPCORE_VERSION;

  // A model used by two threads in conflicting ways (see Use).
  static py::exception<ModelBusy> busy(m, "ModelBusyError", PyExc_RuntimeError);
  // Any other C++ exception reaching Python is a bug in mlpcore, never the
  // user's input: say so instead of showing a bare RuntimeError.
  static py::exception<std::exception> native(m, "NativeError", PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const ModelBusy& e) {
      py::set_error(busy, e.what());
    } catch (const std::bad_alloc&) {
      py::set_error(PyExc_MemoryError, "mlpcore: out of memory");
    } catch (const std::invalid_argument& e) {
      py::set_error(PyExc_ValueError, e.what());
    } catch (const std::length_error& e) {
      py::set_error(PyExc_ValueError, e.what());
    } catch (const std::out_of_range& e) {
      py::set_error(PyExc_ValueError, e.what());
    } catch (const py::builtin_exception&) {
      throw;  // pybind11's own (type_error, value_error, ...) translate themselves
    } catch (const py::error_already_set&) {
      throw;
    } catch (const std::exception& e) {
      py::set_error(native, (std::string("mlpcore internal error (please report it): ") + e.what()).c_str());
    }
  });

  auto blocking_dict = [](const GemmBlocking& b) {
    py::dict d;
    d["mr"] = b.mr;
    d["nr"] = b.nr;
    d["mc"] = b.mc;
    d["kc"] = b.kc;
    d["nc"] = b.nc;
    return d;
  };
  auto caches_dict = [](const CachesInUse& c) {
    py::dict d;
    const auto bytes = [](std::size_t v) { return v ? py::object(py::int_(v)) : py::object(py::none()); };
    d["l1d"] = bytes(c.per_core.l1d);
    d["l2"] = bytes(c.per_core.l2);
    d["l3"] = bytes(c.per_core.l3);
    d["source"] = c.source;
    d["distrusted"] = c.distrusted;
    return d;
  };
  m.def("config", [blocking_dict, caches_dict]() {
    py::dict d;
    d["version"] = MLPCORE_VERSION;
    d["isa"] = isa_name(kernels().isa);
    d["cpu"] = cpu_model_name();
    py::list isas;
    py::list emulated;
    for (Isa isa : supported_isas()) {
      isas.append(isa_name(isa));
      if (isa_emulated(isa)) emulated.append(isa_name(isa));
    }
    d["isas"] = isas;
    d["emulated_isas"] = emulated;  // run in software, for tests: never a fast build
    d["threads"] = max_threads();
    d["openmp"] = openmp_enabled();
    d["serial_after_fork"] = serial_after_fork();
    d["flush_denormal"] = flush_denormal();
    py::dict cuda;
#ifdef MLPCORE_HAVE_CUDA
    cuda["compiled"] = true;
    cuda["devices"] = cuda::device_count();
    cuda["name"] = cuda::device_name();
    cuda["unavailable_reason"] = cuda::device_count_error();
#else
    cuda["compiled"] = false;
    cuda["devices"] = 0;
    cuda["name"] = "";
    cuda["unavailable_reason"] = "this build of mlpcore has no CUDA backend";
#endif
    d["cuda"] = cuda;
    const GemmBlocking b = kernels().sgemm_blocking;
    d["gemm_tile"] = py::make_tuple(b.mr, b.nr);
    d["caches"] = caches_dict(cpu_caches());
    py::dict blocking = blocking_dict(b);
    blocking["source"] = blocking_source();
    d["blocking"] = blocking;
    return d;
  }, "Build and run-time configuration: version, ISA in use, the CPU's model name, supported ISAs (and which of them are "
     "emulated in software), threads, OpenMP, whether this is a forked child running serially, subnormal "
     "flushing, CUDA, the caches (a core's share of L1d, L2, L3 in bytes, None where unknown or "
     "implausible) and the GEMM blocking derived from them (mr, nr, mc, kc, nc; MLPCORE_BLOCKING "
     "overrides kc, mc, nc).");
  m.def("_derive_blocking", [blocking_dict, caches_dict](const std::string& isa, std::size_t l1d, std::size_t l2, std::size_t l3,
                               int l2_cores, int l3_cores) {
    Isa which = Isa::generic;
    bool known = false;
    for (Isa i : {Isa::generic, Isa::neon, Isa::avx2, Isa::avx512}) {
      if (isa == isa_name(i)) which = i, known = true;
    }
    if (!known) throw py::value_error("isa: expected 'avx512', 'avx2', 'neon' or 'generic', got '" + isa + "'");
    CacheReport report;
    report.l1d = {l1d, 1};
    report.l2 = {l2, l2_cores};
    report.l3 = {l3, l3_cores};
    report.source = "given";
    const CachesInUse in_use = caches_in_use(report);
    py::dict out;
    out["caches"] = caches_dict(in_use);
    out["blocking"] = blocking_dict(derive_blocking(table_blocking(which), in_use.per_core));
    return out;
  }, py::arg("isa"), py::arg("l1d"), py::arg("l2"), py::arg("l3"), py::arg("l2_cores") = 1,
     py::arg("l3_cores") = 1,
     "For tests: the caches in use and the blocking derived for an ISA's table from the given cache "
     "sizes in bytes (0: unknown) and the cores sharing L2 and L3.");
  m.def("measure_fma_peak", []() {
    const Isa isa = kernels().isa;
    py::gil_scoped_release release;
    return isa_emulated(isa) ? 0.0 : measure_fma_peak(isa);
  }, "FLOP/s of one core at the peak FMA throughput of the ISA in use, measured (about 0.3 s; the "
     "fastest of many short register-only runs). 0.0 where unknown (the portable kernels, an emulated "
     "ISA). For benchmarks, to give figures as a fraction of the machine's peak.");
  m.def("set_flush_denormal", [](const py::handle& enabled) { set_flush_denormal(bool_arg("enabled", enabled)); },
        py::arg("enabled"), "Whether native compute flushes subnormal floats to zero (process-wide, default True).");
  m.def("_float_control", []() { return float_control(); },
        "The calling thread's floating-point control register (MXCSR or FPCR), for tests.");
  m.def("set_isa", [](const py::handle& name) { select_isa(str_arg("name", name)); }, py::arg("name"),
        "Use the kernels of another instruction set this machine supports (for testing and benchmarks).");
  m.def("set_num_threads", [](const py::handle& n) {
    set_num_threads(static_cast<int>(int_arg("n", n, 1, max_threads_allowed())));
  }, py::arg("n"));
  m.def("get_num_threads", &max_threads);

  // A device's runtime failing (a CUDA error): a RuntimeError of its own.
  static py::exception<std::runtime_error> device_error(m, "DeviceError", PyExc_RuntimeError);
#ifdef MLPCORE_HAVE_CUDA
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const cuda::CudaError& e) {
      py::set_error(device_error, e.what());
    }
  });
  if (cuda::device_count() > 0) register_backend(cuda::backend());  // device="cuda" where a GPU is present
#endif
  bind_ops(m);
  bind_optimizers(m);
  bind_model(m);
  bind_optimizer_state(m);
  bind_full_batch(m);
  bind_backend_ops(m);
}
