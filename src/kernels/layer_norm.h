// Layer normalisation over the last dimension. (The residual add before it runs in the linear
// layer's output stage: LinearEpilogue::accumulate in kernels/gemm.h.)
#pragma once

#include <cstdint>

namespace salvo {

// y[r] = (x[r] - mean) / sqrt(var + eps) * gamma + beta for each of `rows` rows of `n` floats.
// y may alias x. Uses all OpenMP threads.
void layer_norm(const float* x, const float* gamma, const float* beta, int64_t rows, int64_t n,
                float eps, float* y);

}  // namespace salvo
