#include "model/pickle_reader.h"

#include <bit>
#include <cstring>
#include <unordered_map>

#include "core/error.h"

namespace salvo {
namespace {

// Opcodes of the binary protocols that plain data needs (pickletools' names).
enum Op : uint8_t {
  kMark = '(',
  kStop = '.',
  kPop = '0',
  kPopMark = '1',
  kDup = '2',
  kBinInt = 'J',
  kBinInt1 = 'K',
  kBinInt2 = 'M',
  kNone = 'N',
  kBinPersId = 'Q',
  kReduce = 'R',
  kBinString = 'T',
  kShortBinString = 'U',
  kBinUnicode = 'X',
  kAppend = 'a',
  kBuild = 'b',
  kGlobal = 'c',
  kDict = 'd',
  kEmptyDict = '}',
  kAppends = 'e',
  kBinGet = 'h',
  kLongBinGet = 'j',
  kList = 'l',
  kEmptyList = ']',
  kBinPut = 'q',
  kLongBinPut = 'r',
  kSetItem = 's',
  kTuple = 't',
  kEmptyTuple = ')',
  kSetItems = 'u',
  kBinFloat = 'G',
  kBinBytes = 'B',
  kShortBinBytes = 'C',
  kProto = 0x80,
  kTuple1 = 0x85,
  kTuple2 = 0x86,
  kTuple3 = 0x87,
  kNewTrue = 0x88,
  kNewFalse = 0x89,
  kLong1 = 0x8a,
  kLong4 = 0x8b,
  kShortBinUnicode = 0x8c,
  kBinUnicode8 = 0x8d,
  kBinBytes8 = 0x8e,
  kStackGlobal = 0x93,
  kMemoize = 0x94,
  kFrame = 0x95,
  kByteArray8 = 0x96,
};

// Opcodes that are refused, named for the message. Those that construct or call arbitrary objects
// are never needed by tensor checkpoints; the text opcodes belong to protocol 0 and 1 files, which
// PyTorch does not write.
const char* refused_opcode_name(uint8_t op) {
  switch (op) {
    case 'i':
      return "INST";
    case 'o':
      return "OBJ";
    case 0x81:
      return "NEWOBJ";
    case 0x92:
      return "NEWOBJ_EX";
    case 0x82:
      return "EXT1";
    case 0x83:
      return "EXT2";
    case 0x84:
      return "EXT4";
    case 'P':
      return "PERSID";
    case 'I':
      return "INT";
    case 'L':
      return "LONG";
    case 'F':
      return "FLOAT";
    case 'S':
      return "STRING";
    case 'V':
      return "UNICODE";
    case 'g':
      return "GET";
    case 'p':
      return "PUT";
    case 0x8f:
      return "EMPTY_SET";
    case 0x90:
      return "ADDITEMS";
    case 0x91:
      return "FROZENSET";
    case 0x97:
      return "NEXT_BUFFER";
    case 0x98:
      return "READONLY_BUFFER";
    default:
      return nullptr;
  }
}

std::string hex_byte(uint8_t b) {
  static const char* digits = "0123456789abcdef";
  return std::string("0x") + digits[b >> 4] + digits[b & 15];
}

class Reader {
 public:
  Reader(const uint8_t* data, size_t size, PickleHooks& hooks, PickleArena& arena,
         const std::string& where, const PickleLimits& limits)
      : data_(data), size_(size), hooks_(hooks), arena_(arena), where_(where), limits_(limits) {}

  PickleResult run() {
    while (true) {
      op_pos_ = pos_;
      const uint8_t op = take_u8();
      if (op == kStop) {
        if (!marks_.empty()) fail("STOP inside an open MARK");
        if (stack_.size() != 1) {
          fail("STOP with " + std::to_string(stack_.size()) + " values on the stack, expected 1");
        }
        return {stack_.back(), pos_};
      }
      step(op);
    }
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw Error(ErrorCode::kModel,
                where_ + ": pickle at byte " + std::to_string(op_pos_) + ": " + why);
  }

