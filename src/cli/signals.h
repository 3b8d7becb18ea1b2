// SIGINT and SIGTERM: the first asks the running job or service to stop cleanly (it finishes or
// abandons its work, removes its temporary files and returns); a second ends the process at once.
#pragma once

#include <atomic>

namespace salvo::cli {

// Installs the handlers (once) and returns the flag they set.
const std::atomic<bool>& install_stop_handlers();

}  // namespace salvo::cli
