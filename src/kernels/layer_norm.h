// Layer normalisation over the last dimension, optionally fused with the residual add before it.
#pragma once

#include <cstdint>

namespace salvo {

// y[r] = (x[r] - mean) / sqrt(var + eps) * gamma + beta for each of `rows` rows of `n` floats.
// y may alias x. Uses all OpenMP threads.
void layer_norm(const float* x, const float* gamma, const float* beta, int64_t rows, int64_t n,
                float eps, float* y);

// y = layer_norm(x + residual): the residual add and normalisation in one pass over memory.
// y may alias x or residual. Uses all OpenMP threads.
void add_layer_norm(const float* x, const float* residual, const float* gamma, const float* beta,
                    int64_t rows, int64_t n, float eps, float* y);

}  // namespace salvo
