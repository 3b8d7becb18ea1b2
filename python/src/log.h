// The library's log messages, delivered to Python's logging (logger "salvo").
//
// The library reports from its own threads, which must not call into Python while a Python thread
// may be waiting on them without the GIL. So the callback only queues a message; the queue is
// emitted by a Python thread (holding the GIL) when a call into salvo returns.
#pragma once

#include "salvo/types.h"

namespace salvo::python {

// A callback that queues messages (thread-safe, never blocks on Python).
LogCallback queue_log_callback();
// Emits the queued messages through logging.getLogger("salvo"). Call with the GIL held.
void flush_log();

}  // namespace salvo::python
