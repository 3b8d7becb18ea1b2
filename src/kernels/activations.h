// Element-wise activation functions of the feed-forward layers.
#pragma once

#include <cstdint>

namespace salvo {

// The hidden_act values salvo runs.
enum class Activation {
  kGeluErf,   // 0.5 x (1 + erf(x / sqrt 2)): Hugging Face "gelu"
  kGeluTanh,  // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))): "gelu_new", "gelu_pytorch_tanh"
  kRelu,      // max(x, 0)
};

// Applies `act` to x[0..n) in place. Uses all OpenMP threads for large n.
void apply_activation(Activation act, float* x, int64_t n);

// Single-threaded versions, callable from inside a parallel region.
void apply_activation_serial(Activation act, float* x, int64_t n);
void gelu_erf(float* x, int64_t n);
void gelu_tanh(float* x, int64_t n);
void relu(float* x, int64_t n);
// y = tanh(x) element-wise; y may alias x.
void tanh_inplace(float* x, int64_t n);

}  // namespace salvo
