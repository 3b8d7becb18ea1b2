// Reading .safetensors weight files: an 8-byte little-endian header size, a JSON header that maps
// tensor names to dtype, shape and byte range, then the raw data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace salvo {

// Element types the format defines. Weights can be read from kF32, kF16 and kBF16 only.
enum class SafetensorsDtype {
  kF64,
  kF32,
  kF16,
  kBF16,
  kF8E4M3,
  kF8E5M2,
  kI64,
  kI32,
  kI16,
  kI8,
  kU64,
  kU32,
  kU16,
  kU8,
  kBool,
};

// The dtype's name as written in headers ("F32", "BF16", ...).
const char* safetensors_dtype_name(SafetensorsDtype dtype);
// Bytes per element.
size_t safetensors_dtype_size(SafetensorsDtype dtype);

// One tensor as the header describes it. Offsets are relative to the start of the data section.
struct SafetensorsTensor {
  SafetensorsDtype dtype;
  std::vector<int64_t> shape;
  size_t begin = 0;
  size_t end = 0;
  int64_t numel() const;
};

// A memory-mapped, validated .safetensors file. The constructor checks everything the header
// claims against the file (sizes, dtypes, shapes, ranges, overlaps) and throws
// salvo::Error(kModel) naming the file, the tensor and the problem.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::filesystem::path& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // Whether the file holds a tensor of this name.
  bool contains(const std::string& name) const;
  // The header entry of a tensor; throws kModel if absent.
  const SafetensorsTensor& tensor(const std::string& name) const;
  // All tensor names in sorted order.
  std::vector<std::string> names() const;
  // The `__metadata__` string map, empty when absent.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // The tensor converted to float32, row-major. Throws kModel if it is absent, its dtype is not
  // F32/F16/BF16, or its shape differs from `expected_shape`. The tensor's pages of the file
  // mapping are then dropped from the process (they stay in the page cache), so loading a model
  // does not hold the whole file resident besides what it builds from it.
  std::vector<float> to_float(const std::string& name,
                              const std::vector<int64_t>& expected_shape) const;
  // As above without a shape check.
  std::vector<float> to_float(const std::string& name) const;

 private:
  std::filesystem::path path_;
  const uint8_t* map_ = nullptr;
  size_t size_ = 0;
  const uint8_t* data_ = nullptr;  // start of the data section
  std::map<std::string, SafetensorsTensor> tensors_;
  std::map<std::string, std::string> metadata_;
};

// Converts IEEE half and bfloat16 bit patterns to float.
float half_to_float(uint16_t bits);
float bfloat16_to_float(uint16_t bits);

}  // namespace salvo
