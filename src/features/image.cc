#include "features/image.h"

#include <gif_lib.h>
#include <jpeglib.h>
// jpeglib.h first: jerror.h needs its types.
#include <jerror.h>
#include <libexif/exif-data.h>
#include <png.h>
#include <webp/decode.h>
#include <webp/demux.h>
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <csetjmp>
#include <cstring>
#include <sstream>
#include <tuple>

#include "kernels/vec_math.h"  // SALVO_TARGET_CLONES
#include "salvo/error.h"

namespace salvo::image {
namespace {

std::string too_large(int64_t width, int64_t height) {
  return "image of " + std::to_string(width) + " x " + std::to_string(height) + " pixels is over the limit of " +
         std::to_string(kMaxPixels) + " pixels";
}

bool starts_with(std::string_view bytes, std::string_view magic) { return bytes.substr(0, magic.size()) == magic; }

// --- JPEG ---------------------------------------------------------------------------------------

struct JpegError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  bool truncated = false;
};

void jpeg_fail(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, e->message);
  std::longjmp(e->jump, 1);
}

void jpeg_message(j_common_ptr cinfo, int level) {
  auto* e = reinterpret_cast<JpegError*>(cinfo->err);
  // A file that ends early decodes as grey below the cut; Pillow refuses it ("image file is
  // truncated"), and so do we. Other warnings (extraneous bytes) are harmless, as in Pillow.
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) e->truncated = true;
}

constexpr std::string_view kExifHeader("Exif\0\0", 6);

// The orientation (1-8) an EXIF block gives: a JPEG APP1 segment's ("Exif\0\0" and a TIFF
// structure) or, as PNG's eXIf chunk and WebP's EXIF chunk hold it, the TIFF structure alone, with
// or without that header (Pillow reads both). 1 when absent or unreadable.
int exif_orientation(std::string_view block) {
  std::string with_header;
  if (!block.starts_with(kExifHeader)) {  // libexif finds the TIFF structure after the header
    with_header.append(kExifHeader).append(block);
    block = with_header;
  }
  ExifData* exif = exif_data_new_from_data(reinterpret_cast<const unsigned char*>(block.data()),
                                           static_cast<unsigned int>(block.size()));
  if (!exif) return 1;
  int orientation = 1;
  if (ExifEntry* entry = exif_content_get_entry(exif->ifd[EXIF_IFD_0], EXIF_TAG_ORIENTATION);
      entry && entry->format == EXIF_FORMAT_SHORT && entry->components >= 1) {
    orientation = exif_get_short(entry->data, exif_data_get_byte_order(exif));
  }
  exif_data_unref(exif);
  return orientation >= 1 && orientation <= 8 ? orientation : 1;
}

// EXIF orientation from a JPEG's first EXIF APP1 segment.
int exif_orientation(const jpeg_decompress_struct& cinfo) {
  for (jpeg_saved_marker_ptr m = cinfo.marker_list; m; m = m->next) {
    const std::string_view data(reinterpret_cast<const char*>(m->data), m->data_length);
    if (m->marker == JPEG_APP0 + 1 && data.starts_with(kExifHeader)) return exif_orientation(data);
  }
  return 1;
}

