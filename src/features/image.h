// Image features computed as torchvision computes them on a Pillow image:
//   Image.open -> ImageOps.exif_transpose -> convert("RGB") -> Resize(resize) (bilinear, Pillow's
//   antialiasing convolution) -> CenterCrop(crop) -> ToTensor() -> Normalize(mean, std).
// The pieces are exposed for tests; a session uses make_image_featurizer().
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "salvo/featurizer.h"

namespace salvo::image {

// 8-bit RGB pixels, row-major, interleaved.
struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;  // width * height * 3
};

// The most pixels a decoded image may have (Pillow's decompression-bomb error threshold).
constexpr int64_t kMaxPixels = 178956970;

// Decodes JPEG (libjpeg-turbo; EXIF orientation applied), PNG (libpng), WebP (libwebp) or GIF
// (giflib, first frame) into RGB as Pillow's convert("RGB") gives it: alpha dropped, palettes and
// grey expanded, 16-bit samples reduced to their high byte. Returns "" or why it cannot.
std::string decode_image(std::string_view bytes, RgbImage* out);

// Turns an image as EXIF orientation `orientation` (1-8) says (Pillow's exif_transpose).
RgbImage apply_orientation(const RgbImage& in, int orientation);

// Which code the horizontal pass runs: the widest the CPU supports (AVX-512 or scalar), or the
// scalar loop, which tests compare the wide code against. Both give the same pixels.
enum class ResizeKernel { kBest, kScalar };

// Pillow's Image.resize(size, BILINEAR): a separable triangle-filter convolution whose support
// grows with the reduction (antialiasing), in 22-bit fixed point, horizontal pass first.
RgbImage resize_bilinear(const RgbImage& in, int width, int height, ResizeKernel kernel = ResizeKernel::kBest);

// center_crop(resize_bilinear(in, width, height), crop_width, crop_height), pixel for pixel, without
// resizing what the crop drops.
RgbImage resize_and_crop(const RgbImage& in, int width, int height, int crop_width, int crop_height);

// torchvision's Resize(size) output size: the shorter side becomes `size`, the longer one
// int(size * long / short), in 64 bits: a strip resized to a large shorter side may not fit an int.
std::pair<int64_t, int64_t> resized_size(int width, int height, int size);

// torchvision's CenterCrop: offsets round((in - crop) / 2) half to even; a crop larger than the
// image pads it with zeros first.
RgbImage center_crop(const RgbImage& in, int width, int height);

}  // namespace salvo::image
