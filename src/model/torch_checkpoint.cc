#include "model/torch_checkpoint.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <mutex>
#include <set>
#include <sstream>

#include "core/error.h"
#include "model/pickle_reader.h"

namespace salvo {
namespace {

namespace fs = std::filesystem;

// Real data.pkl records are a few KiB to a few MiB (about 100 bytes per tensor); this bound stops a
// corrupt size from reading gigabytes as a pickle.
constexpr uint64_t kMaxPickleBytes = uint64_t{64} << 20;
// Tensors of more dimensions than this do not occur in checkpoints (PyTorch's own limit is 64).
constexpr size_t kMaxRank = 64;
// Nesting of dicts inside the state dict ({"model": {"encoder": {...}}}).
constexpr int kMaxDictDepth = 32;

struct StorageType {
  const char* name;
  SafetensorsDtype dtype;
};

// The typed storage classes `torch.save` writes, and the dtype of their elements. Complex and
// quantized storages are deliberately absent: no encoder checkpoint needs them.
constexpr StorageType kStorageTypes[] = {
    {"DoubleStorage", SafetensorsDtype::kF64}, {"FloatStorage", SafetensorsDtype::kF32},
    {"HalfStorage", SafetensorsDtype::kF16},   {"BFloat16Storage", SafetensorsDtype::kBF16},
    {"LongStorage", SafetensorsDtype::kI64},   {"IntStorage", SafetensorsDtype::kI32},
    {"ShortStorage", SafetensorsDtype::kI16},  {"CharStorage", SafetensorsDtype::kI8},
    {"ByteStorage", SafetensorsDtype::kU8},    {"BoolStorage", SafetensorsDtype::kBool},
};

const StorageType* storage_type(const std::string& global) {
  for (const auto& t : kStorageTypes) {
    if (global == std::string("torch.") + t.name) return &t;
  }
  return nullptr;
}

bool is_untyped_storage(const std::string& global) {
  return global == "torch.UntypedStorage" || global == "torch.storage.UntypedStorage";
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::ostringstream out;
  out << '[';
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << ']';
  return out.str();
}

// a * b and a + b for non-negative int64, false on overflow.
bool mul_ok(int64_t a, int64_t b, int64_t* out) { return !__builtin_mul_overflow(a, b, out); }
bool add_ok(int64_t a, int64_t b, int64_t* out) { return !__builtin_add_overflow(a, b, out); }

// A storage as a tensor sees it: a root storage, or (legacy files only) a slice of one.
struct StorageRef {
  size_t root = 0;
  int64_t offset = 0;
  int64_t numel = 0;
};

// The allowlist and the meaning of the few globals a state dict uses.
class TorchHooks : public PickleHooks {
 public:
  explicit TorchHooks(const std::string& where) : where_(where) {}

  bool allows_global(const std::string& module, const std::string& name) const override {
    if (module == "collections") return name == "OrderedDict";
    if (module == "torch._utils") {
      return name == "_rebuild_tensor" || name == "_rebuild_tensor_v2" ||
             name == "_rebuild_parameter" || name == "_rebuild_parameter_with_state";
    }
    if (module == "torch")
      return storage_type("torch." + name) != nullptr || name == "UntypedStorage";
    if (module == "torch.storage") return name == "UntypedStorage";
    return false;
  }

  PickleValue* call(const std::string& callable, const PickleValue& args,
                    PickleArena& arena) override {
    if (callable == "collections.OrderedDict") return ordered_dict(args, arena);
    if (callable == "torch._utils._rebuild_tensor_v2") {
      if (args.items.size() != 6 && args.items.size() != 7) arity(callable, args, "6 or 7");
      return rebuild_tensor(callable, args, arena);
    }
    if (callable == "torch._utils._rebuild_tensor") {
      if (args.items.size() != 4) arity(callable, args, "4");
      return rebuild_tensor(callable, args, arena);
    }
    if (callable == "torch._utils._rebuild_parameter" ||
        callable == "torch._utils._rebuild_parameter_with_state") {
      // A Parameter is its tensor plus autograd flags (and, with state, Python attributes).
      const size_t want = callable == "torch._utils._rebuild_parameter" ? 3 : 4;
      if (args.items.size() != want) arity(callable, args, std::to_string(want));
      PickleValue* data = args.items[0];
      if (!is_object(*data, "tensor")) {
        fail(callable + " of " + describe_pickle_value(*data) + " instead of a tensor");
      }
      return data;
    }
    fail(callable + " cannot be called");
  }