std::string decode_jpeg(std::string_view bytes, RgbImage* out) {
  jpeg_decompress_struct cinfo{};
  JpegError error{};
  std::vector<uint8_t> row;
  int orientation = 1;
  cinfo.err = jpeg_std_error(&error.mgr);
  error.mgr.error_exit = jpeg_fail;
  error.mgr.emit_message = jpeg_message;
  // Everything that must survive a longjmp is declared above; nothing with a destructor is made
  // below until the decoder is done.
  if (setjmp(error.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return std::string("corrupt JPEG: ") + error.message;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<unsigned long>(bytes.size()));
  jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xFFFF);
  jpeg_read_header(&cinfo, TRUE);
  if (static_cast<int64_t>(cinfo.image_width) * cinfo.image_height > kMaxPixels) {
    std::string message = too_large(cinfo.image_width, cinfo.image_height);
    jpeg_destroy_decompress(&cinfo);
    return message;
  }
  orientation = exif_orientation(cinfo);
  const bool cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
  cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  out->width = static_cast<int>(cinfo.output_width);
  out->height = static_cast<int>(cinfo.output_height);
  out->pixels.resize(static_cast<size_t>(out->width) * out->height * 3);
  if (cmyk) row.resize(static_cast<size_t>(cinfo.output_width) * cinfo.output_components);
  while (cinfo.output_scanline < cinfo.output_height) {
    const size_t y = cinfo.output_scanline;
    uint8_t* dst = out->pixels.data() + y * out->width * 3;
    JSAMPROW rows[1] = {cmyk ? row.data() : dst};  // RGB rows are decoded in place
    jpeg_read_scanlines(&cinfo, rows, 1);
    if (!cmyk) continue;
    // Adobe's inverted CMYK, as Pillow reads it ("CMYK;I") and converts it to RGB.
    for (int x = 0; x < out->width; ++x) {
      const int k = row[x * 4 + 3];
      for (int c = 0; c < 3; ++c) dst[x * 3 + c] = static_cast<uint8_t>(row[x * 4 + c] * k / 255);
    }
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  if (error.truncated) return "truncated JPEG: the data ends before the image does";
  if (orientation != 1) *out = apply_orientation(*out, orientation);
  return "";
}

// --- PNG ----------------------------------------------------------------------------------------

struct PngReader {
  std::string_view bytes;
  size_t pos = 0;
  char message[256] = {};
};

void png_read_memory(png_structp png, png_bytep data, png_size_t length) {
  auto* r = static_cast<PngReader*>(png_get_io_ptr(png));
  if (length > r->bytes.size() - r->pos) png_error(png, "the data ends before the image does (truncated)");
  std::memcpy(data, r->bytes.data() + r->pos, length);
  r->pos += length;
}

void png_fail(png_structp png, png_const_charp message) {
  auto* r = static_cast<PngReader*>(png_get_error_ptr(png));
  std::snprintf(r->message, sizeof(r->message), "%s", message);
  png_longjmp(png, 1);
}

void png_warn(png_structp, png_const_charp) {}

// The whole file is in memory, so a chunk that claims more bytes than follow it is corrupt: it is
// refused before libpng sees it, since libpng allocates a chunk's claimed length before reading it
// (a 300-byte file with a tEXt chunk of 1 GB, found by fuzz_features).
std::string check_png_chunk_lengths(std::string_view bytes) {
  size_t pos = 8;  // after the signature
  while (pos + 8 <= bytes.size()) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + pos);
    const uint64_t length = (uint64_t{p[0]} << 24) | (uint64_t{p[1]} << 16) | (uint64_t{p[2]} << 8) | p[3];
    const std::string_view type = bytes.substr(pos + 4, 4);
    if (length + 12 > bytes.size() - pos) {
      return "corrupt PNG: chunk '" + std::string(type) + "' at byte " + std::to_string(pos) + " claims " +
             std::to_string(length) + " bytes, more than the file holds";
    }
    if (type == "IEND") break;
    pos += 12 + length;
  }
  return "";
}

std::string decode_png(std::string_view bytes, RgbImage* out) {
  if (std::string error = check_png_chunk_lengths(bytes); !error.empty()) return error;
  PngReader reader{bytes};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &reader, png_fail, png_warn);
  if (!png) return "cannot start libpng";
  png_infop info = png_create_info_struct(png);
  std::vector<png_bytep> rows;
  if (!info || setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    return std::string("corrupt PNG: ") + reader.message;
  }
  png_set_read_fn(png, &reader, png_read_memory);
  png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
  // An ancillary chunk (text, ICC profile) that inflates to more than 16 MB is refused.
  png_set_chunk_malloc_max(png, 16 << 20);
  png_set_chunk_cache_max(png, 1000);
  png_read_info(png, info);
  const png_uint_32 width = png_get_image_width(png, info);
  const png_uint_32 height = png_get_image_height(png, info);
  if (static_cast<int64_t>(width) * height > kMaxPixels) {
    std::string message = too_large(width, height);
    png_destroy_read_struct(&png, &info, nullptr);
    return message;
  }
  // convert("RGB"): palettes to their colours (transparency ignored), grey widened, alpha dropped,
  // 16-bit samples to their high byte (Pillow's "RGB;16B" reading).
  const int color = png_get_color_type(png, info);
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(png, info) < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (png_get_bit_depth(png, info) == 16) png_set_strip_16(png);
  if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
  // A palette's transparency (tRNS) comes out of png_set_palette_to_rgb as an alpha channel.
  const bool palette_alpha = color == PNG_COLOR_TYPE_PALETTE && png_get_valid(png, info, PNG_INFO_tRNS);
  if ((color & PNG_COLOR_MASK_ALPHA) || palette_alpha) png_set_strip_alpha(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  if (png_get_rowbytes(png, info) != static_cast<size_t>(width) * 3) {
    png_destroy_read_struct(&png, &info, nullptr);
    return "unsupported PNG layout";
  }
  out->width = static_cast<int>(width);
  out->height = static_cast<int>(height);
  out->pixels.resize(static_cast<size_t>(width) * height * 3);
  rows.resize(height);
  for (png_uint_32 y = 0; y < height; ++y) rows[y] = out->pixels.data() + static_cast<size_t>(y) * width * 3;
  png_read_image(png, rows.data());
  png_read_end(png, info);  // an eXIf chunk may come after the image data
  png_uint_32 exif_size = 0;
  png_bytep exif = nullptr;
  const int orientation = png_get_eXIf_1(png, info, &exif_size, &exif) != 0
                              ? exif_orientation({reinterpret_cast<const char*>(exif), exif_size})
                              : 1;
  png_destroy_read_struct(&png, &info, nullptr);
  if (orientation != 1) *out = apply_orientation(*out, orientation);
  return "";
}

