// libFuzzer target: any bytes given as tokenizer.json end in a loaded tokenizer or salvo::Error,
// and a loaded tokenizer encodes a few texts and a pair without crashing.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "text/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The loader reads files; a memfd keeps the fuzzer off the disk.
  static const int fd = memfd_create("tokenizer_json_fuzz", 0);
  if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) return 0;
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  try {
    salvo::Tokenizer tokenizer = salvo::Tokenizer::from_tokenizer_json(path);
    tokenizer.describe();
    salvo::Encoding e;
    for (const char* text : {"", "Hello, world! <mask> [MASK]", "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac 123",
                             "\xff\xfe bad utf-8 \xc3"}) {
      try {
        tokenizer.encode(text, &e);
        tokenizer.encode_pair(text, "second text", &e);
        tokenizer.set_max_length(5);
        tokenizer.encode_pair(text, "second text that is longer", &e);
        tokenizer.set_max_length(0);
      } catch (const salvo::Error&) {
      }
      for (int32_t id : e.ids) {
        if (id < 0 || static_cast<size_t>(id) >= tokenizer.vocab_size()) __builtin_trap();
      }
      if (e.ids.size() != e.type_ids.size()) __builtin_trap();
    }
  } catch (const salvo::Error&) {
  }
  return 0;
}
