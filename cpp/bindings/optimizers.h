// The settings of the SGD, Adam, AdamW, RMSprop and Adagrad optimizers from Python
// objects, for every binding that takes them: the types are checked here, the
// ranges by validate() (mlpcore/optimizer_configs.h), so each rule is written once.
#pragma once

#include <pybind11/pybind11.h>

#include "mlpcore/optimizer_configs.h"

namespace mlpcore::bindings {

namespace py = pybind11;

SgdConfig make_sgd_config(const py::handle& lr, const py::handle& momentum, const py::handle& dampening,
                          const py::handle& weight_decay, const py::handle& nesterov);
// betas: a pair (beta1, beta2). Throws TypeError / ValueError naming the argument.
AdamConfig make_adam_config(const py::handle& lr, const py::handle& betas, const py::handle& eps,
                            const py::handle& weight_decay, const py::handle& amsgrad, const py::handle& decoupled);
RmspropConfig make_rmsprop_config(const py::handle& lr, const py::handle& alpha, const py::handle& eps,
                                  const py::handle& weight_decay, const py::handle& momentum,
                                  const py::handle& centered);
AdagradConfig make_adagrad_config(const py::handle& lr, const py::handle& lr_decay, const py::handle& weight_decay,
                                  const py::handle& initial_accumulator_value, const py::handle& eps);

}  // namespace mlpcore::bindings