// --- WebP ---------------------------------------------------------------------------------------

std::string decode_webp(std::string_view bytes, RgbImage* out) {
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  WebPData whole{data, bytes.size()};
  // An animation's first frame; a still image is its own first frame.
  WebPDemuxer* demux = WebPDemux(&whole);
  if (!demux) return "corrupt WebP: the container cannot be parsed";
  WebPIterator frame{};
  std::string error;
  if (!WebPDemuxGetFrame(demux, 1, &frame)) {
    WebPDemuxDelete(demux);
    return "corrupt WebP: no frame";
  }
  int width = 0, height = 0;
  if (!WebPGetInfo(frame.fragment.bytes, frame.fragment.size, &width, &height)) {
    error = "corrupt WebP: bad frame header";
  } else if (static_cast<int64_t>(width) * height > kMaxPixels) {
    error = too_large(width, height);
  } else {
    out->width = width;
    out->height = height;
    out->pixels.resize(static_cast<size_t>(width) * height * 3);
    // RGB without alpha: the colours as stored, as Pillow's convert("RGB") keeps them.
    if (!WebPDecodeRGBInto(frame.fragment.bytes, frame.fragment.size, out->pixels.data(), out->pixels.size(),
                           width * 3)) {
      error = "corrupt WebP: the image data cannot be decoded";
    }
  }
  WebPDemuxReleaseIterator(&frame);
  int orientation = 1;
  WebPChunkIterator exif{};
  if (error.empty() && (WebPDemuxGetI(demux, WEBP_FF_FORMAT_FLAGS) & EXIF_FLAG) &&
      WebPDemuxGetChunk(demux, "EXIF", 1, &exif)) {
    orientation = exif_orientation({reinterpret_cast<const char*>(exif.chunk.bytes), exif.chunk.size});
    WebPDemuxReleaseChunkIterator(&exif);
  }
  WebPDemuxDelete(demux);
  if (orientation != 1) *out = apply_orientation(*out, orientation);
  return error;
}

// --- GIF ----------------------------------------------------------------------------------------

struct GifReader {
  std::string_view bytes;
  size_t pos = 0;
};

int gif_read_memory(GifFileType* gif, GifByteType* buffer, int length) {
  auto* r = static_cast<GifReader*>(gif->UserData);
  const size_t n = std::min(static_cast<size_t>(length), r->bytes.size() - r->pos);
  std::memcpy(buffer, r->bytes.data() + r->pos, n);
  r->pos += n;
  return static_cast<int>(n);
}

std::string decode_gif(std::string_view bytes, RgbImage* out) {
  GifReader reader{bytes};
  int code = 0;
  GifFileType* gif = DGifOpen(&reader, gif_read_memory, &code);
  if (!gif) return std::string("corrupt GIF: ") + GifErrorString(code);
  auto fail = [&](const std::string& what) {
    const char* reason = GifErrorString(gif->Error);
    DGifCloseFile(gif, &code);
    return "corrupt GIF: " + what + (reason ? std::string(" (") + reason + ")" : std::string());
  };
  const int64_t width = gif->SWidth, height = gif->SHeight;
  if (width * height > kMaxPixels) {
    DGifCloseFile(gif, &code);
    return too_large(width, height);
  }
  if (width <= 0 || height <= 0) return fail("empty screen");
  int transparent = -1;
  for (;;) {
    GifRecordType type;
    if (DGifGetRecordType(gif, &type) == GIF_ERROR) return fail("bad record");
    if (type == TERMINATE_RECORD_TYPE) {
      DGifCloseFile(gif, &code);
      return "GIF without an image";
    }
    if (type == EXTENSION_RECORD_TYPE) {
      int ext_code = 0;
      GifByteType* ext = nullptr;
      if (DGifGetExtension(gif, &ext_code, &ext) == GIF_ERROR) return fail("bad extension");
      GraphicsControlBlock control;
      if (ext_code == GRAPHICS_EXT_FUNC_CODE && ext && ext[0] >= 4 &&
          DGifExtensionToGCB(ext[0], ext + 1, &control) == GIF_OK) {
        transparent = control.TransparentColor;  // the next image's, -1 for none
      }
      while (ext) {
        if (DGifGetExtensionNext(gif, &ext) == GIF_ERROR) return fail("bad extension");
      }
      continue;
    }
    if (type != IMAGE_DESC_RECORD_TYPE) continue;
    if (DGifGetImageDesc(gif) == GIF_ERROR) return fail("bad image descriptor");
    const GifImageDesc& desc = gif->Image;
    const ColorMapObject* colors = desc.ColorMap ? desc.ColorMap : gif->SColorMap;
    if (!colors) return fail("no colour table");
    if (desc.Width <= 0 || desc.Height <= 0 || static_cast<int64_t>(desc.Width) * desc.Height > kMaxPixels) {
      return fail("bad frame size");
    }
    std::vector<GifPixelType> indices(static_cast<size_t>(desc.Width) * desc.Height);
    // Interlaced images store rows in four passes.
    std::vector<int> order;
    if (desc.Interlace) {
      for (int pass = 0; pass < 4; ++pass) {
        static const int kStart[4] = {0, 4, 2, 1}, kStep[4] = {8, 8, 4, 2};
        for (int y = kStart[pass]; y < desc.Height; y += kStep[pass]) order.push_back(y);
      }
    } else {
      for (int y = 0; y < desc.Height; ++y) order.push_back(y);
    }
    for (int y : order) {
      if (DGifGetLine(gif, indices.data() + static_cast<size_t>(y) * desc.Width, desc.Width) == GIF_ERROR) {
        return fail("truncated image data");
      }
    }
    // The frame on the logical screen; outside it, as Pillow fills the first frame's canvas: the
    // transparent index when the frame has one, else index 0 (not the screen's background colour).
    out->width = static_cast<int>(width);
    out->height = static_cast<int>(height);
    out->pixels.assign(static_cast<size_t>(width * height * 3), 0);
    auto put = [&](size_t at, int index) {
      if (index < 0 || index >= colors->ColorCount) return;
      out->pixels[at] = colors->Colors[index].Red;
      out->pixels[at + 1] = colors->Colors[index].Green;
      out->pixels[at + 2] = colors->Colors[index].Blue;
    };
    const int fill = transparent >= 0 ? transparent : 0;
    for (int64_t i = 0; i < width * height; ++i) put(static_cast<size_t>(i) * 3, fill);
    for (int y = 0; y < desc.Height; ++y) {
      const int64_t sy = desc.Top + y;
      if (sy < 0 || sy >= height) continue;
      for (int x = 0; x < desc.Width; ++x) {
        const int64_t sx = desc.Left + x;
        if (sx < 0 || sx >= width) continue;
        put(static_cast<size_t>(sy * width + sx) * 3, indices[static_cast<size_t>(y) * desc.Width + x]);
      }
    }
    DGifCloseFile(gif, &code);
    return "";
  }
}

