#include "io/row_source.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "io/test_files.h"

namespace salvo {
namespace {

using testing::ScratchDir;

std::vector<InputRow> read_all(const std::filesystem::path& path, FieldNames fields = {},
                               SourceLimits limits = {}) {
  auto source = open_row_source(path, fields, limits);
  std::vector<RawRecord> records;
  while (source->read(2, &records)) {
  }
  std::vector<InputRow> rows(records.size());
  for (size_t i = 0; i < records.size(); ++i) source->parse(records[i], &rows[i]);
  EXPECT_EQ(source->bytes_read(), source->total_bytes().value());
  return rows;
}

TEST(JsonlSourceTest, ReadsTextAndIdAndReportsBadLines) {
  ScratchDir dir;
  auto path = dir.write("in.jsonl",
                        "\xEF\xBB\xBF{\"id\": 1, \"text\": \"hello\"}\n"
                        "\n"
                        "{\"id\": \"b\", \"text\": \"caf\\u00e9\"}\r\n"
                        "{\"text\": 5}\n"
                        "{\"id\": 4}\n"
                        "not json\n"
                        "[1, 2]\n"
                        "{\"id\": 7, \"text\": \"bad \xFF byte\"}\n"
                        "{\"id\": 8, \"text\": \"last, no newline\"}");
  auto rows = read_all(path);
  ASSERT_EQ(rows.size(), 8u);
  EXPECT_EQ(rows[0].id, 1);
  EXPECT_EQ(rows[0].text, "hello");
  EXPECT_EQ(rows[0].line, 1u);
  EXPECT_EQ(rows[1].id, "b");
  EXPECT_EQ(rows[1].text, "caf\xC3\xA9");
  EXPECT_EQ(rows[1].line, 3u);  // the blank line is not a record but still counts as a line
  EXPECT_EQ(rows[2].error, "text field \"text\" is a number, not a string");
  EXPECT_EQ(rows[3].error, "missing text field \"text\"");
  EXPECT_EQ(rows[3].id, 4);
  EXPECT_NE(rows[4].error.find("invalid JSON"), std::string::npos);
  EXPECT_EQ(rows[5].error, "a JSON array, not an object");
  EXPECT_EQ(rows[6].error, "not valid UTF-8 (byte 23)");
  EXPECT_EQ(rows[7].text, "last, no newline");
  for (size_t i = 0; i < rows.size(); ++i) EXPECT_EQ(rows[i].index, i);
}

TEST(JsonlSourceTest, CustomFieldsAndOversizeRecords) {
  ScratchDir dir;
  std::string big(5000, 'x');
  auto path = dir.write("in.ndjson", "{\"key\": 1, \"body\": \"a\"}\n{\"body\": \"" + big + "\"}\n{\"body\": \"c\"}\n");
  SourceLimits limits;
  limits.max_record_bytes = 1000;
  auto rows = read_all(path, FieldNames{"body", "key"}, limits);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].id, 1);
  EXPECT_EQ(rows[0].text, "a");
  EXPECT_EQ(rows[1].error, "record is 5012 bytes, over the limit of 1000");
  EXPECT_EQ(rows[2].text, "c");
}

TEST(CsvSourceTest, QuotedFieldsMultilineAndBadRecords) {
  ScratchDir dir;
  auto path = dir.write("in.csv",
                        "id,text,other\n"
                        "1,plain,x\n"
                        "2,\"with, comma and \"\"quotes\"\"\",y\n"
                        "3,\"two\nlines\",z\n"
                        "4,short\n"
                        "5,\"unterminated,z\n");
  auto rows = read_all(path);
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[0].id, "1");
  EXPECT_EQ(rows[0].text, "plain");
  EXPECT_EQ(rows[1].text, "with, comma and \"quotes\"");
  EXPECT_EQ(rows[2].text, "two\nlines");
  EXPECT_EQ(rows[2].line, 4u);
  EXPECT_EQ(rows[3].error, "CSV record has 2 fields, the header has 3");
  EXPECT_EQ(rows[3].id, "4");
  EXPECT_EQ(rows[4].error, "invalid CSV: unterminated quoted field 2");
}

// As Spark writes and reads CSV: an empty field is a null, a quoted "" the empty string.
TEST(CsvSourceTest, AnEmptyFieldIsNullUnlessQuoted) {
  ScratchDir dir;
  auto path = dir.write("in.csv",
                        "id,text,kept\n"
                        ",a,\n"
                        "\"\",b,\"\"\n"
                        "3,c,x\n"
                        "4,,y\n"
                        "5,\"\",z\n");
  FieldNames fields;
  fields.passthrough = {"kept"};
  auto rows = read_all(path, fields);
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_TRUE(rows[0].id.is_null());
  EXPECT_TRUE(rows[0].passthrough[0].is_null());
  EXPECT_EQ(rows[1].id, "");
  EXPECT_EQ(rows[1].passthrough[0], "");
  EXPECT_EQ(rows[2].id, "3");
  EXPECT_EQ(rows[2].passthrough[0], "x");
  EXPECT_EQ(rows[3].error, "text field \"text\" is null (an empty cell; \"\" is an empty text)");
  EXPECT_EQ(rows[3].id, "4");  // still named
  EXPECT_EQ(rows[4].error, "");
  EXPECT_EQ(rows[4].text, "");
}

