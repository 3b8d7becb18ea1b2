// PLACEHOLDER until the format lands; replaced by its implementation.
#include "io/parquet/parquet_sink.h"

#include "core/error.h"

namespace salvo {

std::unique_ptr<RowSink> open_parquet_sink(const std::filesystem::path& path, const OutputSchema&) {
  throw Error(ErrorCode::kInvalidArgument, std::string(path) + ": this format is not implemented yet");
}

}  // namespace salvo
