// Builds pickles and PyTorch-style zip checkpoints byte by byte for the loader's tests, and finds
// the checkpoints that real PyTorch versions wrote (tests/data/torch_checkpoints/).
#pragma once

#include <zip.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/safetensors.h"

namespace salvo::testing {

// Emits pickle opcodes; each method appends one opcode and returns *this.
class PickleWriter {
 public:
  PickleWriter& proto(int v = 2) { return op(0x80).byte(v); }
  PickleWriter& stop() { return op('.'); }
  PickleWriter& mark() { return op('('); }
  PickleWriter& none() { return op('N'); }
  PickleWriter& boolean(bool v) { return op(v ? 0x88 : 0x89); }
  PickleWriter& integer(int64_t v) {
    if (v >= 0 && v < 256) return op('K').byte(static_cast<uint8_t>(v));
    if (v >= INT32_MIN && v <= INT32_MAX) return op('J').le(static_cast<uint32_t>(v), 4);
    return op(0x8a).byte(8).le(static_cast<uint64_t>(v), 8);
  }
  PickleWriter& str(const std::string& s) { return op('X').le(s.size(), 4).raw(s); }
  PickleWriter& global(const std::string& module, const std::string& name) {
    return op('c').raw(module + "\n" + name + "\n");
  }
  PickleWriter& stack_global(const std::string& module, const std::string& name) {
    return str(module).str(name).op(0x93);
  }
  PickleWriter& tuple() { return op('t'); }
  PickleWriter& empty_tuple() { return op(')'); }
  PickleWriter& empty_dict() { return op('}'); }
  PickleWriter& empty_list() { return op(']'); }
  PickleWriter& setitems() { return op('u'); }
  PickleWriter& setitem() { return op('s'); }
  PickleWriter& appends() { return op('e'); }
  PickleWriter& reduce() { return op('R'); }
  PickleWriter& build() { return op('b'); }
  PickleWriter& persid() { return op('Q'); }
  PickleWriter& put(uint8_t i) { return op('q').byte(i); }
  PickleWriter& get(uint8_t i) { return op('h').byte(i); }
  PickleWriter& op(uint8_t code) { return byte(code); }
  PickleWriter& byte(uint8_t b) {
    bytes_.push_back(static_cast<char>(b));
    return *this;
  }
  PickleWriter& le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) byte(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
  PickleWriter& raw(const std::string& s) {
    bytes_ += s;
    return *this;
  }
  PickleWriter& ints(const std::vector<int64_t>& v) {
    mark();
    for (int64_t x : v) integer(x);
    return tuple();
  }
  // torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()) for a
  // storage ('storage', torch.<type>, key, 'cpu', numel).
  PickleWriter& tensor(const std::string& type, const std::string& key, int64_t numel,
                       int64_t offset, const std::vector<int64_t>& size,
                       const std::vector<int64_t>& stride) {
    global("torch._utils", "_rebuild_tensor_v2").mark();
    mark().str("storage").global("torch", type).str(key).str("cpu").integer(numel).tuple().persid();
    integer(offset).ints(size).ints(stride).boolean(false);
    global("collections", "OrderedDict").empty_tuple().reduce();
    return tuple().reduce();
  }
  const std::string& bytes() const { return bytes_; }
  const uint8_t* data() const { return reinterpret_cast<const uint8_t*>(bytes_.data()); }
  size_t size() const { return bytes_.size(); }

 private:
  std::string bytes_;
};

// A state dict pickle {name: tensor, ...} from tensor descriptions.
struct TensorSpec {
  std::string name;
  std::string type;  // "FloatStorage", ...
  std::string key;
  int64_t numel;
  int64_t offset;
  std::vector<int64_t> size;
  std::vector<int64_t> stride;
};

inline PickleWriter state_dict_pickle(const std::vector<TensorSpec>& tensors) {
  PickleWriter w;
  w.proto().empty_dict().mark();
  for (const auto& t : tensors)
    w.str(t.name).tensor(t.type, t.key, t.numel, t.offset, t.size, t.stride);
  return w.setitems().stop();
}

// Writes a zip archive of uncompressed records, as torch.save lays them out.
inline void write_zip(const std::filesystem::path& path,
                      const std::map<std::string, std::string>& records,
                      zip_int32_t method = ZIP_CM_STORE) {
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  if (z == nullptr) throw std::runtime_error("zip_open failed");
  for (const auto& [name, data] : records) {
    // libzip keeps the source until zip_close, so the buffer is copied and freed by libzip.
    void* copy = std::malloc(data.size() + 1);
    std::memcpy(copy, data.data(), data.size());
    zip_source_t* src = zip_source_buffer(z, copy, data.size(), 1);
    const zip_int64_t index = zip_file_add(z, name.c_str(), src, ZIP_FL_ENC_UTF_8);
    if (index < 0) throw std::runtime_error("zip_file_add failed");
    zip_set_file_compression(z, static_cast<zip_uint64_t>(index), method, 0);
  }
  if (zip_close(z) != 0) throw std::runtime_error("zip_close failed");
}

// A torch-style checkpoint: archive/data.pkl, archive/data/<key> for each storage, archive/version.
inline void write_torch_zip(const std::filesystem::path& path, const std::string& pickle,
                            const std::map<std::string, std::string>& storages,
                            std::map<std::string, std::string> extra = {},
                            zip_int32_t method = ZIP_CM_STORE) {
  std::map<std::string, std::string> records = std::move(extra);
  records["archive/data.pkl"] = pickle;
  records["archive/version"] = "3\n";
  for (const auto& [key, data] : storages) records["archive/data/" + key] = data;
  write_zip(path, records, method);
}

inline std::string floats(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The raw little-endian bytes of one tensor of a safetensors file.
inline std::vector<uint8_t> safetensors_raw(const SafetensorsFile& file, const std::string& name) {
  const std::string all = read_file(file.path());
  uint64_t header = 0;
  for (int i = 7; i >= 0; --i) header = (header << 8) | static_cast<uint8_t>(all[i]);
  const SafetensorsTensor& t = file.tensor(name);
  const char* begin = all.data() + 8 + header + t.begin;
  return std::vector<uint8_t>(begin, begin + (t.end - t.begin));
}

// The folders of checkpoints written by real PyTorch versions: the committed ones, plus those of
// SALVO_TORCH_FIXTURES (colon-separated), which the torch_checkpoint_writers test fills with the
// installed PyTorch versions' output.
inline std::vector<std::string> torch_fixture_dirs() {
  std::vector<std::string> dirs = {
      std::string(SALVO_TEST_DATA_DIR) + "/torch_checkpoints/torch1.13",
      std::string(SALVO_TEST_DATA_DIR) + "/torch_checkpoints/torch2"};
  if (const char* env = std::getenv("SALVO_TORCH_FIXTURES")) {
    std::stringstream list(env);
    std::string dir;
    while (std::getline(list, dir, ':')) {
      if (!dir.empty()) dirs.push_back(dir);
    }
  }
  return dirs;
}

}  // namespace salvo::testing
