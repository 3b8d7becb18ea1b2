// Numerically stable softmax over rows.
#pragma once

#include <cstdint>

namespace salvo {

// Replaces x[0..n) with softmax(x) (max subtracted first). Single-threaded.
void softmax(float* x, int64_t n);

// Applies softmax to each of `rows` rows of n floats, rows `ld` floats apart. Single-threaded.
void softmax_rows(float* x, int64_t rows, int64_t n, int64_t ld);

}  // namespace salvo
