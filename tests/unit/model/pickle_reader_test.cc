#include "model/pickle_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "torch_test_files.h"

namespace salvo {
namespace {

using ::testing::HasSubstr;
using testing::PickleWriter;

// Allows the globals named in its constructor; calling one returns a marker object; persistent
// ids come back as an object naming them.
class TestHooks : public PickleHooks {
 public:
  explicit TestHooks(std::vector<std::string> allowed = {}) : allowed_(std::move(allowed)) {}
  bool allows_global(const std::string& module, const std::string& name) const override {
    for (const auto& a : allowed_) {
      if (a == module + "." + name) return true;
    }
    return false;
  }
  PickleValue* call(const std::string& callable, const PickleValue& args,
                    PickleArena& arena) override {
    ++calls;
    PickleValue* v = arena.make(PickleKind::kObject);
    v->text = "called " + callable;
    v->integer = static_cast<int64_t>(args.items.size());
    return v;
  }
  PickleValue* persistent_load(const PickleValue& pid, PickleArena& arena) override {
    PickleValue* v = arena.make(PickleKind::kObject);
    v->text = "pid " + describe_pickle_value(pid);
    return v;
  }
  int calls = 0;

 private:
  std::vector<std::string> allowed_;
};

std::string read_error(const std::string& bytes, PickleHooks& hooks,
                       const PickleLimits& limits = {}) {
  PickleArena arena;
  try {
    read_pickle(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), hooks, arena,
                "test.pkl", limits);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModel);
    return e.what();
  }
  return "";
}

std::string read_error(const std::string& bytes) {
  TestHooks hooks;
  return read_error(bytes, hooks);
}

const PickleValue* dict_get(const PickleValue& dict, const std::string& key) {
  for (size_t i = 0; i + 1 < dict.items.size(); i += 2) {
    if (dict.items[i]->kind == PickleKind::kString && dict.items[i]->text == key) {
      return dict.items[i + 1];
    }
  }
  return nullptr;
}

class PythonPickleTest : public ::testing::TestWithParam<int> {};

