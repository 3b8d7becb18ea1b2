// The library's version, exported so that a loader can ask which libsalvo it has.
#include "salvo/export.h"

namespace salvo {

SALVO_API const char* library_version() { return "0.2.0"; }

}  // namespace salvo