// --- resampling ---------------------------------------------------------------------------------

constexpr int kPrecisionBits = 32 - 8 - 2;  // fixed-point bits of a weight: sums of 255 * 2^22 fit

// Each output position's first input, count and fixed-point weights.
struct Taps {
  int ksize = 0;
  std::vector<int> first;
  std::vector<int> count;
  std::vector<int32_t> weights;  // out_size * ksize
};

Taps triangle_taps(int in_size, int out_size) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filter_scale = std::max(scale, 1.0);
  const double support = 1.0 * filter_scale;  // the triangle's support (1), widened to antialias
  Taps taps;
  taps.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  taps.first.resize(out_size);
  taps.count.resize(out_size);
  taps.weights.assign(static_cast<size_t>(out_size) * taps.ksize, 0);
  std::vector<double> w(static_cast<size_t>(taps.ksize));
  for (int o = 0; o < out_size; ++o) {
    const double center = (o + 0.5) * scale;
    // Truncation toward zero, then clamped: the input range the filter reaches.
    int first = static_cast<int>(center - support + 0.5);
    if (first < 0) first = 0;
    int last = static_cast<int>(center + support + 0.5);
    if (last > in_size) last = in_size;
    const int count = last - first;
    double total = 0;
    for (int i = 0; i < count; ++i) {
      const double x = std::fabs((i + first - center + 0.5) / filter_scale);
      w[i] = x < 1.0 ? 1.0 - x : 0.0;
      total += w[i];
    }
    for (int i = 0; i < count; ++i) {
      const double normalised = total != 0 ? w[i] / total : w[i];
      // Rounded half away from zero into fixed point.
      taps.weights[static_cast<size_t>(o) * taps.ksize + i] =
          static_cast<int32_t>(normalised * (1 << kPrecisionBits) + (normalised < 0 ? -0.5 : 0.5));
    }
    taps.first[o] = first;
    taps.count[o] = count;
  }
  return taps;
}

