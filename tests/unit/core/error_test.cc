#include "core/error.h"

#include <gtest/gtest.h>

namespace salvo {
namespace {

TEST(ErrorTest, CarriesCodeAndMessage) {
  Error e(ErrorCode::kModel, "config.json: missing hidden_size");
  EXPECT_EQ(e.code(), ErrorCode::kModel);
  EXPECT_STREQ(e.what(), "config.json: missing hidden_size");
  EXPECT_STREQ(error_code_name(ErrorCode::kIo), "I/O error");
}

}  // namespace
}  // namespace salvo