  void need(size_t n) const {
    if (n > size_ - pos_) {
      throw Error(ErrorCode::kModel, where_ + ": pickle is truncated: an opcode at byte " +
                                         std::to_string(op_pos_) + " needs " + std::to_string(n) +
                                         " more bytes, " + std::to_string(size_ - pos_) +
                                         " remain");
    }
  }
  uint8_t take_u8() {
    need(1);
    return data_[pos_++];
  }
  uint64_t take_le(size_t n) {
    need(n);
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(data_[pos_ + i]) << (8 * i);
    pos_ += n;
    return v;
  }
  std::string take_bytes(uint64_t n) {
    if (n > size_ - pos_) need(n > SIZE_MAX ? SIZE_MAX : static_cast<size_t>(n));
    std::string s(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return s;
  }
  // One line of a GLOBAL opcode, without its newline; module and class names are short.
  std::string take_line() {
    constexpr size_t kMaxLine = 512;
    const size_t start = pos_;
    while (true) {
      const uint8_t c = take_u8();
      if (c == '\n') break;
      if (pos_ - start > kMaxLine) fail("GLOBAL name longer than " + std::to_string(kMaxLine));
    }
    return std::string(reinterpret_cast<const char*>(data_ + start), pos_ - start - 1);
  }

  void push(PickleValue* v) {
    if (stack_.size() + marks_.size() >= limits_.max_stack) {
      fail("stack grows past " + std::to_string(limits_.max_stack) + " entries");
    }
    stack_.push_back(v);
  }
  PickleValue* pop() {
    if (stack_.size() <= floor()) fail("pops from an empty stack (or past a MARK)");
    PickleValue* v = stack_.back();
    stack_.pop_back();
    return v;
  }
  PickleValue* top() {
    if (stack_.size() <= floor()) fail("reads from an empty stack (or past a MARK)");
    return stack_.back();
  }
  // The lowest stack index the current frame may touch: values under the innermost MARK belong
  // to the enclosing frame.
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  // Pops everything above the innermost MARK and the MARK itself.
  std::vector<PickleValue*> pop_to_mark() {
    if (marks_.empty()) fail("needs a MARK but none is open");
    const size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<PickleValue*> items(stack_.begin() + static_cast<std::ptrdiff_t>(mark),
                                    stack_.end());
    stack_.resize(mark);
    return items;
  }

  PickleValue* make(PickleKind kind) { return arena_.make(kind); }
  PickleValue* make_int(int64_t v) {
    PickleValue* p = make(PickleKind::kInt);
    p->integer = v;
    return p;
  }
  PickleValue* make_text(PickleKind kind, std::string s) {
    PickleValue* p = make(kind);
    p->text = std::move(s);
    return p;
  }
  PickleValue* make_tuple(std::vector<PickleValue*> items) {
    PickleValue* p = make(PickleKind::kTuple);
    p->items = std::move(items);
    return p;
  }

  void memo_put(uint64_t index, PickleValue* v) {
    if (memo_.size() >= limits_.max_memo && memo_.count(index) == 0) {
      fail("memo grows past " + std::to_string(limits_.max_memo) + " entries");
    }
    memo_[index] = v;
  }
  PickleValue* memo_get(uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) fail("memo entry " + std::to_string(index) + " was never stored");
    return it->second;
  }

  PickleValue* list_target(PickleValue* v, const char* op) {
    if (v->kind != PickleKind::kList) fail(std::string(op) + " on " + describe_pickle_value(*v));
    return v;
  }
  PickleValue* dict_target(PickleValue* v, const char* op) {
    if (v->kind != PickleKind::kDict) fail(std::string(op) + " on " + describe_pickle_value(*v));
    return v;
  }

  PickleValue* global(const std::string& module, const std::string& name) {
    if (!hooks_.allows_global(module, name)) {
      fail("refusing global '" + module + "." + name +
           "': it is not on the allowlist of plain tensor checkpoints, and nothing was executed");
    }
    return make_text(PickleKind::kGlobal, module + "." + name);
  }

  PickleValue* long_value(size_t n) {
    if (n > limits_.max_big_int_bytes) {
      fail("integer of " + std::to_string(n) + " bytes is too long");
    }
    const std::string raw = take_bytes(n);
    if (n <= 8) {
      uint64_t v = 0;
      for (size_t i = 0; i < n; ++i)
        v |= static_cast<uint64_t>(static_cast<uint8_t>(raw[i])) << (8 * i);
      if (n > 0 && n < 8 && (static_cast<uint8_t>(raw[n - 1]) & 0x80)) {
        v |= ~uint64_t{0} << (8 * n);  // sign-extend
      }
      return make_int(static_cast<int64_t>(v));
    }
    return make_text(PickleKind::kBigInt, raw);
  }