inline uint8_t clip8(int32_t sum) {
  const int32_t v = sum >> kPrecisionBits;
  return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

// The horizontal pass's weights laid out for four taps at a time: for each output position,
// groups of 16 lanes (tap i's weight for R, G and B, then a 0 for the lane a fourth byte lands in).
struct WideTaps {
  int groups = 0;                // four-tap groups per output position
  std::vector<int32_t> weights;  // out_size * groups * 16
};

WideTaps widen(const Taps& taps) {
  WideTaps wide;
  wide.groups = (taps.ksize + 3) / 4;
  const size_t out_size = taps.first.size();
  wide.weights.assign(out_size * wide.groups * 16, 0);
  for (size_t o = 0; o < out_size; ++o) {
    for (int i = 0; i < taps.count[o]; ++i) {
      int32_t* lane = wide.weights.data() + (o * wide.groups + i / 4) * 16 + (i % 4) * 4;
      lane[0] = lane[1] = lane[2] = taps.weights[o * taps.ksize + i];
    }
  }
  return wide;
}

void horizontal_row_scalar(const uint8_t* src, const Taps& taps, int o, uint8_t* dst) {
  const int32_t* k = taps.weights.data() + static_cast<size_t>(o) * taps.ksize;
  const uint8_t* p = src + static_cast<size_t>(taps.first[o]) * 3;
  int32_t r = 1 << (kPrecisionBits - 1), g = r, b = r;
  for (int i = 0; i < taps.count[o]; ++i) {
    r += p[i * 3] * k[i];
    g += p[i * 3 + 1] * k[i];
    b += p[i * 3 + 2] * k[i];
  }
  dst[0] = clip8(r);
  dst[1] = clip8(g);
  dst[2] = clip8(b);
}

// The horizontal pass on AVX-512. Its sums are the scalar loop's in another order, so the pixels
// are exact. A row whose loads would pass `src_end` (the image's last byte) takes the scalar loop.
// gcc 12 warns inside its own intrinsics headers here (their "undefined" pass-through operands).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#define SALVO_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))

// Position o's weighted sums over `groups` groups of four taps (taps past its count weigh 0): their
// 12 bytes are loaded as 16, spread to R G B 0 lanes, widened to 32 bits and multiplied by their
// weights. Lane block j holds the sums of the taps at j modulo 4. kGroups > 0 fixes the count.
template <int kGroups>
SALVO_AVX512 inline __m512i tap_sums(const uint8_t* src, const Taps& taps, const WideTaps& wide, int o, int groups) {
  const __m128i spread = _mm_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1);
  const uint8_t* p = src + static_cast<size_t>(taps.first[o]) * 3;
  const int32_t* k = wide.weights.data() + static_cast<size_t>(o) * wide.groups * 16;
  __m512i sum = _mm512_setzero_si512();
  for (int i = 0; i < (kGroups > 0 ? kGroups : groups); ++i) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i * 12));
    const __m512i lanes = _mm512_cvtepu8_epi32(_mm_shuffle_epi8(bytes, spread));
    sum = _mm512_add_epi32(sum, _mm512_mullo_epi32(lanes, _mm512_loadu_si512(k + i * 16)));
  }
  return sum;
}

// Four positions' pixels from their sums: two rounds of block shuffles sum each position's four
// lane blocks and leave position j's R, G, B, 0 in block j; then rounded, shifted, clamped, packed.
SALVO_AVX512 inline void store_four(__m512i s0, __m512i s1, __m512i s2, __m512i s3, uint8_t* dst) {
  const __m512i half = _mm512_set1_epi32(1 << (kPrecisionBits - 1));
  const __m128i pack = _mm_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
  const __m512i a = _mm512_add_epi32(_mm512_shuffle_i32x4(s0, s1, 0x44), _mm512_shuffle_i32x4(s0, s1, 0xEE));
  const __m512i b = _mm512_add_epi32(_mm512_shuffle_i32x4(s2, s3, 0x44), _mm512_shuffle_i32x4(s2, s3, 0xEE));
  __m512i rgb = _mm512_add_epi32(_mm512_shuffle_i32x4(a, b, 0x88), _mm512_shuffle_i32x4(a, b, 0xDD));
  rgb = _mm512_max_epi32(_mm512_srai_epi32(_mm512_add_epi32(rgb, half), kPrecisionBits), _mm512_setzero_si512());
  _mm_mask_storeu_epi8(dst, 0x0FFF, _mm_shuffle_epi8(_mm512_cvtusepi32_epi8(rgb), pack));
}

// Positions [begin, end), four at a time, when every one's loads of kGroups groups stay inside the
// row's buffer; the last one to three take the scalar loop.
template <int kGroups>
SALVO_AVX512 void horizontal_row_fixed(const uint8_t* src, const Taps& taps, const WideTaps& wide, int begin,
                                       int end, uint8_t* dst) {
  const int g = wide.groups;
  int o = begin;
  for (; o + 4 <= end; o += 4, dst += 12) {
    store_four(tap_sums<kGroups>(src, taps, wide, o, g), tap_sums<kGroups>(src, taps, wide, o + 1, g),
               tap_sums<kGroups>(src, taps, wide, o + 2, g), tap_sums<kGroups>(src, taps, wide, o + 3, g), dst);
  }
  for (; o < end; ++o, dst += 3) horizontal_row_scalar(src, taps, o, dst);
}