  PickleValue* persistent_load(const PickleValue& pid, PickleArena& arena) override {
    // ('storage', storage_type, key, location, numel) and, in legacy files, a sixth item:
    // None or (view_key, offset, view_numel) for a slice of the storage.
    if (pid.kind != PickleKind::kTuple || (pid.items.size() != 5 && pid.items.size() != 6) ||
        pid.items[0]->kind != PickleKind::kString || pid.items[0]->text != "storage") {
      fail("persistent id " + describe_pickle_value(pid) + " is not a storage reference");
    }
    const PickleValue& type = *pid.items[1];
    const PickleValue& key = *pid.items[2];
    const PickleValue& location = *pid.items[3];
    const PickleValue& numel = *pid.items[4];
    if (type.kind != PickleKind::kGlobal) fail("storage type " + describe_pickle_value(type));
    SafetensorsDtype dtype = SafetensorsDtype::kU8;
    if (const StorageType* t = storage_type(type.text)) {
      dtype = t->dtype;
    } else if (!is_untyped_storage(type.text)) {
      fail(type.text + " is not a storage type");
    }
    if (key.kind != PickleKind::kString || key.text.empty()) {
      fail("storage key " + describe_pickle_value(key) + " is not a string");
    }
    if (location.kind != PickleKind::kString) {
      fail("storage location " + describe_pickle_value(location) + " is not a string");
    }
    if (numel.kind != PickleKind::kInt || numel.integer < 0) {
      fail("storage '" + key.text + "' has element count " + describe_pickle_value(numel));
    }
    int64_t bytes = 0;
    if (!mul_ok(numel.integer, static_cast<int64_t>(safetensors_dtype_size(dtype)), &bytes)) {
      fail("storage '" + key.text + "' of " + std::to_string(numel.integer) +
           " elements is too large");
    }

    size_t root = 0;
    auto it = roots_.find(key.text);
    if (it == roots_.end()) {
      root = storages_.size();
      storages_.push_back({key.text, dtype, numel.integer});
      roots_.emplace(key.text, root);
    } else {
      root = it->second;
      const TorchStorage& s = storages_[root];
      if (s.dtype != dtype || s.numel != numel.integer) {
        fail("storage '" + key.text + "' is referenced as " + safetensors_dtype_name(dtype) +
             " x " + std::to_string(numel.integer) + " and as " + safetensors_dtype_name(s.dtype) +
             " x " + std::to_string(s.numel));
      }
    }
    StorageRef ref{root, 0, numel.integer};
    if (pid.items.size() == 6 && pid.items[5]->kind != PickleKind::kNone) {
      const PickleValue& view = *pid.items[5];
      if (view.kind != PickleKind::kTuple || view.items.size() != 3 ||
          view.items[1]->kind != PickleKind::kInt || view.items[2]->kind != PickleKind::kInt) {
        fail("storage '" + key.text + "' has view metadata " + describe_pickle_value(view));
      }
      const int64_t offset = view.items[1]->integer;
      const int64_t size = view.items[2]->integer;
      int64_t end = 0;
      if (offset < 0 || size < 0 || !add_ok(offset, size, &end) || end > numel.integer) {
        fail("storage view [" + std::to_string(offset) + ", +" + std::to_string(size) +
             ") lies outside storage '" + key.text + "' of " + std::to_string(numel.integer) +
             " elements");
      }
      ref = {root, offset, size};
    }
    PickleValue* v = arena.make(PickleKind::kObject);
    v->text = "storage";
    v->integer = static_cast<int64_t>(refs_.size());
    refs_.push_back(ref);
    return v;
  }

  std::vector<TorchStorage>& storages() { return storages_; }
  const TorchTensor& tensor_of(const PickleValue& v) const {
    return tensors_[static_cast<size_t>(v.integer)];
  }
  static bool is_object(const PickleValue& v, const char* type) {
    return v.kind == PickleKind::kObject && v.text == type;
  }

  [[noreturn]] void fail(const std::string& why) const {
    throw Error(ErrorCode::kModel, where_ + ": " + why);
  }

 private:
  [[noreturn]] void arity(const std::string& callable, const PickleValue& args,
                          const std::string& want) const {
    fail(callable + " called with " + std::to_string(args.items.size()) + " arguments, expected " +
         want);
  }