  void step(uint8_t op) {
    switch (op) {
      case kProto: {
        const uint8_t version = take_u8();
        if (version > 5) fail("pickle protocol " + std::to_string(version) + " is unknown");
        break;
      }
      case kFrame: {
        const uint64_t n = take_le(8);
        if (n > size_ - pos_) need(static_cast<size_t>(std::min<uint64_t>(n, SIZE_MAX)));
        break;  // frames only group opcodes; the data is read as one stream
      }
      case kMark:
        if (stack_.size() + marks_.size() >= limits_.max_stack) {
          fail("stack grows past " + std::to_string(limits_.max_stack) + " entries");
        }
        marks_.push_back(stack_.size());
        break;
      case kPop:
        pop();
        break;
      case kPopMark:
        pop_to_mark();
        break;
      case kDup:
        push(top());
        break;
      case kNone:
        push(make(PickleKind::kNone));
        break;
      case kNewTrue:
      case kNewFalse: {
        PickleValue* v = make(PickleKind::kBool);
        v->boolean = op == kNewTrue;
        push(v);
        break;
      }
      case kBinInt:
        push(make_int(static_cast<int32_t>(static_cast<uint32_t>(take_le(4)))));
        break;
      case kBinInt1:
        push(make_int(take_u8()));
        break;
      case kBinInt2:
        push(make_int(static_cast<int64_t>(take_le(2))));
        break;
      case kLong1:
        push(long_value(take_u8()));
        break;
      case kLong4: {
        const int32_t n = static_cast<int32_t>(static_cast<uint32_t>(take_le(4)));
        if (n < 0) fail("LONG4 with a negative length");
        push(long_value(static_cast<size_t>(n)));
        break;
      }
      case kBinFloat: {
        need(8);
        uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | data_[pos_ + i];  // big-endian
        pos_ += 8;
        PickleValue* v = make(PickleKind::kFloat);
        v->real = std::bit_cast<double>(bits);
        push(v);
        break;
      }
      case kShortBinUnicode:
        push(make_text(PickleKind::kString, take_bytes(take_u8())));
        break;
      case kBinUnicode:
        push(make_text(PickleKind::kString, take_bytes(take_le(4))));
        break;
      case kBinUnicode8:
        push(make_text(PickleKind::kString, take_bytes(take_le(8))));
        break;
      case kShortBinString:  // Python 2 str, as old checkpoints wrote keys
        push(make_text(PickleKind::kString, take_bytes(take_u8())));
        break;
      case kBinString: {
        const int32_t n = static_cast<int32_t>(static_cast<uint32_t>(take_le(4)));
        if (n < 0) fail("BINSTRING with a negative length");
        push(make_text(PickleKind::kString, take_bytes(static_cast<uint64_t>(n))));
        break;
      }
      case kShortBinBytes:
        push(make_text(PickleKind::kBytes, take_bytes(take_u8())));
        break;
      case kBinBytes:
        push(make_text(PickleKind::kBytes, take_bytes(take_le(4))));
        break;
      case kBinBytes8:
      case kByteArray8:
        push(make_text(PickleKind::kBytes, take_bytes(take_le(8))));
        break;
      case kEmptyTuple:
        push(make_tuple({}));
        break;
      case kTuple1: {
        PickleValue* a = pop();
        push(make_tuple({a}));
        break;
      }
      case kTuple2: {
        PickleValue* b = pop();
        PickleValue* a = pop();
        push(make_tuple({a, b}));
        break;
      }
      case kTuple3: {
        PickleValue* c = pop();
        PickleValue* b = pop();
        PickleValue* a = pop();
        push(make_tuple({a, b, c}));
        break;
      }
      case kTuple:
        push(make_tuple(pop_to_mark()));
        break;
      case kEmptyList:
        push(make(PickleKind::kList));
        break;
      case kList: {
        PickleValue* v = make(PickleKind::kList);
        v->items = pop_to_mark();
        push(v);
        break;
      }
      case kAppend: {
        PickleValue* item = pop();
        list_target(top(), "APPEND")->items.push_back(item);
        break;
      }
      case kAppends: {
        std::vector<PickleValue*> items = pop_to_mark();
        PickleValue* list = list_target(top(), "APPENDS");
        list->items.insert(list->items.end(), items.begin(), items.end());
        break;
      }
      case kEmptyDict:
        push(make(PickleKind::kDict));
        break;
      case kDict: {
        std::vector<PickleValue*> items = pop_to_mark();
        if (items.size() % 2 != 0) fail("DICT with an odd number of items");
        PickleValue* v = make(PickleKind::kDict);
        v->items = std::move(items);
        push(v);
        break;
      }
      case kSetItem: {
        PickleValue* value = pop();
        PickleValue* key = pop();
        PickleValue* dict = dict_target(top(), "SETITEM");
        dict->items.push_back(key);
        dict->items.push_back(value);
        break;
      }
      case kSetItems: {
        std::vector<PickleValue*> items = pop_to_mark();
        if (items.size() % 2 != 0) fail("SETITEMS with an odd number of items");
        PickleValue* dict = dict_target(top(), "SETITEMS");
        dict->items.insert(dict->items.end(), items.begin(), items.end());
        break;
      }
      case kBinPut:
        memo_put(take_u8(), top());
        break;
      case kLongBinPut:
        memo_put(take_le(4), top());
        break;
      case kMemoize:
        memo_put(memo_.size(), top());
        break;
      case kBinGet:
        push(memo_get(take_u8()));
        break;
      case kLongBinGet:
        push(memo_get(take_le(4)));
        break;
      case kGlobal: {
        const std::string module = take_line();
        const std::string name = take_line();
        push(global(module, name));
        break;
      }
      case kStackGlobal: {
        PickleValue* name = pop();
        PickleValue* module = pop();
        if (module->kind != PickleKind::kString || name->kind != PickleKind::kString) {
          fail("STACK_GLOBAL needs two strings, got " + describe_pickle_value(*module) + " and " +
               describe_pickle_value(*name));
        }
        push(global(module->text, name->text));
        break;
      }
      case kReduce: {
        PickleValue* args = pop();
        PickleValue* callable = pop();
        if (callable->kind != PickleKind::kGlobal) {
          fail("REDUCE calls " + describe_pickle_value(*callable) + ", which is not a global");
        }
        if (args->kind != PickleKind::kTuple) {
          fail("REDUCE of " + callable->text + " with " + describe_pickle_value(*args) +
               " instead of an argument tuple");
        }
        push(hooks_.call(callable->text, *args, arena_));
        break;
      }
      case kBuild: {
        PickleValue* state = pop();
        PickleValue* target = top();
        // A dict's state holds Python attributes (a state dict's `_metadata`); weights never
        // depend on them. Anything else would need code to apply its state, so it is refused.
        if (target->kind != PickleKind::kDict) {
          fail("BUILD on " + describe_pickle_value(*target) + " with " +
               describe_pickle_value(*state) + " is not supported");
        }
        break;
      }
      case kBinPersId: {
        PickleValue* pid = pop();
        push(hooks_.persistent_load(*pid, arena_));
        break;
      }
      default: {
        const char* name = refused_opcode_name(op);
        if (name != nullptr) {
          fail(std::string("opcode ") + name + " (" + hex_byte(op) +
               ") is not supported: plain tensor checkpoints do not need it");
        }
        fail("unknown opcode " + hex_byte(op));
      }
    }
  }

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  size_t op_pos_ = 0;
  PickleHooks& hooks_;
  PickleArena& arena_;
  const std::string& where_;
  const PickleLimits& limits_;
  std::vector<PickleValue*> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, PickleValue*> memo_;
};

}  // namespace

PickleValue* PickleArena::make(PickleKind kind) {
  if (values_.size() >= max_values_) {
    throw Error(ErrorCode::kModel,
                "pickle holds more than " + std::to_string(max_values_) + " values");
  }
  values_.emplace_back();
  values_.back().kind = kind;
  return &values_.back();
}

PickleResult read_pickle(const uint8_t* data, size_t size, PickleHooks& hooks, PickleArena& arena,
                         const std::string& where, const PickleLimits& limits) {
  return Reader(data, size, hooks, arena, where, limits).run();
}

std::string describe_pickle_value(const PickleValue& value) {
  auto quoted = [](const std::string& s) {
    constexpr size_t kMax = 40;
    std::string out = "'";
    for (size_t i = 0; i < s.size() && i < kMax; ++i) {
      const unsigned char c = static_cast<unsigned char>(s[i]);
      out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
    }
    return out + (s.size() > kMax ? "...'" : "'");
  };
  switch (value.kind) {
    case PickleKind::kNone:
      return "None";
    case PickleKind::kBool:
      return value.boolean ? "True" : "False";
    case PickleKind::kInt:
      return "int " + std::to_string(value.integer);
    case PickleKind::kBigInt:
      return "int of " + std::to_string(value.text.size()) + " bytes";
    case PickleKind::kFloat:
      return "float";
    case PickleKind::kString:
      return "str " + quoted(value.text);
    case PickleKind::kBytes:
      return "bytes of length " + std::to_string(value.text.size());
    case PickleKind::kTuple:
      return "tuple of " + std::to_string(value.items.size());
    case PickleKind::kList:
      return "list of " + std::to_string(value.items.size());
    case PickleKind::kDict:
      return "dict of " + std::to_string(value.items.size() / 2);
    case PickleKind::kGlobal:
      return "global " + value.text;
    case PickleKind::kObject:
      return value.text;
  }
  return "?";
}

}  // namespace salvo
