// PLACEHOLDER until the format lands; replaced by its implementation.
#include "io/parquet/parquet_source.h"

#include "core/error.h"

namespace salvo {

std::unique_ptr<RowSource> open_parquet_source(const std::string& path, const FieldNames&, const SourceLimits&) {
  throw Error(ErrorCode::kInvalidArgument, std::string(path) + ": this format is not implemented yet");
}

}  // namespace salvo