// A 1000-row file with one stray quote: a quote that does not open a field is data (Python's csv,
// DuckDB), so every row reads.
TEST(CsvSourceTest, AQuoteInsideAnUnquotedFieldIsData) {
  ScratchDir dir;
  std::string csv = "id,text\n";
  for (int i = 0; i < 1000; ++i) {
    csv += "r" + std::to_string(i) + (i == 10 ? ",a 27\" monitor stand\n" : ",row " + std::to_string(i) + "\n");
  }
  auto rows = read_all(dir.write("in.csv", csv));
  ASSERT_EQ(rows.size(), 1000u);
  for (const auto& row : rows) EXPECT_EQ(row.error, "") << row.line;
  EXPECT_EQ(rows[10].text, "a 27\" monitor stand");
  EXPECT_EQ(rows[11].text, "row 11");
  EXPECT_EQ(rows[999].line, 1001u);
}

// A quote that opens a field and never closes costs its own line only, wherever it is.
TEST(CsvSourceTest, AnUnterminatedQuoteTakesOnlyItsOwnLine) {
  ScratchDir dir;
  for (int after : {5, 1500}) {  // EOF inside the field; no closing quote within the line bound
    std::string csv = "id,text\nr0,\"never closed\n";
    for (int i = 1; i <= after; ++i) csv += "r" + std::to_string(i) + ",fine\n";
    auto rows = read_all(dir.write("in.csv", csv));
    ASSERT_EQ(rows.size(), static_cast<size_t>(after + 1));
    EXPECT_EQ(rows[0].error, "invalid CSV: unterminated quoted field 2");
    EXPECT_EQ(rows[0].id, "r0");
    for (int i = 1; i <= after; ++i) {
      EXPECT_EQ(rows[i].error, "");
      EXPECT_EQ(rows[i].text, "fine");
      EXPECT_EQ(rows[i].line, static_cast<uint64_t>(i + 2));
    }
  }
}

// A stray opening quote is closed by the next quoted field a few lines down, with data after the
// closing quote: that close is not a real one, so the stray quote's line alone is the bad record.
TEST(CsvSourceTest, AStrayQuoteClosedByALaterFieldIsCutBack) {
  ScratchDir dir;
  auto rows = read_all(dir.write("in.csv",
                                 "id,text\n"
                                 "r1,\"27 inch monitor\n"
                                 "r2,plain\n"
                                 "r3,\"quoted, with comma\"\n"
                                 "r4,\"two\n"
                                 "lines\"\n"));
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].error, "invalid CSV: unterminated quoted field 2");
  EXPECT_EQ(rows[1].text, "plain");
  EXPECT_EQ(rows[2].text, "quoted, with comma");
  EXPECT_EQ(rows[3].text, "two\nlines");
  EXPECT_EQ(rows[3].line, 5u);
}

// Quoted fields spanning lines keep working across buffer refills, escaped quotes included, and
// an oversize quoted field is one error row, not a cut.
TEST(CsvSourceTest, LongMultilineFieldsAcrossBuffersAndOversizeFields) {
  ScratchDir dir;
  std::string csv = "id,text\n";
  const std::string paragraph = std::string(700, 'p') + " \"\"said\"\" \n";
  std::string expected_long;
  for (int i = 0; i < 2000; ++i) {  // ~1.4 MB: straddles the 1 MB read buffer
    if (i == 3) {
      csv += "big,\"";
      for (int k = 0; k < 200; ++k) csv += paragraph;
      csv += "end\"\n";
    } else {
      csv += "r" + std::to_string(i) + ",\"line one\nline \"\"two\"\"\"\n";
    }
  }
  SourceLimits limits;
  limits.max_record_bytes = 100000;  // the big field is ~145 KB
  auto rows = read_all(dir.write("in.csv", csv), {}, limits);
  ASSERT_EQ(rows.size(), 2000u);
  for (int i = 0; i < 2000; ++i) {
    if (i == 3) {
      EXPECT_NE(rows[i].error.find("over the limit of 100000"), std::string::npos) << rows[i].error;
      continue;
    }
    ASSERT_EQ(rows[i].error, "") << i;
    EXPECT_EQ(rows[i].text, "line one\nline \"two\"");
  }
  EXPECT_EQ(rows[4].line, 2u + 3 * 2 + 201);
}

TEST(RowSourceTest, ClearErrorsForUnusableInputs) {
  ScratchDir dir;
  EXPECT_THROW(open_row_source(dir / "missing.jsonl", {}), Error);
  EXPECT_THROW(open_row_source(dir.write("in.txt", "x"), {}), Error);
  EXPECT_THROW(open_row_source(dir.write("empty.csv", ""), {}), Error);
  try {
    open_row_source(dir.write("nocol.csv", "id,body\n1,x\n"), {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("no column named \"text\""), std::string::npos);
  }
}

}  // namespace
}  // namespace salvo
