// libFuzzer target: any bytes given to the Parquet reader end in values or salvo::Error.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "io/parquet/parquet_file_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The reader works on files; a memfd keeps the fuzzer off the disk.
  static const int fd = memfd_create("parquet_fuzz", 0);
  if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) return 0;
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  try {
    salvo::parquet::ParquetFileReader reader(path, salvo::parquet::ReaderOptions{64u << 20});
    std::vector<size_t> leaves;
    for (size_t c = 0; c < reader.columns().size(); ++c) leaves.push_back(c);
    for (size_t g = 0; g < reader.num_row_groups(); ++g) {
      for (size_t leaf : leaves) {
        try {
          reader.read_column(g, leaf);
        } catch (const salvo::Error&) {
        }
      }
    }
  } catch (const salvo::Error&) {
  }
  return 0;
}