  PickleValue* ordered_dict(const PickleValue& args, PickleArena& arena) {
    PickleValue* dict = arena.make(PickleKind::kDict);
    if (args.items.empty()) return dict;
    // OrderedDict([(key, value), ...])
    const PickleValue& pairs = *args.items[0];
    if (args.items.size() != 1 ||
        (pairs.kind != PickleKind::kList && pairs.kind != PickleKind::kTuple)) {
      fail("collections.OrderedDict called with " + describe_pickle_value(args));
    }
    for (const PickleValue* pair : pairs.items) {
      if (pair->kind != PickleKind::kTuple || pair->items.size() != 2) {
        fail("collections.OrderedDict item " + describe_pickle_value(*pair) + " is not a pair");
      }
      dict->items.push_back(pair->items[0]);
      dict->items.push_back(pair->items[1]);
    }
    return dict;
  }

  std::vector<int64_t> int_tuple(const std::string& callable, const PickleValue& v,
                                 const char* what) const {
    if (v.kind != PickleKind::kTuple && v.kind != PickleKind::kList) {
      fail(callable + ": " + what + " is " + describe_pickle_value(v) + ", not a tuple");
    }
    if (v.items.size() > kMaxRank) {
      fail(callable + ": " + what + " has " + std::to_string(v.items.size()) + " dimensions");
    }
    std::vector<int64_t> out;
    for (const PickleValue* d : v.items) {
      if (d->kind != PickleKind::kInt || d->integer < 0) {
        fail(callable + ": " + what + " holds " + describe_pickle_value(*d) +
             ", not a non-negative integer");
      }
      out.push_back(d->integer);
    }
    return out;
  }

  PickleValue* rebuild_tensor(const std::string& callable, const PickleValue& args,
                              PickleArena& arena) {
    const PickleValue& storage = *args.items[0];
    if (!is_object(storage, "storage")) {
      fail(callable + " of " + describe_pickle_value(storage) + " instead of a storage");
    }
    const StorageRef& ref = refs_[static_cast<size_t>(storage.integer)];
    const TorchStorage& root = storages_[ref.root];
    const PickleValue& offset = *args.items[1];
    if (offset.kind != PickleKind::kInt || offset.integer < 0) {
      fail(callable + ": storage offset " + describe_pickle_value(offset));
    }
    TorchTensor t;
    t.dtype = root.dtype;
    t.storage = ref.root;
    t.shape = int_tuple(callable, *args.items[2], "size");
    t.stride = int_tuple(callable, *args.items[3], "stride");
    if (t.shape.size() != t.stride.size()) {
      fail(callable + ": size " + shape_string(t.shape) + " and stride " + shape_string(t.stride) +
           " differ in length");
    }
    const std::string view = "tensor of size " + shape_string(t.shape) + ", stride " +
                             shape_string(t.stride) + " at offset " +
                             std::to_string(offset.integer) + " in storage '" + root.key + "' (" +
                             std::to_string(ref.numel) + " elements)";
    // The last element a view touches must lie inside its storage; a view with more elements
    // than its storage (a broadcast, stride 0) would make the reader allocate unboundedly.
    int64_t numel = 1;
    int64_t last = offset.integer;
    for (size_t i = 0; i < t.shape.size(); ++i) {
      int64_t reach = 0;
      if (!mul_ok(numel, t.shape[i], &numel) ||
          (t.shape[i] > 0 &&
           (!mul_ok(t.shape[i] - 1, t.stride[i], &reach) || !add_ok(last, reach, &last)))) {
        fail(view + " is too large");
      }
    }
    if (numel > 0 && last >= ref.numel) fail(view + " reaches past the end of the storage");
    if (numel == 0 && offset.integer > ref.numel) fail(view + " starts past the storage");
    if (numel > ref.numel)
      fail(view + " has more elements than its storage (broadcast views are not supported)");
    t.offset = ref.offset + offset.integer;

    PickleValue* v = arena.make(PickleKind::kObject);
    v->text = "tensor";
    v->integer = static_cast<int64_t>(tensors_.size());
    tensors_.push_back(std::move(t));
    return v;
  }

