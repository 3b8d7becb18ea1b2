// The image pipeline against plain references: the resize against a floating-point convolution
// with the same triangle filter, orientations against their definitions, crop offsets against
// torchvision's rounding; decoders on images written by the same libraries and on bad bytes.
#include "features/image.h"

#include <gtest/gtest.h>
#include <png.h>

#include <cmath>
#include <random>

#include "salvo/error.h"

namespace salvo::image {
namespace {

RgbImage random_image(int w, int h, unsigned seed) {
  std::mt19937 rng(seed);
  RgbImage img{w, h, std::vector<uint8_t>(static_cast<size_t>(w) * h * 3)};
  for (auto& p : img.pixels) p = static_cast<uint8_t>(rng() % 256);
  return img;
}

// One axis of an antialiased triangle-filter resize in double precision, rounded to 8 bits.
std::vector<double> reference_axis(const std::vector<double>& in, int out_size) {
  const int n = static_cast<int>(in.size());
  const double scale = static_cast<double>(n) / out_size, fs = std::max(1.0, scale);
  std::vector<double> out(out_size);
  for (int o = 0; o < out_size; ++o) {
    const double center = (o + 0.5) * scale;
    double sum = 0, total = 0;
    for (int i = 0; i < n; ++i) {
      const double w = std::max(0.0, 1.0 - std::fabs((i + 0.5 - center) / fs));
      sum += w * in[i];
      total += w;
    }
    out[o] = std::clamp(std::round(sum / total), 0.0, 255.0);
  }
  return out;
}

TEST(ImageResizeTest, MatchesAFloatingPointTriangleFilterWithinOneLevel) {
  for (auto [w, h, ow, oh] : {std::tuple{97, 61, 40, 25}, {64, 48, 128, 96}, {300, 7, 17, 7}, {5, 200, 5, 33}}) {
    const RgbImage in = random_image(w, h, static_cast<unsigned>(w * h));
    const RgbImage got = resize_bilinear(in, ow, oh);
    ASSERT_EQ(got.width, ow);
    ASSERT_EQ(got.height, oh);
    // The reference: rows first, rounded to 8 bits as the real two-pass resize is, then columns.
    std::vector<double> mid(static_cast<size_t>(ow) * h * 3);
    for (int y = 0; y < h; ++y) {
      for (int c = 0; c < 3; ++c) {
        std::vector<double> row(w);
        for (int x = 0; x < w; ++x) row[x] = in.pixels[(y * w + x) * 3 + c];
        const auto r = ow == w ? row : reference_axis(row, ow);
        for (int x = 0; x < ow; ++x) mid[(y * ow + x) * 3 + c] = r[x];
      }
    }
    int worst = 0;
    for (int x = 0; x < ow; ++x) {
      for (int c = 0; c < 3; ++c) {
        std::vector<double> col(h);
        for (int y = 0; y < h; ++y) col[y] = mid[(y * ow + x) * 3 + c];
        const auto r = oh == h ? col : reference_axis(col, oh);
        for (int y = 0; y < oh; ++y) {
          worst = std::max(worst, std::abs(static_cast<int>(got.pixels[(y * ow + x) * 3 + c]) - static_cast<int>(r[y])));
        }
      }
    }
    EXPECT_LE(worst, 1) << w << "x" << h << " -> " << ow << "x" << oh;
  }
}

TEST(ImageResizeTest, AConstantImageStaysConstant) {
  RgbImage in{50, 30, std::vector<uint8_t>(50 * 30 * 3, 200)};
  const RgbImage out = resize_bilinear(in, 13, 77);
  for (uint8_t p : out.pixels) EXPECT_EQ(p, 200);
}

// The featurizer resizes only the window a centre crop keeps; its pixels must be the whole resize's.
TEST(ImageResizeTest, ResizingOnlyTheCroppedWindowGivesTheCropOfTheWholeResize) {
  const std::tuple<int, int, int, int, int, int> cases[] = {
      {640, 480, 341, 256, 224, 224},  // a photo: both passes, odd horizontal offset
      {97, 61, 40, 25, 33, 20},        // odd sizes and offsets
      {48, 48, 256, 256, 224, 224},    // enlarged
      {300, 7, 17, 7, 9, 7},           // horizontal pass only
      {5, 200, 5, 33, 3, 30},          // vertical pass only
      {64, 48, 40, 30, 40, 30},        // no crop
      {30, 20, 15, 10, 20, 12}};       // a crop larger than the image: padded, as torchvision pads
  for (auto [w, h, rw, rh, cw, ch] : cases) {
    const RgbImage in = random_image(w, h, static_cast<unsigned>(w + 7 * h));
    const RgbImage want = center_crop(resize_bilinear(in, rw, rh), cw, ch);
    const RgbImage got = resize_and_crop(in, rw, rh, cw, ch);
    ASSERT_EQ(got.width, cw);
    ASSERT_EQ(got.height, ch);
    EXPECT_EQ(got.pixels, want.pixels) << w << "x" << h << " -> " << rw << "x" << rh << ", crop " << cw << "x" << ch;
  }
}

// The AVX-512 horizontal pass (where the CPU has it) must give the scalar loop's pixels exactly:
// for one to five groups of four taps (enlarging, then reductions of 1.05x to 7.5x), on the last
// row and tiny images, whose loads would pass the image's end and take the scalar loop, and for
// widths that leave one to three positions after the blocks of four.
TEST(ImageResizeTest, TheWideHorizontalPassGivesTheScalarPixels) {
  for (auto [w, h, ow] : {std::tuple{48, 3, 257}, {1, 1, 3}, {23, 2, 22}, {640, 9, 341}, {97, 4, 40}, {7, 2, 5},
                          {1000, 5, 223}, {4, 1, 1}, {1000, 2, 150}, {300, 3, 40}}) {
    RgbImage in = random_image(w, h, static_cast<unsigned>(3 * w + h));
    // Saturated corners: sums whose rounding reaches 255, and zeros.
    in.pixels.front() = 255;
    in.pixels.back() = 0;
    const RgbImage wide = resize_bilinear(in, ow, h, ResizeKernel::kBest);
    const RgbImage scalar = resize_bilinear(in, ow, h, ResizeKernel::kScalar);
    EXPECT_EQ(wide.pixels, scalar.pixels) << w << "x" << h << " -> " << ow;
  }
  // And on seeded random shapes: 1 to 700 pixels wide, from 12x smaller to 2x larger.
  std::mt19937 rng(2026);
  for (int i = 0; i < 60; ++i) {
    const int w = 1 + static_cast<int>(rng() % 700), h = 1 + static_cast<int>(rng() % 4);
    const int ow = std::max(1, static_cast<int>(w * (0.08 + (rng() % 1000) / 500.0)));
    const RgbImage in = random_image(w, h, rng());
    EXPECT_EQ(resize_bilinear(in, ow, h, ResizeKernel::kBest).pixels,
              resize_bilinear(in, ow, h, ResizeKernel::kScalar).pixels)
        << w << "x" << h << " -> " << ow;
  }
  const RgbImage white{300, 2, std::vector<uint8_t>(300 * 2 * 3, 255)};
  for (uint8_t p : resize_bilinear(white, 111, 2).pixels) ASSERT_EQ(p, 255);
}

TEST(ImageGeometryTest, ResizedSizeAndCropOffsetsFollowTorchvision) {
  EXPECT_EQ(resized_size(640, 480, 256), (std::pair<int64_t, int64_t>{341, 256}));
  EXPECT_EQ(resized_size(480, 640, 256), (std::pair<int64_t, int64_t>{256, 341}));
  EXPECT_EQ(resized_size(100, 100, 32), (std::pair<int64_t, int64_t>{32, 32}));
  // (5 - 2) / 2 = 1.5 rounds to 2 (half to even), (7 - 2) / 2 = 2.5 rounds to 2.
  RgbImage in{7, 5, {}};
  for (int i = 0; i < 35; ++i) in.pixels.insert(in.pixels.end(), {uint8_t(i % 7), uint8_t(i / 7), 0});
  const RgbImage out = center_crop(in, 2, 2);
  EXPECT_EQ(out.pixels[0], 2) << "left";
  EXPECT_EQ(out.pixels[1], 2) << "top";
  // A larger crop pads with zeros, the odd pixel after the image.
  const RgbImage padded = center_crop(in, 10, 5);
  EXPECT_EQ(padded.pixels[2 * 3], 1) << "left padding is (10 - 7) / 2 = 1: image x = 1 at column 2";
  EXPECT_EQ(padded.pixels[7 * 3], 6) << "the image's last column";
  EXPECT_EQ(padded.pixels[8 * 3 + 1], 0) << "right padding: (10 - 7 + 1) / 2 = 2 columns";
  EXPECT_EQ(padded.pixels[(4 * 10 + 7) * 3 + 1], 4) << "the image's last row, last column";
}

TEST(ImageGeometryTest, OrientationsTurnAsExifSays) {
  // 3 x 2 image whose pixel value encodes its position.
  RgbImage in{3, 2, {}};
  for (int y = 0; y < 2; ++y) {
    for (int x = 0; x < 3; ++x) in.pixels.insert(in.pixels.end(), {uint8_t(x), uint8_t(y), 0});
  }
  auto at = [](const RgbImage& img, int x, int y) { return std::pair<int, int>{img.pixels[(y * img.width + x) * 3], img.pixels[(y * img.width + x) * 3 + 1]}; };
  const RgbImage r6 = apply_orientation(in, 6);  // shown turned a quarter clockwise
  ASSERT_EQ(r6.width, 2);
  ASSERT_EQ(r6.height, 3);
  EXPECT_EQ(at(r6, 0, 0), (std::pair{0, 1})) << "the bottom-left pixel comes to the top-left";
  EXPECT_EQ(at(r6, 1, 0), (std::pair{0, 0}));
  const RgbImage r8 = apply_orientation(in, 8);
  EXPECT_EQ(at(r8, 0, 0), (std::pair{2, 0})) << "the top-right pixel comes to the top-left";
  EXPECT_EQ(at(apply_orientation(in, 3), 0, 0), (std::pair{2, 1}));
  EXPECT_EQ(at(apply_orientation(in, 2), 0, 0), (std::pair{2, 0}));
  EXPECT_EQ(at(apply_orientation(in, 4), 0, 0), (std::pair{0, 1}));
  EXPECT_EQ(at(apply_orientation(in, 5), 1, 0), (std::pair{0, 1}));
  EXPECT_EQ(at(apply_orientation(in, 7), 0, 0), (std::pair{2, 1}));
  EXPECT_EQ(apply_orientation(apply_orientation(in, 6), 8).pixels, in.pixels);
}

std::string png_bytes(const RgbImage& img, bool alpha) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = img.width;
  image.height = img.height;
  image.format = alpha ? PNG_FORMAT_RGBA : PNG_FORMAT_RGB;
  std::vector<uint8_t> pixels;
  for (size_t i = 0; i < img.pixels.size(); i += 3) {
    pixels.insert(pixels.end(), img.pixels.begin() + i, img.pixels.begin() + i + 3);
    if (alpha) pixels.push_back(static_cast<uint8_t>(i % 256));
  }
  png_alloc_size_t size = 0;
  png_image_write_to_memory(&image, nullptr, &size, 0, pixels.data(), 0, nullptr);
  std::string out(size, '\0');
  png_image_write_to_memory(&image, out.data(), &size, 0, pixels.data(), 0, nullptr);
  out.resize(size);
  return out;
}

TEST(ImageDecodeTest, PngPixelsComeBackAndAlphaIsDropped) {
  const RgbImage img = random_image(17, 9, 3);
  for (bool alpha : {false, true}) {
    RgbImage got;
    ASSERT_EQ(decode_image(png_bytes(img, alpha), &got), "");
    EXPECT_EQ(got.width, 17);
    EXPECT_EQ(got.height, 9);
    EXPECT_EQ(got.pixels, img.pixels) << "alpha " << alpha;
  }
}

TEST(ImageDecodeTest, BadBytesAreErrorsNotThrows) {
  RgbImage got;
  const std::string png = png_bytes(random_image(40, 40, 1), false);
  EXPECT_NE(decode_image(png.substr(0, png.size() / 2), &got), "");
  EXPECT_NE(decode_image("\xFF\xD8\xFF\xE0 not really a jpeg", &got), "");
  EXPECT_NE(decode_image("GIF89a\x01", &got), "");
  EXPECT_NE(decode_image(std::string("RIFF\0\0\0\0WEBPVP8 ", 16), &got), "");
  EXPECT_EQ(decode_image("hello, I am text", &got), "not a JPEG, PNG, WebP or GIF image");
  EXPECT_EQ(decode_image("", &got), "empty file: no image");
}

TEST(ImageFeaturizerTest, NormalisesChannelsFirstOrKeepsRawPixels) {
  const RgbImage img = random_image(8, 6, 5);
  ImageOptions o;
  o.resize = 0;
  o.crop = 4;
  Features f;
  ASSERT_EQ(make_image_featurizer(o)->featurize(png_bytes(img, false), &f), "");
  EXPECT_EQ(f.shape, (std::vector<int64_t>{3, 4, 4}));
  const int left = 2, top = 1;  // (8 - 4) / 2, (6 - 4) / 2
  const uint8_t v = img.pixels[((top + 1) * 8 + left + 2) * 3 + 1];
  EXPECT_FLOAT_EQ(f.values[16 + 1 * 4 + 2], (v / 255.0f - 0.456f) / 0.224f);
  o.raw = true;
  Features raw;
  ASSERT_EQ(make_image_featurizer(o)->featurize(png_bytes(img, false), &raw), "");
  EXPECT_EQ(raw.shape, (std::vector<int64_t>{4, 4, 3}));
  EXPECT_EQ(raw.bytes[(1 * 4 + 2) * 3 + 1], v);
  o.std = {1, 0, 1};
  EXPECT_THROW(make_image_featurizer(o), Error);
  // One value for all three channels, as torchvision's Normalize([0.5], [0.5]).
  o.raw = false;
  o.mean = {0.5f};
  o.std = {0.5f};
  Features one;
  ASSERT_EQ(make_image_featurizer(o)->featurize(png_bytes(img, false), &one), "");
  EXPECT_FLOAT_EQ(one.values[16 + 1 * 4 + 2], (v / 255.0f - 0.5f) / 0.5f);
  o.std = {0.5f, 0.5f};
  EXPECT_THROW(make_image_featurizer(o), Error);
}

}  // namespace
}  // namespace salvo::image
