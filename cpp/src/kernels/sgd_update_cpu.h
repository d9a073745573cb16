// The CPU backend's checked SGD update (see sgd_update_cpu.cpp).
#pragma once

#include "mlpcore/backend.h"

namespace mlpcore {

void sgd_update_cpu(const SgdUpdate& update, UpdateGuard& guard, Verdict* verdict, Verdict code);

}  // namespace mlpcore