  const std::string& where_;
  std::vector<TorchStorage> storages_;
  std::map<std::string, size_t> roots_;
  std::vector<StorageRef> refs_;
  std::vector<TorchTensor> tensors_;
};

// Hooks for the small header pickles of legacy files, which need no global at all.
class PlainHooks : public PickleHooks {
 public:
  explicit PlainHooks(const std::string& where) : where_(where) {}
  bool allows_global(const std::string&, const std::string&) const override { return false; }
  PickleValue* call(const std::string& callable, const PickleValue&, PickleArena&) override {
    throw Error(ErrorCode::kModel, where_ + ": " + callable + " cannot be called");
  }
  PickleValue* persistent_load(const PickleValue&, PickleArena&) override {
    throw Error(ErrorCode::kModel, where_ + ": unexpected persistent id in a header pickle");
  }

 private:
  const std::string& where_;
};

void flatten(const PickleValue& dict, const std::string& prefix, int depth, TorchHooks& hooks,
             std::set<const PickleValue*>& seen, TorchStateDict& out) {
  if (depth > kMaxDictDepth) hooks.fail("dicts nest deeper than " + std::to_string(kMaxDictDepth));
  if (!seen.insert(&dict).second) {
    hooks.fail("the dict at '" + prefix + "' appears twice (a cycle or a shared sub-dict)");
  }
  for (size_t i = 0; i + 1 < dict.items.size(); i += 2) {
    const PickleValue& key = *dict.items[i];
    const PickleValue& value = *dict.items[i + 1];
    std::string name;
    if (key.kind == PickleKind::kString) {
      name = key.text;
    } else if (key.kind == PickleKind::kInt) {
      name = std::to_string(key.integer);
    } else {
      hooks.fail("state dict key " + describe_pickle_value(key) + " is not a string");
    }
    name = prefix.empty() ? name : prefix + "." + name;
    if (TorchHooks::is_object(value, "tensor")) {
      if (!out.tensors.emplace(name, hooks.tensor_of(value)).second) {
        hooks.fail("tensor name '" + name + "' appears twice");
      }
    } else if (value.kind == PickleKind::kDict) {
      flatten(value, name, depth + 1, hooks, seen, out);
    }
  }
}

size_t element_size(SafetensorsDtype dtype) { return safetensors_dtype_size(dtype); }

bool starts_with(const uint8_t* data, size_t size, const char* prefix) {
  const size_t n = std::strlen(prefix);
  return size >= n && std::memcmp(data, prefix, n) == 0;
}

// A read-only memory map that unmaps itself; legacy checkpoints keep it for their lifetime.
class MappedFile {
 public:
  explicit MappedFile(const fs::path& path) {
    const std::string where = path.string();
    const int fd = ::open(where.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      throw Error(ErrorCode::kModel, where + ": cannot open weight file: " + std::strerror(errno));
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      const int err = errno;
      ::close(fd);
      throw Error(ErrorCode::kModel, where + ": cannot stat weight file: " + std::strerror(err));
    }
    size_ = static_cast<size_t>(st.st_size);
    if (size_ > 0) {
      void* map = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      const int err = errno;
      ::close(fd);
      if (map == MAP_FAILED) {
        throw Error(ErrorCode::kModel, where + ": cannot mmap weight file: " + std::strerror(err));
      }
      data_ = static_cast<const uint8_t*>(map);
    } else {
      ::close(fd);
    }
  }
  ~MappedFile() {
    if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace

int64_t TorchTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

bool TorchTensor::contiguous() const {
  int64_t expected = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    if (shape[i] != 1 && stride[i] != expected) return false;
    expected *= shape[i];
  }
  return true;
}

TorchStateDict read_torch_state_dict(const uint8_t* data, size_t size, const std::string& where,
                                     size_t* consumed) {
  TorchHooks hooks(where);
  PickleArena arena;
  const PickleResult result = read_pickle(data, size, hooks, arena, where);
  if (consumed != nullptr) *consumed = result.consumed;
  const PickleValue& top = *result.value;
  if (TorchHooks::is_object(top, "tensor")) {
    hooks.fail("holds a single tensor, not a state dict");
  }
  if (top.kind != PickleKind::kDict) {
    hooks.fail("holds " + describe_pickle_value(top) + ", not a state dict");
  }
  TorchStateDict out;
  std::set<const PickleValue*> seen;
  flatten(top, "", 0, hooks, seen, out);
  out.storages = std::move(hooks.storages());
  return out;
}

// Where the bytes of the storages come from.
class TorchCheckpoint::Source {
 public:
  virtual ~Source() = default;
  virtual bool legacy() const = 0;
  // Copies `length` bytes of storage `index`, starting `offset` bytes into it.
  virtual void read(size_t index, uint64_t offset, uint64_t length, uint8_t* out) const = 0;
};

// A zip checkpoint, read through libzip. Records are opened per read; a mutex serialises reads,
// since a libzip archive handle is not thread-safe.
class TorchCheckpoint::ZipSource : public Source {
 public:
  ZipSource(const fs::path& path, TorchStateDict& dict) : where_(path.string()) {
    int err = 0;
    archive_ = zip_open(where_.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &err);
    if (archive_ == nullptr) {
      zip_error_t error;
      zip_error_init_with_code(&error, err);
      const std::string why = zip_error_strerror(&error);
      zip_error_fini(&error);
      fail("cannot open as a zip archive: " + why);
    }
    try {
      open(dict);
    } catch (...) {
      zip_discard(archive_);
      throw;
    }
  }
  ~ZipSource() override { zip_discard(archive_); }