// Pickles written by Python's own pickle module (make_fixtures.py) in protocols 4 and 5: FRAME,
// MEMOIZE, SHORT_BINUNICODE, SHORT_BINBYTES, LONG1, BINFLOAT and the tuple opcodes.
TEST_P(PythonPickleTest, ReadsPlainValues) {
  const std::string bytes =
      testing::read_file(std::string(SALVO_TEST_DATA_DIR) + "/torch_checkpoints/torch2/plain_p" +
                         std::to_string(GetParam()) + ".pkl");
  ASSERT_FALSE(bytes.empty());
  TestHooks hooks;
  PickleArena arena;
  const PickleResult r = read_pickle(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                                     hooks, arena, "plain");
  EXPECT_EQ(r.consumed, bytes.size());
  ASSERT_EQ(r.value->kind, PickleKind::kDict);
  const PickleValue* a = dict_get(*r.value, "a");
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(a->kind, PickleKind::kList);
  ASSERT_EQ(a->items.size(), 17u);
  const auto& v = a->items;
  EXPECT_EQ(v[0]->integer, 1);
  EXPECT_EQ(v[1]->integer, -2);
  EXPECT_EQ(v[2]->integer, 300);
  EXPECT_EQ(v[3]->integer, 70000);
  EXPECT_EQ(v[4]->integer, -5000000000);
  ASSERT_EQ(v[5]->kind, PickleKind::kBigInt);  // 2**70
  EXPECT_EQ(v[5]->text, std::string("\0\0\0\0\0\0\0\0\x40", 9));
  EXPECT_EQ(v[6]->real, 2.5);
  EXPECT_EQ(v[7]->text, "x\xc3\xa9");
  EXPECT_EQ(v[8]->kind, PickleKind::kBytes);
  EXPECT_EQ(v[8]->text, "y");
  EXPECT_EQ(v[9]->kind, PickleKind::kNone);
  EXPECT_TRUE(v[10]->boolean);
  EXPECT_FALSE(v[11]->boolean);
  for (size_t n = 0; n <= 4; ++n) {
    ASSERT_EQ(v[12 + n]->kind, PickleKind::kTuple);
    ASSERT_EQ(v[12 + n]->items.size(), n);
    for (size_t i = 0; i < n; ++i)
      EXPECT_EQ(v[12 + n]->items[i]->integer, static_cast<int64_t>(i + 1));
  }
  const PickleValue* b = dict_get(*r.value, "b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->kind, PickleKind::kDict);
  EXPECT_EQ(hooks.calls, 0);
}

INSTANTIATE_TEST_SUITE_P(Protocols, PythonPickleTest, ::testing::Values(4, 5));

TEST(PickleReaderTest, Protocol2BytesNeedAGlobalAndAreRefused) {
  const std::string bytes = testing::read_file(std::string(SALVO_TEST_DATA_DIR) +
                                               "/torch_checkpoints/torch2/plain_p2.pkl");
  EXPECT_THAT(read_error(bytes), HasSubstr("refusing global '_codecs.encode'"));
}

TEST(PickleReaderTest, RefusesGlobalsOffTheAllowlistWithoutCallingAnything) {
  TestHooks hooks({"collections.OrderedDict"});
  PickleWriter w;
  w.proto().global("os", "system").str("touch /tmp/x").op(0x85).reduce().stop();
  const std::string error = read_error(w.bytes(), hooks);
  EXPECT_THAT(error, HasSubstr("test.pkl"));
  EXPECT_THAT(error, HasSubstr("refusing global 'os.system'"));
  EXPECT_THAT(error, HasSubstr("nothing was executed"));
  EXPECT_EQ(hooks.calls, 0);

  PickleWriter s;
  s.proto(4).stack_global("builtins", "eval").str("1+1").op(0x85).reduce().stop();
  EXPECT_THAT(read_error(s.bytes(), hooks), HasSubstr("refusing global 'builtins.eval'"));
  EXPECT_EQ(hooks.calls, 0);

  PickleWriter ok;
  ok.proto().global("collections", "OrderedDict").empty_tuple().reduce().stop();
  EXPECT_EQ(read_error(ok.bytes(), hooks), "");
  EXPECT_EQ(hooks.calls, 1);
}

TEST(PickleReaderTest, RefusesOpcodesThatBuildArbitraryObjects) {
  TestHooks hooks({"collections.OrderedDict"});
  // NEWOBJ on an allowed class still needs code to run, so it is refused by opcode.
  PickleWriter newobj;
  newobj.proto().global("collections", "OrderedDict").empty_tuple().op(0x81).stop();
  EXPECT_THAT(read_error(newobj.bytes(), hooks), HasSubstr("opcode NEWOBJ (0x81)"));
  PickleWriter inst;
  inst.proto().mark().raw(std::string("i") + "os\nsystem\n").stop();
  EXPECT_THAT(read_error(inst.bytes(), hooks), HasSubstr("opcode INST"));
  EXPECT_THAT(read_error(std::string("I1\n.")), HasSubstr("opcode INT"));  // protocol 0 text
  EXPECT_THAT(read_error(std::string("\x80\x02\xff.", 4)), HasSubstr("unknown opcode 0xff"));
  PickleWriter build;
  build.proto().empty_list().empty_dict().build().stop();
  EXPECT_THAT(read_error(build.bytes()), HasSubstr("BUILD on list of 0"));
  PickleWriter reduce;
  reduce.proto().str("os.system").empty_tuple().reduce().stop();
  EXPECT_THAT(read_error(reduce.bytes()), HasSubstr("which is not a global"));
}

TEST(PickleReaderTest, BuildOnADictKeepsItsItems) {
  PickleWriter w;
  w.proto().empty_dict().mark().str("k").integer(1).setitems();
  w.empty_dict().str("_metadata").none().setitem().build().stop();
  TestHooks hooks;
  PickleArena arena;
  const PickleResult r = read_pickle(w.data(), w.size(), hooks, arena, "t");
  ASSERT_EQ(r.value->kind, PickleKind::kDict);
  EXPECT_EQ(r.value->items.size(), 2u);
}

TEST(PickleReaderTest, MemoSharesValues) {
  PickleWriter w;
  w.proto().empty_list().put(0).mark().get(0).get(0).appends().stop();  // l = []; l += [l, l]
  TestHooks hooks;
  PickleArena arena;
  const PickleResult r = read_pickle(w.data(), w.size(), hooks, arena, "t");
  ASSERT_EQ(r.value->items.size(), 2u);
  EXPECT_EQ(r.value->items[0], r.value);  // a cycle, held by the arena without leaking
  EXPECT_THAT(read_error(PickleWriter().proto().get(3).stop().bytes()),
              HasSubstr("memo entry 3 was never stored"));
}

TEST(PickleReaderTest, ReportsMalformedStreams) {
  EXPECT_THAT(read_error(""), HasSubstr("truncated"));
  EXPECT_THAT(read_error(PickleWriter().proto().bytes()), HasSubstr("truncated"));
  EXPECT_THAT(read_error(PickleWriter().proto().op('X').le(1000, 4).raw("abc").bytes()),
              HasSubstr("needs 1000 more bytes, 3 remain"));
  EXPECT_THAT(read_error(PickleWriter().proto().op('X').le(0xffffffff, 4).bytes()),
              HasSubstr("truncated"));
  EXPECT_THAT(read_error(PickleWriter().proto().stop().bytes()),
              HasSubstr("STOP with 0 values on the stack"));
  EXPECT_THAT(read_error(PickleWriter().proto().none().none().stop().bytes()),
              HasSubstr("STOP with 2 values"));
  EXPECT_THAT(read_error(PickleWriter().proto().mark().none().stop().bytes()),
              HasSubstr("STOP inside an open MARK"));
  EXPECT_THAT(read_error(PickleWriter().proto().tuple().stop().bytes()), HasSubstr("needs a MARK"));
  EXPECT_THAT(read_error(PickleWriter().proto().none().mark().op(0x85).stop().bytes()),
              HasSubstr("past a MARK"));
  EXPECT_THAT(read_error(PickleWriter().proto().none().integer(1).setitem().stop().bytes()),
              HasSubstr("empty stack"));
  EXPECT_THAT(
      read_error(PickleWriter().proto().none().str("k").integer(1).setitem().stop().bytes()),
      HasSubstr("SETITEM on None"));
  EXPECT_THAT(read_error(PickleWriter().proto(6).bytes()), HasSubstr("protocol 6 is unknown"));
  EXPECT_THAT(read_error(PickleWriter().proto().op(0x8b).le(1000, 4).bytes()),
              HasSubstr("integer of 1000 bytes is too long"));
  EXPECT_THAT(read_error(PickleWriter().proto().raw("c" + std::string(600, 'a')).bytes()),
              HasSubstr("GLOBAL name longer than"));
}

TEST(PickleReaderTest, EnforcesLimits) {
  PickleLimits limits;
  limits.max_stack = 100;
  limits.max_memo = 10;
  TestHooks hooks;
  PickleWriter deep;
  deep.proto();
  for (int i = 0; i < 200; ++i) deep.mark();
  EXPECT_THAT(read_error(deep.bytes(), hooks, limits), HasSubstr("stack grows past 100"));
  PickleWriter memo;
  memo.proto().none();
  for (int i = 0; i < 20; ++i) memo.put(static_cast<uint8_t>(i));
  EXPECT_THAT(read_error(memo.bytes(), hooks, limits), HasSubstr("memo grows past 10"));
  // LONG_BINPUT with a huge index costs one entry, not a huge table.
  PickleWriter far;
  far.proto().none().op('r').le(0xfffffff0u, 4).stop();
  EXPECT_EQ(read_error(far.bytes(), hooks, limits), "");
}

TEST(PickleReaderTest, ArenaBoundsTheNumberOfValues) {
  PickleArena arena(50);
  TestHooks hooks;
  PickleWriter w;
  w.proto().mark();
  for (int i = 0; i < 100; ++i) w.none();
  w.op('l').stop();
  try {
    read_pickle(w.data(), w.size(), hooks, arena, "t");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("more than 50 values"));
  }
}

TEST(PickleReaderTest, ReportsConsumedLengthForConsecutivePickles) {
  PickleWriter w;
  w.proto().integer(7).stop().proto().integer(8).stop();
  TestHooks hooks;
  PickleArena arena;
  const PickleResult first = read_pickle(w.data(), w.size(), hooks, arena, "t");
  EXPECT_EQ(first.value->integer, 7);
  const PickleResult second =
      read_pickle(w.data() + first.consumed, w.size() - first.consumed, hooks, arena, "t");
  EXPECT_EQ(second.value->integer, 8);
  EXPECT_EQ(first.consumed + second.consumed, w.size());
}

TEST(PickleReaderTest, PersistentIdsGoToTheHooks) {
  PickleWriter w;
  w.proto().mark().str("storage").integer(3).tuple().persid().stop();
  TestHooks hooks;
  PickleArena arena;
  const PickleResult r = read_pickle(w.data(), w.size(), hooks, arena, "t");
  EXPECT_EQ(r.value->text, "pid tuple of 2");
}

}  // namespace
}  // namespace salvo
