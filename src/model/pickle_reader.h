// A restricted reader of Python's pickle format (the binary protocols 2 to 5), for checkpoint files
// that hold plain data. It builds values (None, bools, integers, floats, strings, bytes, tuples,
// lists, dicts) and never runs code: every GLOBAL must be on the caller's allowlist, and what
// calling one (REDUCE) or loading a persistent id (BINPERSID) gives is decided by the caller's
// hooks, which build values of their own. Everything is bounded (input size, values, memo, stack),
// so a hostile file ends in a salvo::Error(kModel) and never in a crash or a huge allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

namespace salvo {

enum class PickleKind {
  kNone,
  kBool,
  kInt,     // fits in int64
  kBigInt,  // a longer LONG1/LONG4 integer; `text` holds its little-endian two's-complement bytes
  kFloat,
  kString,  // `text` holds UTF-8 as pickled (not validated)
  kBytes,
  kTuple,
  kList,
  kDict,    // `items` holds key, value, key, value, ... in insertion order
  kGlobal,  // an allowed "module.name" reference; `text` holds it
  kObject,  // built by the hooks; `text` names its type, `integer` is the hooks' own id
};

// One value of a pickle. Values live in a PickleArena and refer to each other by pointer, so
// shared and even cyclic structures (which pickles can express) need no ownership bookkeeping.
struct PickleValue {
  PickleKind kind = PickleKind::kNone;
  bool boolean = false;
  int64_t integer = 0;
  double real = 0;
  std::string text;
  std::vector<PickleValue*> items;
};

// Owns the values of one or more reads; bounded so that a hostile pickle cannot exhaust memory.
class PickleArena {
 public:
  explicit PickleArena(size_t max_values = size_t{1} << 24) : max_values_(max_values) {}
  PickleArena(const PickleArena&) = delete;
  PickleArena& operator=(const PickleArena&) = delete;

  // A new value of this kind; throws kModel past the arena's bound.
  PickleValue* make(PickleKind kind);
  size_t size() const { return values_.size(); }

 private:
  std::deque<PickleValue> values_;
  size_t max_values_;
};

// What the reader asks its caller. Implementations throw salvo::Error(kModel) to refuse.
class PickleHooks {
 public:
  virtual ~PickleHooks() = default;
  // Whether GLOBAL module.name may be referenced at all.
  virtual bool allows_global(const std::string& module, const std::string& name) const = 0;
  // REDUCE: calls the allowed global `callable` ("module.name") with the tuple `args`.
  virtual PickleValue* call(const std::string& callable, const PickleValue& args,
                            PickleArena& arena) = 0;
  // BINPERSID: the object a persistent id stands for.
  virtual PickleValue* persistent_load(const PickleValue& pid, PickleArena& arena) = 0;
};

// Bounds on one read, beyond the arena's value count.
struct PickleLimits {
  size_t max_memo = size_t{1} << 22;   // memo entries
  size_t max_stack = size_t{1} << 22;  // values on the stack plus open marks
  size_t max_big_int_bytes = 64;       // LONG1/LONG4 payload
};

// The value a pickle leaves at STOP, and how many bytes it took (pickles can follow each other in
// one file, as in PyTorch's legacy format).
struct PickleResult {
  PickleValue* value = nullptr;
  size_t consumed = 0;
};

// Reads one pickle from `data` (which may continue past its STOP). `where` prefixes every error
// message (usually the file's path). GLOBALs outside the hooks' allowlist, opcodes that would run
// or construct arbitrary objects (INST, OBJ, NEWOBJ, EXT*, ...) and the text opcodes of protocol 0
// are refused with an error naming them.
PickleResult read_pickle(const uint8_t* data, size_t size, PickleHooks& hooks, PickleArena& arena,
                         const std::string& where, const PickleLimits& limits = {});

// A short description of a value for messages ("tuple of 3", "str 'abc'", "global os.system").
std::string describe_pickle_value(const PickleValue& value);

}  // namespace salvo
