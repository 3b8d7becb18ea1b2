// Facts about the machine the job runs on.
#pragma once

namespace salvo {

// Cores this process may run on (its CPU affinity mask), at least 1.
int available_cores();

}  // namespace salvo
