// Featurizers: the first stage of a session, applied to each input row on its pool of threads.
// A text model's tokenizer is one (text in, token ids out); the audio and image featurizers are
// others (a file's bytes in, a tensor out). A session that is given a featurizer and no model
// serves Task::kFeaturize: it featurizes rows and runs nothing else.
#pragma once

#include "salvo/export.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "salvo/types.h"

namespace salvo {

// What a featurizer makes of a row.
enum class FeatureKind {
  kTokens,   // token ids (Features::encoding), which a text model runs on
  kFloat32,  // a float32 tensor (Features::values)
  kUInt8,    // a uint8 tensor (Features::bytes), e.g. raw pixels
};

// One row's features.
struct Features {
  Encoding encoding;            // kTokens
  std::vector<int64_t> shape;   // kFloat32, kUInt8: the tensor's dimensions, outermost first
  std::vector<float> values;    // kFloat32: the tensor, row-major
  std::vector<uint8_t> bytes;   // kUInt8: the tensor, row-major
};

// Turns one input row into features. Immutable once made and called from many threads at once.
class SALVO_API Featurizer {
 public:
  virtual ~Featurizer() = default;
  virtual FeatureKind kind() const = 0;
  // What it computes, for a start line: "log-mel spectrogram (22050 Hz, n_fft 2048, ...)".
  virtual std::string describe() const = 0;
  // Every setting that changes its output, as text: two featurizers with equal settings give equal
  // features (what a resumed job compares). By default, describe().
  virtual std::string settings() const { return describe(); }
  // Featurizes one row: its text, or a file's bytes. Returns "" on success, else why the row
  // cannot be featurized ("not a WAV, FLAC, OGG or MP3 file: ..."); a bad row is never a throw.
  virtual std::string featurize(std::string_view input, Features* out) const = 0;
};

// Log-mel spectrogram options; the defaults are librosa's (melspectrogram, then power_to_db).
struct AudioLogMelOptions {
  int sample_rate = 22050;  // audio at another rate is resampled (libsoxr, high quality)
  int n_fft = 2048;
  int hop_length = 512;
  int win_length = 0;          // 0: n_fft; a shorter window is centred in the frame
  std::string window = "hann";  // "hann" or "hamming" (periodic, as scipy's get_window gives)
  bool center = true;          // frames centred on their time: n_fft/2 zeros each side
  int n_mels = 128;
  double fmin = 0;
  double fmax = 0;             // 0: sample_rate / 2
  std::string mel_scale = "slaney";  // "slaney" or "htk"
  bool slaney_norm = true;     // filters scaled to equal area (librosa's norm="slaney")
  double top_db = 80;          // floor at the clip's peak minus this; <= 0: no floor
  int frames = 0;              // > 0: trim to this many frames, or pad with the clip's floor
  bool time_major = false;     // shape [frames, n_mels] instead of librosa's [n_mels, frames]
};

// Image options; the defaults are the usual ImageNet evaluation transform in torchvision:
// Resize(256), CenterCrop(224), ToTensor(), Normalize(mean, std).
struct ImageOptions {
  int resize = 256;  // the shorter side becomes this (bilinear, antialiased as Pillow); 0: no resize
  int crop = 224;    // centre crop to crop x crop; 0: no crop
  std::vector<float> mean = {0.485f, 0.456f, 0.406f};
  std::vector<float> std = {0.229f, 0.224f, 0.225f};
  bool raw = false;  // uint8 HWC pixels instead of normalised float32 CHW
};

// Decodes audio (WAV, FLAC, OGG/Vorbis, Opus, MP3, ... as libsndfile reads them), mixes it down
// to mono, resamples it and computes a log-mel spectrogram. Throws kInvalidArgument for bad options.
SALVO_API std::shared_ptr<const Featurizer> make_audio_logmel_featurizer(const AudioLogMelOptions& options);

// Decodes JPEG (EXIF orientation applied), PNG, WebP or GIF (first frame) into RGB, resizes,
// crops and normalises. Throws kInvalidArgument for bad options.
SALVO_API std::shared_ptr<const Featurizer> make_image_featurizer(const ImageOptions& options);

}  // namespace salvo
