// The CPU backend's optimizer update under the divergence rule (see optimizer_update_cpu.cpp).
#pragma once

#include "mlpcore/backend.h"

namespace mlpcore {

void optimizer_update_cpu(const OptimizerUpdate& update, UpdateGuard& guard, Verdict* verdict, Verdict code);

}  // namespace mlpcore
