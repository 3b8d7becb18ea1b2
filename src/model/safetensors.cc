#include "model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/json_text.h"

namespace salvo {
namespace {

// Headers of real checkpoints are a few hundred KiB; this bound stops a corrupt size field from
// making us parse gigabytes of tensor data as JSON.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

struct DtypeEntry {
  const char* name;
  SafetensorsDtype dtype;
  size_t size;
};

constexpr DtypeEntry kDtypes[] = {
    {"F64", SafetensorsDtype::kF64, 8},        {"F32", SafetensorsDtype::kF32, 4},
    {"F16", SafetensorsDtype::kF16, 2},        {"BF16", SafetensorsDtype::kBF16, 2},
    {"F8_E4M3", SafetensorsDtype::kF8E4M3, 1}, {"F8_E5M2", SafetensorsDtype::kF8E5M2, 1},
    {"I64", SafetensorsDtype::kI64, 8},        {"I32", SafetensorsDtype::kI32, 4},
    {"I16", SafetensorsDtype::kI16, 2},        {"I8", SafetensorsDtype::kI8, 1},
    {"U64", SafetensorsDtype::kU64, 8},        {"U32", SafetensorsDtype::kU32, 4},
    {"U16", SafetensorsDtype::kU16, 2},        {"U8", SafetensorsDtype::kU8, 1},
    {"BOOL", SafetensorsDtype::kBool, 1},
};

std::string shape_string(const std::vector<int64_t>& shape) {
  std::ostringstream out;
  out << '[';
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << ']';
  return out.str();
}

}  // namespace

const char* safetensors_dtype_name(SafetensorsDtype dtype) {
  for (const auto& e : kDtypes) {
    if (e.dtype == dtype) return e.name;
  }
  return "?";
}

size_t safetensors_dtype_size(SafetensorsDtype dtype) {
  for (const auto& e : kDtypes) {
    if (e.dtype == dtype) return e.size;
  }
  return 0;
}

int64_t SafetensorsTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

float half_to_float(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1fu;
  uint32_t mantissa = bits & 0x3ffu;
  uint32_t out;
  if (exponent == 0x1f) {
    out = sign | 0x7f800000u | (mantissa << 13);  // inf or nan
  } else if (exponent != 0) {
    out = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    out = sign;
  } else {
    // Subnormal half: shift the mantissa up until its leading one is the implicit bit.
    uint32_t e = 113;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --e;
    }
    out = sign | (e << 23) | ((mantissa & 0x3ffu) << 13);
  }
  return std::bit_cast<float>(out);
}

float bfloat16_to_float(uint16_t bits) {
  return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16);
}

SafetensorsFile::SafetensorsFile(const std::filesystem::path& path) : path_(path) {
  const std::string where = path.string();
  auto fail = [&](const std::string& why) { throw Error(ErrorCode::kModel, where + ": " + why); };

  const int fd = ::open(where.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(std::string("cannot open weight file: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    fail(std::string("cannot stat weight file: ") + std::strerror(err));
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_ < 8) {
    ::close(fd);
    fail("truncated safetensors file: " + std::to_string(size_) +
         " bytes, shorter than the 8-byte header size field");
  }
  void* map = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_errno = errno;
  ::close(fd);
  if (map == MAP_FAILED) fail(std::string("cannot mmap weight file: ") + std::strerror(map_errno));
  map_ = static_cast<const uint8_t*>(map);

  try {
    uint64_t header_size = 0;
    for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | map_[i];
    if (header_size > size_ - 8) {
      fail("truncated safetensors file: header size " + std::to_string(header_size) +
           " exceeds the " + std::to_string(size_ - 8) + " bytes after the size field");
    }
    if (header_size > kMaxHeaderBytes) {
      fail("safetensors header size " + std::to_string(header_size) + " is implausibly large");
    }
    const char* header_begin = reinterpret_cast<const char*>(map_ + 8);
    nlohmann::json header;
    try {
      header = parse_json_document(std::string_view(header_begin, header_size));
    } catch (const nlohmann::json::exception& e) {
      fail(std::string("safetensors header is not valid JSON: ") + e.what());
    }
    if (!header.is_object()) fail("safetensors header is not a JSON object");
    data_ = map_ + 8 + header_size;
    const size_t data_size = size_ - 8 - header_size;

    for (const auto& [name, entry] : header.items()) {
      if (name == "__metadata__") {
        if (!entry.is_object()) fail("__metadata__ is not a JSON object");
        for (const auto& [key, value] : entry.items()) {
          if (!value.is_string()) fail("__metadata__ value '" + key + "' is not a string");
          metadata_[key] = value.get<std::string>();
        }
        continue;
      }
      const std::string tname = "tensor '" + name + "'";
      if (!entry.is_object()) fail(tname + ": header entry is not a JSON object");
      if (!entry.contains("dtype") || !entry["dtype"].is_string()) {
        fail(tname + ": missing string field 'dtype'");
      }
      const std::string dtype_name = entry["dtype"].get<std::string>();
      const DtypeEntry* dtype = nullptr;
      for (const auto& e : kDtypes) {
        if (dtype_name == e.name) dtype = &e;
      }
      if (dtype == nullptr) fail(tname + ": unknown dtype '" + dtype_name + "'");

      SafetensorsTensor t{dtype->dtype, {}, 0, 0};
      if (!entry.contains("shape") || !entry["shape"].is_array()) {
        fail(tname + ": missing array field 'shape'");
      }
      // Element count with overflow checks, since a corrupt shape could wrap around.
      uint64_t numel = 1;
      for (const auto& d : entry["shape"]) {
        if (!d.is_number_unsigned())
          fail(tname + ": shape " + d.dump() + " is not a list of sizes");
        const uint64_t v = d.get<uint64_t>();
        if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
            (v != 0 && numel > std::numeric_limits<uint64_t>::max() / v)) {
          fail(tname + ": shape " + entry["shape"].dump() + " is too large");
        }
        numel *= v;
        t.shape.push_back(static_cast<int64_t>(v));
      }
      const auto& offsets =
          entry.contains("data_offsets") ? entry["data_offsets"] : nlohmann::json();
      if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
          !offsets[1].is_number_unsigned()) {
        fail(tname + ": 'data_offsets' must be two non-negative integers");
      }
      const uint64_t begin = offsets[0].get<uint64_t>();
      const uint64_t end = offsets[1].get<uint64_t>();
      if (begin > end) {
        fail(tname + ": data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
             "] end before they begin");
      }
      if (end > data_size) {
        fail(tname + ": data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
             "] reach past the end of the data section (" + std::to_string(data_size) +
             " bytes); the file is truncated or corrupt");
      }
      if (numel > std::numeric_limits<uint64_t>::max() / dtype->size ||
          numel * dtype->size != end - begin) {
        fail(tname + ": shape " + shape_string(t.shape) + " x " + dtype_name + " needs " +
             std::to_string(numel * dtype->size) + " bytes but data_offsets span " +
             std::to_string(end - begin));
      }
      t.begin = begin;
      t.end = end;
      tensors_.emplace(name, std::move(t));
    }

    std::vector<std::pair<const std::string*, const SafetensorsTensor*>> by_offset;
    for (const auto& [name, t] : tensors_) {
      if (t.end > t.begin) by_offset.emplace_back(&name, &t);
    }
    std::sort(by_offset.begin(), by_offset.end(),
              [](const auto& a, const auto& b) { return a.second->begin < b.second->begin; });
    for (size_t i = 1; i < by_offset.size(); ++i) {
      if (by_offset[i].second->begin < by_offset[i - 1].second->end) {
        fail("tensors '" + *by_offset[i - 1].first + "' and '" + *by_offset[i].first +
             "' overlap in the data section");
      }
    }
  } catch (...) {
    ::munmap(const_cast<uint8_t*>(map_), size_);
    map_ = nullptr;
    throw;
  }
}

