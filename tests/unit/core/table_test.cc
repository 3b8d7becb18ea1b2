#include "salvo/table.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "salvo/error.h"

namespace salvo {
namespace {

TEST(DataTypeTest, NamesAndEquality) {
  EXPECT_EQ(DataType::list(DataType::float32(), 384).to_string(), "list<float32>[384]");
  EXPECT_EQ(DataType::list(DataType::list(DataType::int64())).to_string(), "list<list<int64>>");
  EXPECT_TRUE(DataType::list(DataType::int32()) == DataType::list(DataType::int32()));
  EXPECT_FALSE(DataType::list(DataType::int32()) == DataType::list(DataType::int64()));
  EXPECT_FALSE(DataType::list(DataType::float32(), 2) == DataType::list(DataType::float32(), 3));
  EXPECT_THROW(DataType::int32().element(), Error);
}

TEST(ColumnTest, ScalarsWithNulls) {
  Column c(DataType::int64());
  c.append_int64(5);
  c.append_null();
  c.append_int64(-7);
  EXPECT_EQ(c.size(), 3);
  EXPECT_EQ(c.null_count(), 1);
  EXPECT_FALSE(c.is_null(0));
  EXPECT_TRUE(c.is_null(1));
  EXPECT_EQ(c.int64_at(2), -7);
  EXPECT_EQ(c.values<int64_t>().size(), 3u);
  EXPECT_EQ(c.validity(), (std::vector<uint8_t>{1, 0, 1}));
  EXPECT_THROW(c.append_string("x"), Error) << "a value of the wrong kind";
}

TEST(ColumnTest, ValidityIsEmptyUntilTheFirstNull) {
  Column c(DataType::float32());
  c.append_float32(1.5f);
  EXPECT_TRUE(c.validity().empty());
  c.append_null();
  EXPECT_EQ(c.validity(), (std::vector<uint8_t>{1, 0}));
}

TEST(ColumnTest, StringsAndBinaryShareArrowsLayout) {
  Column c(DataType::string());
  c.append_string("ab");
  c.append_null();
  c.append_string("");
  c.append_string("xyz");
  EXPECT_EQ(c.offsets(), (std::vector<int32_t>{0, 2, 2, 2, 5}));
  EXPECT_EQ(c.string_at(0), "ab");
  EXPECT_EQ(c.string_at(2), "");
  EXPECT_EQ(c.string_at(3), "xyz");
  Column b(DataType::binary());
  b.append_string(std::string("\0\xff", 2));
  EXPECT_EQ(b.string_at(0).size(), 2u);
}

TEST(ColumnTest, ListsOfNumbersStringsAndLists) {
  Column c(DataType::list(DataType::float32()));
  const std::vector<float> a = {1, 2, 3};
  c.append_list(std::span<const float>(a));
  c.append_null();
  c.append_list(std::span<const float>());
  EXPECT_EQ(c.offsets(), (std::vector<int32_t>{0, 3, 3, 3}));
  EXPECT_EQ(c.list_values<float>(0)[2], 3.0f);
  EXPECT_TRUE(c.is_null(1));
  EXPECT_FALSE(c.is_null(2));
  EXPECT_THROW(c.append_list(std::span<const int32_t>()), Error);

  Column s(DataType::list(DataType::string()));
  const std::vector<std::string> names = {"x", "yy"};
  s.append_list(std::span<const std::string>(names));
  EXPECT_EQ(s.child().string_at(1), "yy");

  Column nested(DataType::list(DataType::list(DataType::int64())));
  nested.begin_list();
  const std::vector<int64_t> row0 = {1, 2};
  const std::vector<int64_t> row1 = {3};
  nested.mutable_child().append_list(std::span<const int64_t>(row0));
  nested.mutable_child().append_list(std::span<const int64_t>(row1));
  nested.end_list();
  EXPECT_EQ(nested.list_end(0) - nested.list_begin(0), 2);
  EXPECT_EQ(nested.child().list_values<int64_t>(1)[0], 3);
}

TEST(ColumnTest, FillInPlaceWritesAFixedWidthMatrix) {
  Column c(DataType::list(DataType::float32(), 2));
  auto& values = c.fill_in_place(3);
  float* m = reinterpret_cast<float*>(values.data());
  for (int i = 0; i < 6; ++i) m[i] = static_cast<float>(i);
  c.set_null(1);
  EXPECT_EQ(c.size(), 3);
  EXPECT_EQ(c.null_count(), 1);
  EXPECT_EQ(c.list_values<float>(2)[1], 5.0f);
  EXPECT_THROW(Column(DataType::string()).fill_in_place(2), Error);
}

TEST(ColumnTest, JsonValuesAndCopies) {
  Column c(DataType::json());
  c.append_json(nlohmann::json::array({1, "a"}));
  c.append_json(nullptr);
  EXPECT_TRUE(c.is_null(1));
  EXPECT_TRUE(c.json_at(1).is_null());
  Column copy = c;
  EXPECT_EQ(copy.json_at(0)[1], "a");
  Column other(DataType::json());
  other.append_from(c, 0);
  other.append_from(c, 1);
  EXPECT_EQ(other.json_at(0), c.json_at(0));
  EXPECT_TRUE(other.is_null(1));
}

TEST(RecordBatchTest, ColumnsByNameAndAppendedRows) {
  Schema schema;
  schema.fields = {{"id", DataType::int32()}, {"v", DataType::list(DataType::int32())}};
  RecordBatch a(schema);
  a.mutable_column(0).append_int32(1);
  const std::vector<int32_t> v = {7, 8};
  a.mutable_column(1).append_list(std::span<const int32_t>(v));
  RecordBatch b = a;
  b.append_rows(a);
  EXPECT_EQ(b.num_rows(), 2);
  EXPECT_EQ(b.column("v").list_values<int32_t>(1)[1], 8);
  EXPECT_THROW(b.column("nope"), Error);
  Column short_column(DataType::string());
  EXPECT_THROW(b.add_column({"s", DataType::string()}, std::move(short_column)), Error);
  EXPECT_EQ(b.schema().index_of("v"), 1);
}

}  // namespace
}  // namespace salvo