  bool legacy() const override { return false; }

  void read(size_t index, uint64_t offset, uint64_t length, uint8_t* out) const override {
    std::lock_guard<std::mutex> lock(mutex_);
    const zip_uint64_t entry = entries_[index];
    zip_file_t* file = zip_fopen_index(archive_, entry, 0);
    if (file == nullptr)
      fail("cannot open record " + name_of(entry) + ": " + zip_strerror(archive_));
    try {
      if (offset > 0 && zip_fseek(file, static_cast<zip_int64_t>(offset), SEEK_SET) != 0) {
        // Compressed records cannot seek: read up to the offset instead.
        std::vector<uint8_t> skip(1 << 16);
        uint64_t left = offset;
        while (left > 0) {
          const uint64_t n = std::min<uint64_t>(left, skip.size());
          read_exactly(file, entry, skip.data(), n);
          left -= n;
        }
      }
      read_exactly(file, entry, out, length);
    } catch (...) {
      zip_fclose(file);
      throw;
    }
    zip_fclose(file);
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw Error(ErrorCode::kModel, where_ + ": " + why);
  }

  std::string name_of(zip_uint64_t entry) const {
    const char* name = zip_get_name(archive_, entry, ZIP_FL_ENC_RAW);
    return name == nullptr ? "#" + std::to_string(entry) : std::string("'") + name + "'";
  }

  void read_exactly(zip_file_t* file, zip_uint64_t entry, uint8_t* out, uint64_t length) const {
    while (length > 0) {
      const zip_int64_t n = zip_fread(file, out, length);
      if (n < 0) fail("cannot read record " + name_of(entry) + ": " + zip_file_strerror(file));
      if (n == 0) fail("record " + name_of(entry) + " ends early");
      out += n;
      length -= static_cast<uint64_t>(n);
    }
  }

  zip_uint64_t stat_size(zip_uint64_t entry) const {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(archive_, entry, 0, &st) != 0 || (st.valid & ZIP_STAT_SIZE) == 0) {
      fail("cannot stat record " + name_of(entry) + ": " + zip_strerror(archive_));
    }
    return st.size;
  }