SALVO_AVX512
void horizontal_row_avx512(const uint8_t* src, const uint8_t* src_end, const Taps& taps, const WideTaps& wide,
                           int begin, int end, uint8_t* dst) {
  if (begin >= end) return;
  // The inputs grow with the position, so when the last position's loads of all groups fit, every
  // position's do: the case for every row but the image's last (and a tiny image's), which take
  // the scalar loop.
  const size_t room = static_cast<size_t>(src_end - src);
  if (static_cast<size_t>(taps.first[end - 1]) * 3 + static_cast<size_t>(wide.groups - 1) * 12 + 16 > room) {
    for (int o = begin; o < end; ++o, dst += 3) horizontal_row_scalar(src, taps, o, dst);
    return;
  }
  switch (wide.groups) {
    case 1: return horizontal_row_fixed<1>(src, taps, wide, begin, end, dst);
    case 2: return horizontal_row_fixed<2>(src, taps, wide, begin, end, dst);
    case 3: return horizontal_row_fixed<3>(src, taps, wide, begin, end, dst);
    default: return horizontal_row_fixed<0>(src, taps, wide, begin, end, dst);
  }
}
#undef SALVO_AVX512
#pragma GCC diagnostic pop

// Output columns [begin, end) of one row's horizontal pass, written from dst[0].
void horizontal_row(const uint8_t* src, const uint8_t* src_end, const Taps& taps, const WideTaps* wide, int begin,
                    int end, uint8_t* dst) {
  if (wide != nullptr) {
    horizontal_row_avx512(src, src_end, taps, *wide, begin, end, dst);
    return;
  }
  for (int o = begin; o < end; ++o, dst += 3) horizontal_row_scalar(src, taps, o, dst);
}

// One output row of the vertical pass: the weighted sum of `count` rows `stride` bytes apart.
SALVO_TARGET_CLONES
void vertical_row(const uint8_t* rows, size_t stride, const int32_t* k, int count, size_t width,
                  int32_t* sums, uint8_t* dst) {
  for (size_t x = 0; x < width; ++x) sums[x] = 1 << (kPrecisionBits - 1);
  for (int i = 0; i < count; ++i) {
    const uint8_t* row = rows + i * stride;
    const int32_t w = k[i];
    for (size_t x = 0; x < width; ++x) sums[x] += row[x] * w;
  }
  for (size_t x = 0; x < width; ++x) dst[x] = clip8(sums[x]);
}

// Buffers a thread keeps between images: the intermediate rows and the vertical pass's sums.
struct ResizeScratch {
  std::vector<uint8_t> rows;
  std::vector<int32_t> sums;
};

// A thread keeps an image's buffers for the next one up to this size; larger ones are freed after
// use, so that one huge image does not pin its memory in every featurizer thread.
constexpr size_t kKeptBufferBytes = size_t{64} << 20;

template <typename T>
void release_if_large(std::vector<T>* buffer) {
  if (buffer->capacity() * sizeof(T) > kKeptBufferBytes) *buffer = {};
}

// The window [left, left + out_width) x [top, top + out_height) of Pillow's bilinear resize of
// `in` to width x height. Only the input rows that the window's rows reach are resized
// horizontally, and only the window's columns: the pixels are those of the whole resize, which
// computes each output pixel from its own taps alone.
RgbImage resize_window(const RgbImage& in, int width, int height, int left, int top, int out_width,
                       int out_height, ResizeKernel kernel = ResizeKernel::kBest) {
  if (width < 1 || height < 1) throw Error(ErrorCode::kInvalidArgument, "resize to an empty image");
  thread_local ResizeScratch scratch;
  const size_t out_stride = static_cast<size_t>(out_width) * 3;
  const bool vertical = height != in.height;
  Taps vtaps;
  int row_begin = top, row_end = top + out_height;  // input rows the vertical pass reads
  if (vertical) {
    vtaps = triangle_taps(in.height, height);
    row_begin = vtaps.first[top];
    row_end = row_begin;
    for (int o = top; o < top + out_height; ++o) row_end = std::max(row_end, vtaps.first[o] + vtaps.count[o]);
  }
  RgbImage out{out_width, out_height, {}};
  out.pixels.resize(out_stride * out_height);
  // The horizontal pass writes straight into the output when no vertical pass follows.
  uint8_t* rows = out.pixels.data();
  if (vertical) {
    scratch.rows.resize(out_stride * (row_end - row_begin));
    rows = scratch.rows.data();
  }
  const size_t in_stride = static_cast<size_t>(in.width) * 3;
  if (width != in.width) {
    const Taps htaps = triangle_taps(in.width, width);
    static const bool has_avx512 = __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
    const bool avx512 = has_avx512 && kernel == ResizeKernel::kBest;
    const WideTaps wide = avx512 ? widen(htaps) : WideTaps{};
    const uint8_t* end = in.pixels.data() + in.pixels.size();
    for (int y = row_begin; y < row_end; ++y) {
      horizontal_row(in.pixels.data() + y * in_stride, end, htaps, avx512 ? &wide : nullptr, left, left + out_width,
                     rows + (y - row_begin) * out_stride);
    }
  } else {
    for (int y = row_begin; y < row_end; ++y) {
      std::memcpy(rows + (y - row_begin) * out_stride, in.pixels.data() + y * in_stride + left * 3, out_stride);
    }
  }
  if (vertical) {
    scratch.sums.resize(out_stride);
    for (int o = top; o < top + out_height; ++o) {
      vertical_row(rows + (vtaps.first[o] - row_begin) * out_stride, out_stride,
                   vtaps.weights.data() + static_cast<size_t>(o) * vtaps.ksize, vtaps.count[o], out_stride,
                   scratch.sums.data(), out.pixels.data() + (o - top) * out_stride);
    }
    release_if_large(&scratch.rows);
  }
  return out;
}

