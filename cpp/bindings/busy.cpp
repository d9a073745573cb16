// The concurrent-use guard (see busy.h).
#include "busy.h"

#include <mutex>
#include <string>
#include <unordered_map>

namespace mlpcore::bindings {

namespace {

std::mutex& mutex() {
  static auto* m = new std::mutex;  // never destroyed: used until the very end
  return *m;
}

std::unordered_map<const void*, int>& counts() {
  static auto* c = new std::unordered_map<const void*, int>;
  return *c;
}

}  // namespace

Use::Use(const void* object, bool exclusive, const char* what) : object_(object) {
  std::lock_guard<std::mutex> lock(mutex());
  int& count = counts()[object];
  if (exclusive ? count != 0 : count < 0) {
    if (count == 0) counts().erase(object);
    throw ModelBusy(std::string(what) +
                    (exclusive ? ": the model is in use by another thread (fit, predict or evaluate); "
                                 "it can only be trained or changed while nothing else uses it"
                               : ": the model is being trained or changed by another thread; "
                                 "wait for fit to return"));
  }
  count = exclusive ? -1 : count + 1;
}

Use::~Use() {
  std::lock_guard<std::mutex> lock(mutex());
  auto it = counts().find(object_);
  if (it->second <= 1) {
    counts().erase(it);
  } else {
    --it->second;
  }
}

}  // namespace mlpcore::bindings