  void open(TorchStateDict& dict) {
    // The records sit in one top-level folder whose name varies ("archive", the file's stem);
    // data.pkl marks it.
    const zip_int64_t count = zip_get_num_entries(archive_, 0);
    std::string prefix;
    int found = 0;
    for (zip_int64_t i = 0; i < count; ++i) {
      const char* raw = zip_get_name(archive_, static_cast<zip_uint64_t>(i), ZIP_FL_ENC_RAW);
      if (raw == nullptr) continue;
      const std::string name = raw;
      const size_t slash = name.find('/');
      if (slash != std::string::npos && slash > 0 &&
          name.compare(slash, std::string::npos, "/data.pkl") == 0) {
        prefix = name.substr(0, slash + 1);
        ++found;
      }
    }
    if (found == 0) fail("zip archive has no <folder>/data.pkl record: not a PyTorch checkpoint");
    if (found > 1) fail("zip archive has " + std::to_string(found) + " data.pkl records");

    const zip_int64_t order =
        zip_name_locate(archive_, (prefix + "byteorder").c_str(), ZIP_FL_ENC_RAW);
    if (order >= 0) {
      const std::string text = read_record(static_cast<zip_uint64_t>(order), 16);
      if (text != "little") {
        fail("byteorder record says '" + text + "'; only little-endian checkpoints are supported");
      }
    }

    const zip_int64_t pkl =
        zip_name_locate(archive_, (prefix + "data.pkl").c_str(), ZIP_FL_ENC_RAW);
    const std::string pickle = read_record(static_cast<zip_uint64_t>(pkl), kMaxPickleBytes);
    dict = read_torch_state_dict(reinterpret_cast<const uint8_t*>(pickle.data()), pickle.size(),
                                 where_ + " (" + prefix + "data.pkl)");

    for (const TorchStorage& s : dict.storages) {
      const std::string record = prefix + "data/" + s.key;
      const zip_int64_t entry = zip_name_locate(archive_, record.c_str(), ZIP_FL_ENC_RAW);
      if (entry < 0) fail("storage record '" + record + "' is missing");
      int64_t want = 0;
      if (!mul_ok(s.numel, static_cast<int64_t>(element_size(s.dtype)), &want)) {
        fail("storage '" + s.key + "' is too large");
      }
      // torch.save stores records uncompressed. Refusing anything else keeps every read bounded
      // by the file's own size: a small compressed record cannot claim gigabytes of tensor data.
      zip_stat_t st;
      zip_stat_init(&st);
      if (zip_stat_index(archive_, static_cast<zip_uint64_t>(entry), 0, &st) != 0 ||
          (st.valid & ZIP_STAT_COMP_METHOD) == 0 || st.comp_method != ZIP_CM_STORE) {
        fail("storage record '" + record +
             "' is compressed; PyTorch stores tensor data "
             "uncompressed, and only such records are read");
      }
      const zip_uint64_t have = stat_size(static_cast<zip_uint64_t>(entry));
      if (have != static_cast<zip_uint64_t>(want)) {
        fail("storage record '" + record + "' holds " + std::to_string(have) + " bytes, but " +
             std::to_string(s.numel) + " x " + safetensors_dtype_name(s.dtype) + " need " +
             std::to_string(want));
      }
      entries_.push_back(static_cast<zip_uint64_t>(entry));
    }
  }

  // A whole small record.
  std::string read_record(zip_uint64_t entry, uint64_t max_bytes) const {
    const zip_uint64_t size = stat_size(entry);
    if (size > max_bytes) {
      fail("record " + name_of(entry) + " is " + std::to_string(size) + " bytes, more than " +
           std::to_string(max_bytes));
    }
    std::string out(static_cast<size_t>(size), '\0');
    zip_file_t* file = zip_fopen_index(archive_, entry, 0);
    if (file == nullptr)
      fail("cannot open record " + name_of(entry) + ": " + zip_strerror(archive_));
    try {
      read_exactly(file, entry, reinterpret_cast<uint8_t*>(out.data()), size);
    } catch (...) {
      zip_fclose(file);
      throw;
    }
    zip_fclose(file);
    return out;
  }

