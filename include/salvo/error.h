// salvo::Error, the one exception type for failures that end a job or a call.
//
// A bad record is not an Error: it becomes a per-row status (see io/record.h) and the job goes on.
#pragma once

#include "salvo/export.h"

#include <stdexcept>
#include <string>

namespace salvo {

// What kind of failure ended the job; the CLI maps each to an exit code.
enum class ErrorCode {
  kInvalidArgument,  // a flag, option or argument the user gave is wrong
  kIo,               // a file or stream could not be read or written
  kModel,            // a model folder, config or weight file is missing, corrupt or unsupported
  kBackend,          // a compute library (oneDNN, OpenBLAS) failed
  kTimeout,          // an operation did not finish in its allotted time
  kCancelled,        // the job was stopped (signal, closed queue)
  kInternal,         // a bug: an invariant did not hold
};

// Short lower-case name of a code, as printed before the message ("model error: ...").
SALVO_API const char* error_code_name(ErrorCode code);

class SALVO_API Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace salvo
