// Which backends this build has: the CPU always, others once registered.
#include <atomic>
#include <stdexcept>
#include <string>

#include "mlpcore/backend.h"

namespace mlpcore {
namespace {
constexpr int kDevices = 2;
std::atomic<const Backend*> registered[kDevices] = {};
}  // namespace

const char* device_name(Device device) {
  switch (device) {
    case Device::cpu: return "cpu";
    case Device::cuda: return "cuda";
  }
  return "unknown";
}

void register_backend(const Backend& backend) {
  registered[static_cast<int>(backend.device)].store(&backend);
}

bool has_backend(Device device) {
  return device == Device::cpu || registered[static_cast<int>(device)].load() != nullptr;
}

const Backend& backend_for(Device device) {
  if (device == Device::cpu) return cpu_backend();
  const Backend* b = registered[static_cast<int>(device)].load();
  if (!b) throw std::invalid_argument(std::string("device: this build of mlpcore has no '") + device_name(device) +
                                      "' backend");
  return *b;
}

}  // namespace mlpcore