  std::string where_;
  zip_t* archive_ = nullptr;
  std::vector<zip_uint64_t> entries_;  // per storage
  mutable std::mutex mutex_;
};

// A legacy checkpoint, memory-mapped: the pickles at the start, then the storages' raw bytes.
class TorchCheckpoint::LegacySource : public Source {
 public:
  LegacySource(const fs::path& path, std::unique_ptr<MappedFile> file, TorchStateDict& dict)
      : where_(path.string()), file_(std::move(file)), map_(file_->data()), size_(file_->size()) {
    PlainHooks plain(where_);
    PickleArena arena(1 << 16);
    size_t pos = 0;
    auto next = [&]() -> const PickleValue& {
      const PickleResult r = read_pickle(map_ + pos, size_ - pos, plain, arena, where_);
      pos += r.consumed;
      return *r.value;
    };
    // 0x1950a86a20f9469cfc6c, PyTorch's magic number, as LONG1 bytes (little-endian).
    static const std::string kMagic("\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 10);
    const PickleValue& magic = next();
    if (magic.kind != PickleKind::kBigInt || magic.text != kMagic) {
      fail("starts with a pickle but not with PyTorch's magic number: not a PyTorch checkpoint");
    }
    const PickleValue& version = next();
    if (version.kind != PickleKind::kInt || version.integer != 1001) {
      fail("legacy format version " + describe_pickle_value(version) +
           " is not supported (1001 is)");
    }
    const PickleValue& info = next();
    if (info.kind != PickleKind::kDict)
      fail("system information is " + describe_pickle_value(info));
    for (size_t i = 0; i + 1 < info.items.size(); i += 2) {
      const PickleValue& key = *info.items[i];
      const PickleValue& value = *info.items[i + 1];
      if (key.kind == PickleKind::kString && key.text == "little_endian" &&
          !(value.kind == PickleKind::kBool && value.boolean)) {
        fail("was written on a big-endian machine; only little-endian checkpoints are supported");
      }
    }
    size_t consumed = 0;
    dict = read_torch_state_dict(map_ + pos, size_ - pos, where_, &consumed);
    pos += consumed;

    const PickleValue& keys = next();
    if (keys.kind != PickleKind::kList) fail("storage key list is " + describe_pickle_value(keys));
    std::map<std::string, size_t> index;
    for (size_t i = 0; i < dict.storages.size(); ++i) index.emplace(dict.storages[i].key, i);
    offsets_.assign(dict.storages.size(), std::numeric_limits<uint64_t>::max());
    for (const PickleValue* key : keys.items) {
      if (key->kind != PickleKind::kString) fail("storage key " + describe_pickle_value(*key));
      auto it = index.find(key->text);
      if (it == index.end())
        fail("storage '" + key->text + "' has data but no tensor refers to it");
      const TorchStorage& s = dict.storages[it->second];
      if (offsets_[it->second] != std::numeric_limits<uint64_t>::max()) {
        fail("storage '" + key->text + "' is listed twice");
      }
      if (size_ - pos < 8) fail("truncated before the data of storage '" + key->text + "'");
      int64_t count = 0;
      std::memcpy(&count, map_ + pos, 8);
      pos += 8;
      if (count != s.numel) {
        fail("storage '" + key->text + "' has " + std::to_string(count) +
             " elements in the file, " + std::to_string(s.numel) + " in the pickle");
      }
      int64_t bytes = 0;
      if (!mul_ok(s.numel, static_cast<int64_t>(element_size(s.dtype)), &bytes) ||
          static_cast<uint64_t>(bytes) > size_ - pos) {
        fail("truncated in the data of storage '" + key->text + "' (" + std::to_string(s.numel) +
             " x " + safetensors_dtype_name(s.dtype) + ")");
      }
      offsets_[it->second] = pos;
      pos += static_cast<size_t>(bytes);
    }
    for (size_t i = 0; i < offsets_.size(); ++i) {
      if (offsets_[i] == std::numeric_limits<uint64_t>::max()) {
        fail("storage '" + dict.storages[i].key + "' has no data");
      }
    }
    if (pos != size_) {
      fail(std::to_string(size_ - pos) + " unexpected bytes after the last storage");
    }
  }

  bool legacy() const override { return true; }

  void read(size_t index, uint64_t offset, uint64_t length, uint8_t* out) const override {
    std::memcpy(out, map_ + offsets_[index] + offset, length);
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw Error(ErrorCode::kModel, where_ + ": " + why);
  }

  std::string where_;
  std::unique_ptr<MappedFile> file_;
  const uint8_t* map_;
  size_t size_;
  std::vector<uint64_t> offsets_;  // per storage, into the file
};

TorchCheckpoint::TorchCheckpoint(const fs::path& path) : path_(path) {
  const std::string where = path.string();
  auto file = std::make_unique<MappedFile>(path);
  const uint8_t* data = file->data();
  const size_t size = file->size();
  if (starts_with(data, size, "PK\x03\x04") || starts_with(data, size, "PK\x05\x06")) {
    file.reset();  // libzip reads the file itself
    source_ = std::make_unique<ZipSource>(path, dict_);
    return;
  }
  if (size >= 2 && data[0] == 0x80 && data[1] >= 2 && data[1] <= 5) {
    source_ = std::make_unique<LegacySource>(path, std::move(file), dict_);
    return;
  }
  if (starts_with(data, size, "version https://git-lfs")) {
    throw Error(ErrorCode::kModel, where +
                                       ": is a Git LFS pointer, not the weights; fetch them "
                                       "with `git lfs pull`");
  }
  if (size >= 262 && std::memcmp(data + 257, "ustar", 5) == 0) {
    throw Error(ErrorCode::kModel, where +
                                       ": is a tar-format checkpoint (PyTorch before 0.4), "
                                       "which is not supported; re-save it with a newer PyTorch");
  }
  throw Error(ErrorCode::kModel, where +
                                     ": is not a PyTorch checkpoint (neither a zip archive nor "
                                     "a legacy pickle stream)");
}

TorchCheckpoint::~TorchCheckpoint() = default;

bool TorchCheckpoint::legacy_format() const { return source_->legacy(); }

bool TorchCheckpoint::contains(const std::string& name) const {
  return dict_.tensors.count(name) > 0;
}

const TorchTensor& TorchCheckpoint::tensor(const std::string& name) const {
  auto it = dict_.tensors.find(name);
  if (it == dict_.tensors.end()) {
    throw Error(ErrorCode::kModel, path_.string() + ": tensor '" + name + "' is missing");
  }
  return it->second;
}

std::vector<std::string> TorchCheckpoint::names() const {
  std::vector<std::string> out;
  out.reserve(dict_.tensors.size());
  for (const auto& [name, t] : dict_.tensors) out.push_back(name);
  return out;
}

void TorchCheckpoint::read_into(const TorchTensor& t, uint8_t* out) const {
  const size_t elem = element_size(t.dtype);
  const int64_t numel = t.numel();
  if (numel == 0) return;
  if (t.contiguous()) {
    source_->read(t.storage, static_cast<uint64_t>(t.offset) * elem,
                  static_cast<uint64_t>(numel) * elem, out);
    return;
  }
  // A view: read the span of the storage it touches once, then gather its elements in order.
  int64_t span = 1;
  for (size_t i = 0; i < t.shape.size(); ++i) span += (t.shape[i] - 1) * t.stride[i];
  std::vector<uint8_t> window(static_cast<size_t>(span) * elem);
  source_->read(t.storage, static_cast<uint64_t>(t.offset) * elem, window.size(), window.data());
  const size_t rank = t.shape.size();
  std::vector<int64_t> index(rank, 0);
  int64_t at = 0;  // element offset of `index` within the window
  for (int64_t n = 0; n < numel; ++n) {
    std::memcpy(out + static_cast<size_t>(n) * elem, window.data() + static_cast<size_t>(at) * elem,
                elem);
    for (size_t d = rank; d-- > 0;) {
      if (++index[d] < t.shape[d]) {
        at += t.stride[d];
        break;
      }
      at -= (t.shape[d] - 1) * t.stride[d];
      index[d] = 0;
    }
  }
}

std::vector<uint8_t> TorchCheckpoint::read_bytes(const std::string& name) const {
  const TorchTensor& t = tensor(name);
  std::vector<uint8_t> out(static_cast<size_t>(t.numel()) * element_size(t.dtype));
  read_into(t, out.data());
  return out;
}

std::vector<float> TorchCheckpoint::to_float(const std::string& name,
                                             const std::vector<int64_t>& expected_shape) const {
  const TorchTensor& t = tensor(name);
  if (t.shape != expected_shape) {
    throw Error(ErrorCode::kModel, path_.string() + ": tensor '" + name + "' has shape " +
                                       shape_string(t.shape) + ", expected " +
                                       shape_string(expected_shape));
  }
  return to_float(name);
}

std::vector<float> TorchCheckpoint::to_float(const std::string& name) const {
  const TorchTensor& t = tensor(name);
  if (t.dtype != SafetensorsDtype::kF32 && t.dtype != SafetensorsDtype::kF16 &&
      t.dtype != SafetensorsDtype::kBF16) {
    throw Error(ErrorCode::kModel, path_.string() + ": tensor '" + name + "' has dtype " +
                                       safetensors_dtype_name(t.dtype) +
                                       "; weights must be stored as F32, F16 or BF16");
  }
  const size_t n = static_cast<size_t>(t.numel());
  std::vector<float> out(n);
  if (t.dtype == SafetensorsDtype::kF32) {
    read_into(t, reinterpret_cast<uint8_t*>(out.data()));
    return out;
  }
  // 16-bit values land in the upper half of the output buffer, and are widened front to back:
  // element i is read from bytes [2n + 2i, 2n + 2i + 2) before float i overwrites [4i, 4i + 4).
  uint8_t* const half = reinterpret_cast<uint8_t*>(out.data()) + 2 * n;
  read_into(t, half);
  for (size_t i = 0; i < n; ++i) {
    uint16_t bits;
    std::memcpy(&bits, half + 2 * i, 2);
    out[i] = t.dtype == SafetensorsDtype::kF16 ? half_to_float(bits) : bfloat16_to_float(bits);
  }
  return out;
}

}  // namespace salvo
