// libFuzzer target: any bytes given to the Parquet reader end in values or salvo::Error.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/parquet/parquet_file_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The reader works on files; a memfd keeps the fuzzer off the disk.
  static const int fd = memfd_create("parquet_fuzz", 0);
  if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) return 0;
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  try {
    salvo::parquet::ReaderOptions options;
    options.max_column_bytes = 64u << 20;
    static const auto pool = std::make_shared<salvo::parquet::PageBufferPool>(64u << 20);
    options.buffer_pool = pool;
    salvo::parquet::ParquetFileReader reader(path, options);
    std::vector<size_t> leaves;
    for (size_t c = 0; c < reader.columns().size(); ++c) leaves.push_back(c);
    for (size_t g = 0; g < reader.num_row_groups(); ++g) {
      for (size_t leaf : leaves) {
        try {
          // Page by page on this thread, with the UTF-8 check on every other column.
          reader.read_column(g, leaf, leaf % 2 == 0);
        } catch (const salvo::Error&) {
        }
        try {
          // As the source decodes: pages independently (here last first), then joined.
          auto chunk = reader.open_column(g, leaf, true);
          std::vector<salvo::parquet::DecodedPage> pages(chunk->page_count());
          for (size_t p = pages.size(); p-- > 0;) pages[p] = chunk->decode_page(p);
          chunk->assemble(std::move(pages));
        } catch (const salvo::Error&) {
        }
      }
    }
  } catch (const salvo::Error&) {
  }
  return 0;
}