// Python's round() of (outer - inner) / 2: half to even, as nearbyint rounds in the default mode.
int centred_offset(int outer, int inner) { return static_cast<int>(std::nearbyint((outer - inner) / 2.0)); }

class ImageFeaturizer : public Featurizer {
 public:
  explicit ImageFeaturizer(const ImageOptions& options) : options_(options) {
    auto bad = [](const std::string& what) { throw Error(ErrorCode::kInvalidArgument, what); };
    if (options.resize < 0 || options.crop < 0) bad("--resize and --crop must not be negative");
    // One value serves all three channels, as torchvision's Normalize([0.5], [0.5]) takes it.
    if (options_.mean.size() == 1) options_.mean.assign(3, options_.mean[0]);
    if (options_.std.size() == 1) options_.std.assign(3, options_.std[0]);
    if (options_.mean.size() != 3 || options_.std.size() != 3) {
      bad("--mean and --std take three values (R,G,B), or one for all three");
    }
    for (float s : options_.std) {
      if (!(s > 0) || !std::isfinite(s)) bad("--std values must be positive numbers");
    }
    for (float m : options_.mean) {
      if (!std::isfinite(m)) bad("--mean values must be numbers");
    }
    for (int c = 0; c < 3; ++c) {
      for (int v = 0; v < 256; ++v) levels_[c][v] = (static_cast<float>(v) / 255.0f - options_.mean[c]) / options_.std[c];
    }
  }

  FeatureKind kind() const override { return options_.raw ? FeatureKind::kUInt8 : FeatureKind::kFloat32; }

  std::string describe() const override {
    std::string d = "image (";
    if (options_.resize) d += "shorter side " + std::to_string(options_.resize) + ", bilinear; ";
    if (options_.crop) d += "centre crop " + std::to_string(options_.crop) + "; ";
    d += options_.raw ? "uint8 HWC)" : "float32 CHW, normalised)";
    return d;
  }

  std::string settings() const override {
    std::ostringstream s;
    s.precision(9);
    s << "image resize=" << options_.resize << " crop=" << options_.crop << " raw=" << options_.raw << " mean=";
    for (float m : options_.mean) s << m << ',';
    s << " std=";
    for (float d : options_.std) s << d << ',';
    return s.str();
  }

  std::string featurize(std::string_view input, Features* out) const override {
    // The decoded image lives in a buffer this thread keeps, so the next one costs no fresh pages.
    thread_local RgbImage decoded;
    struct Release {
      ~Release() { release_if_large(&decoded.pixels); }
    } release;
    std::string error = decode_image(input, &decoded);
    if (!error.empty()) return error;
    const RgbImage* img = &decoded;
    RgbImage changed;
    int width = decoded.width, height = decoded.height;
    if (options_.resize > 0) {
      // A strip (100000 x 1 pixels, a few hundred bytes of PNG) resized to a shorter side of 224
      // would be 22 million pixels long: refused as the decoders refuse a large image.
      const auto [resized_width, resized_height] = resized_size(width, height, options_.resize);
      const double resized_pixels = static_cast<double>(resized_width) * static_cast<double>(resized_height);
      if (resized_pixels > static_cast<double>(kMaxPixels)) {
        return "image of " + std::to_string(width) + " x " + std::to_string(height) +
               " pixels resized to a shorter side of " + std::to_string(options_.resize) + " would be " +
               std::to_string(resized_width) + " x " + std::to_string(resized_height) + " pixels, over the limit of " +
               std::to_string(kMaxPixels);
      }
      width = static_cast<int>(resized_width);
      height = static_cast<int>(resized_height);
    }
    const int crop_width = options_.crop > 0 ? options_.crop : width;
    const int crop_height = options_.crop > 0 ? options_.crop : height;
    if (width != decoded.width || height != decoded.height) {
      changed = resize_and_crop(decoded, width, height, crop_width, crop_height);
      img = &changed;
    } else if (crop_width != width || crop_height != height) {
      changed = center_crop(decoded, crop_width, crop_height);
      img = &changed;
    }
    const size_t plane = static_cast<size_t>(img->width) * img->height;
    if (options_.raw) {
      out->bytes = img == &changed ? std::move(changed.pixels) : decoded.pixels;
      out->shape = {img->height, img->width, 3};
      return "";
    }
    // ToTensor then Normalize, channels first, by table: each of a channel's 256 levels was
    // computed once as they compute it.
    out->values.resize(plane * 3);
    const uint8_t* pixels = img->pixels.data();
    for (int c = 0; c < 3; ++c) {
      const float* level = levels_[c].data();
      float* dst = out->values.data() + c * plane;
      for (size_t i = 0; i < plane; ++i) dst[i] = level[pixels[i * 3 + c]];
    }
    out->shape = {3, img->height, img->width};
    return "";
  }

