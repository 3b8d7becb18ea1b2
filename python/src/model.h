// salvo._salvo.Model: a Session over one model, callable from any number of Python threads.
#pragma once

#include <nanobind/nanobind.h>

namespace salvo::python {

void bind_model(nanobind::module_& m);

}  // namespace salvo::python
