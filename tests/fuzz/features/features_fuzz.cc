// libFuzzer target for the file featurizers: any bytes given to the image and audio featurizers
// (JPEG, PNG, WebP, GIF, and WAV, FLAC, OGG, MP3 through libsndfile) must give features or an
// error message, never a crash, a hang, a leak or a huge allocation.
#include <cstdint>
#include <string_view>

#include "salvo/featurizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto image = [] {
    salvo::ImageOptions o;
    o.resize = 32;
    o.crop = 24;
    return salvo::make_image_featurizer(o);
  }();
  static const auto audio = [] {
    salvo::AudioLogMelOptions o;
    o.sample_rate = 8000;
    o.n_fft = 256;
    o.hop_length = 128;
    o.n_mels = 16;
    return salvo::make_audio_logmel_featurizer(o);
  }();
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  salvo::Features features;
  image->featurize(bytes, &features);
  salvo::Features sound;
  audio->featurize(bytes, &sound);
  return 0;
}
