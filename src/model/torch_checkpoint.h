// Reading PyTorch's `torch.save` files (pytorch_model.bin) without Python and without running any
// of the pickle they contain.
//
// Two layouts exist. Since PyTorch 1.6 the file is a zip archive: `<name>/data.pkl` is the pickled
// state dict, each tensor storage is a separate (usually uncompressed) record `<name>/data/<key>`,
// and `<name>/version` (plus `byteorder` in newer versions) describe it. Before that ("legacy") the
// file is a sequence of pickles (a magic number, the protocol version, system information, the
// state dict, the list of storage keys) followed by each storage as an 8-byte element count and its
// raw bytes. Both are read here; the pickles go through the restricted reader (pickle_reader.h)
// with an allowlist of the globals a state dict needs.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/safetensors.h"

namespace salvo {

// One storage a checkpoint's tensors share: a flat array of `numel` elements of `dtype`.
struct TorchStorage {
  std::string key;  // the record name in the archive (zip) or the storage's id (legacy)
  SafetensorsDtype dtype = SafetensorsDtype::kF32;
  int64_t numel = 0;
};

// One tensor: a strided view into a storage. Offsets and strides count elements.
struct TorchTensor {
  SafetensorsDtype dtype = SafetensorsDtype::kF32;
  std::vector<int64_t> shape;
  std::vector<int64_t> stride;
  int64_t offset = 0;  // into the storage, in elements
  size_t storage = 0;  // index into TorchStateDict::storages
  int64_t numel() const;
  bool contiguous() const;
};

// The tensors of a state dict and the storages they view. Names of nested dicts are joined with
// '.' ({"model": {"w": t}} gives "model.w"); values that are not tensors or dicts (step counters,
// strings, lists) are skipped.
struct TorchStateDict {
  std::vector<TorchStorage> storages;
  std::map<std::string, TorchTensor> tensors;
};

// Reads a state dict from the bytes of a pickle (a zip checkpoint's data.pkl, or the state dict
// pickle of a legacy file). Validates every tensor against its storage's bounds. `where` prefixes
// error messages. When `consumed` is not null it receives the pickle's length. Throws
// salvo::Error(kModel) on anything but a plain state dict.
TorchStateDict read_torch_state_dict(const uint8_t* data, size_t size, const std::string& where,
                                     size_t* consumed = nullptr);

// A pytorch_model.bin, zip or legacy, validated when opened: the pickle is read, every storage
// record is located and its size checked, and every tensor's view checked against its storage.
// Tensor data is read on demand.
class TorchCheckpoint {
 public:
  explicit TorchCheckpoint(const std::filesystem::path& path);
  ~TorchCheckpoint();
  TorchCheckpoint(const TorchCheckpoint&) = delete;
  TorchCheckpoint& operator=(const TorchCheckpoint&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // True for the pre-1.6 layout.
  bool legacy_format() const;
  bool contains(const std::string& name) const;
  // Throws kModel if absent.
  const TorchTensor& tensor(const std::string& name) const;
  // All tensor names, sorted.
  std::vector<std::string> names() const;

  // The tensor's elements in its own dtype, row-major and contiguous (views are copied out).
  std::vector<uint8_t> read_bytes(const std::string& name) const;
  // The tensor as float32, row-major; F32, F16 and BF16 only. Throws kModel if it is absent, holds
  // another dtype, or has another shape than `expected_shape` (when given).
  std::vector<float> to_float(const std::string& name,
                              const std::vector<int64_t>& expected_shape) const;
  std::vector<float> to_float(const std::string& name) const;

 private:
  class Source;
  class ZipSource;
  // Writes the tensor's elements, contiguous, to `out` (numel x element size bytes).
  void read_into(const TorchTensor& t, uint8_t* out) const;
  class LegacySource;

  std::filesystem::path path_;
  TorchStateDict dict_;
  std::unique_ptr<Source> source_;
};

}  // namespace salvo