SafetensorsFile::~SafetensorsFile() {
  if (map_ != nullptr) ::munmap(const_cast<uint8_t*>(map_), size_);
}

bool SafetensorsFile::contains(const std::string& name) const { return tensors_.count(name) > 0; }

const SafetensorsTensor& SafetensorsFile::tensor(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) {
    throw Error(ErrorCode::kModel, path_.string() + ": tensor '" + name + "' is missing");
  }
  return it->second;
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size());
  for (const auto& [name, t] : tensors_) out.push_back(name);
  return out;
}

std::vector<float> SafetensorsFile::to_float(const std::string& name,
                                             const std::vector<int64_t>& expected_shape) const {
  const SafetensorsTensor& t = tensor(name);
  if (t.shape != expected_shape) {
    throw Error(ErrorCode::kModel, path_.string() + ": tensor '" + name + "' has shape " +
                                       shape_string(t.shape) + ", expected " +
                                       shape_string(expected_shape));
  }
  return to_float(name);
}

namespace {

// Drops from this process's resident memory the whole pages of the file mapping inside
// [p, p + bytes); the mapping itself stays. The pages stay in the page cache, and a later read
// faults them back in from there: this only stops a converted tensor's bytes from counting in the
// process's resident memory while the rest of the model loads (all-mpnet-base-v2's file is 438 MB
// of float32).
void release_pages(const uint8_t* p, size_t bytes) {
  static const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto begin = (reinterpret_cast<uintptr_t>(p) + page - 1) / page * page;
  const auto end = (reinterpret_cast<uintptr_t>(p) + bytes) / page * page;
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

}  // namespace

std::vector<float> SafetensorsFile::to_float(const std::string& name) const {
  const SafetensorsTensor& t = tensor(name);
  const size_t n = static_cast<size_t>(t.numel());
  std::vector<float> out(n);
  if (n == 0) return out;
  const uint8_t* src = data_ + t.begin;
  // Offsets need not be aligned, so 16-bit values are read with memcpy.
  switch (t.dtype) {
    case SafetensorsDtype::kF32:
      std::memcpy(out.data(), src, n * sizeof(float));
      break;
    case SafetensorsDtype::kF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t bits;
        std::memcpy(&bits, src + 2 * i, 2);
        out[i] = half_to_float(bits);
      }
      break;
    case SafetensorsDtype::kBF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t bits;
        std::memcpy(&bits, src + 2 * i, 2);
        out[i] = bfloat16_to_float(bits);
      }
      break;
    default:
      throw Error(ErrorCode::kModel, path_.string() + ": tensor '" + name + "' has dtype " +
                                         safetensors_dtype_name(t.dtype) +
                                         "; weights must be stored as F32, F16 or BF16");
  }
  release_pages(src, n * safetensors_dtype_size(t.dtype));
  return out;
}

}  // namespace salvo
