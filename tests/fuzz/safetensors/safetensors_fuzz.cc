// libFuzzer target: any bytes given to the safetensors reader end in tensors or salvo::Error, and
// converting every tensor stays inside the file.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "model/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The reader memory-maps files; a memfd keeps the fuzzer off the disk.
  static const int fd = memfd_create("safetensors_fuzz", 0);
  if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) return 0;
  try {
    salvo::SafetensorsFile file("/proc/self/fd/" + std::to_string(fd));
    for (const std::string& name : file.names()) {
      try {
        file.to_float(name);
      } catch (const salvo::Error&) {
      }
    }
  } catch (const salvo::Error&) {
  }
  return 0;
}
