// libFuzzer target: any bytes given to the restricted pickle reader, as a state dict pickle and as
// a whole pytorch_model.bin (zip or legacy), end in tensors or salvo::Error, and reading every
// tensor stays inside its storage.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "model/torch_checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    salvo::read_torch_state_dict(data, size, "fuzz");
  } catch (const salvo::Error&) {
  }
  // The checkpoint reader works on files; a memfd keeps the fuzzer off the disk.
  static const int fd = memfd_create("torch_checkpoint_fuzz", 0);
  if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) return 0;
  try {
    salvo::TorchCheckpoint bin("/proc/self/fd/" + std::to_string(fd));
    for (const std::string& name : bin.names()) {
      try {
        bin.read_bytes(name);
        bin.to_float(name);
      } catch (const salvo::Error&) {
      }
    }
  } catch (const salvo::Error&) {
  }
  return 0;
}