 private:
  ImageOptions options_;
  // ToTensor (/255 in float32) then Normalize ((x - mean) / std in float32) of each level, per channel.
  std::array<std::array<float, 256>, 3> levels_{};
};

}  // namespace

std::string decode_image(std::string_view bytes, RgbImage* out) {
  if (bytes.empty()) return "empty file: no image";
  std::string error;
  if (starts_with(bytes, "\xFF\xD8\xFF")) {
    error = decode_jpeg(bytes, out);
  } else if (starts_with(bytes, "\x89PNG\r\n\x1A\n")) {
    error = decode_png(bytes, out);
  } else if (starts_with(bytes, "GIF87a") || starts_with(bytes, "GIF89a")) {
    error = decode_gif(bytes, out);
  } else if (bytes.size() >= 12 && starts_with(bytes, "RIFF") && bytes.substr(8, 4) == "WEBP") {
    error = decode_webp(bytes, out);
  } else {
    return "not a JPEG, PNG, WebP or GIF image";
  }
  if (error.empty() && (out->width <= 0 || out->height <= 0)) error = "image without pixels";
  return error;
}

RgbImage apply_orientation(const RgbImage& in, int orientation) {
  if (orientation < 2 || orientation > 8) return in;
  const bool swap = orientation >= 5;
  RgbImage out;
  out.width = swap ? in.height : in.width;
  out.height = swap ? in.width : in.height;
  out.pixels.resize(in.pixels.size());
  const int W = in.width, H = in.height;
  for (int y = 0; y < out.height; ++y) {
    for (int x = 0; x < out.width; ++x) {
      int sx = x, sy = y;
      switch (orientation) {
        case 2: sx = W - 1 - x; break;                    // mirrored
        case 3: sx = W - 1 - x; sy = H - 1 - y; break;    // upside down
        case 4: sy = H - 1 - y; break;                    // mirrored upside down
        case 5: sx = y; sy = x; break;                    // transposed
        case 6: sx = y; sy = H - 1 - x; break;            // turned a quarter clockwise to view
        case 7: sx = W - 1 - y; sy = H - 1 - x; break;    // transversed
        case 8: sx = W - 1 - y; sy = x; break;            // turned a quarter anticlockwise to view
      }
      std::memcpy(&out.pixels[(static_cast<size_t>(y) * out.width + x) * 3],
                  &in.pixels[(static_cast<size_t>(sy) * W + sx) * 3], 3);
    }
  }
  return out;
}

RgbImage resize_bilinear(const RgbImage& in, int width, int height, ResizeKernel kernel) {
  return resize_window(in, width, height, 0, 0, width, height, kernel);
}

RgbImage resize_and_crop(const RgbImage& in, int width, int height, int crop_width, int crop_height) {
  if (crop_width > width || crop_height > height) {
    return center_crop(resize_bilinear(in, width, height), crop_width, crop_height);
  }
  return resize_window(in, width, height, centred_offset(width, crop_width), centred_offset(height, crop_height),
                       crop_width, crop_height);
}

std::pair<int64_t, int64_t> resized_size(int width, int height, int size) {
  const bool portrait = width <= height;
  const int shorter = portrait ? width : height, longer = portrait ? height : width;
  const auto new_long = static_cast<int64_t>(static_cast<double>(size) * longer / shorter);
  return portrait ? std::pair<int64_t, int64_t>{size, new_long} : std::pair<int64_t, int64_t>{new_long, size};
}

RgbImage center_crop(const RgbImage& in, int width, int height) {
  // Padding first when the crop is larger (zeros, split as torchvision splits them).
  const int pad_left = width > in.width ? (width - in.width) / 2 : 0;
  const int pad_top = height > in.height ? (height - in.height) / 2 : 0;
  const int pw = std::max(in.width, width), ph = std::max(in.height, height);
  const int top = centred_offset(ph, height);
  const int left = centred_offset(pw, width);
  RgbImage out{width, height, std::vector<uint8_t>(static_cast<size_t>(width) * height * 3, 0)};
  for (int y = 0; y < height; ++y) {
    const int sy = y + top - pad_top;
    if (sy < 0 || sy >= in.height) continue;
    for (int x = 0; x < width; ++x) {
      const int sx = x + left - pad_left;
      if (sx < 0 || sx >= in.width) continue;
      std::memcpy(&out.pixels[(static_cast<size_t>(y) * width + x) * 3],
                  &in.pixels[(static_cast<size_t>(sy) * in.width + sx) * 3], 3);
    }
  }
  return out;
}

}  // namespace salvo::image

namespace salvo {

std::shared_ptr<const Featurizer> make_image_featurizer(const ImageOptions& options) {
  return std::make_shared<image::ImageFeaturizer>(options);
}

}  // namespace salvo
