// Log-mel spectrograms from audio files, computed as librosa computes them:
//   librosa.load (libsndfile decode, mean of the channels, soxr_hq resampling)
//   -> librosa.feature.melspectrogram (centred STFT with zero padding, power 2, Slaney mel filters)
//   -> librosa.power_to_db (ref 1, amin 1e-10, top_db 80).
// The pieces are exposed for tests; a session uses make_audio_logmel_featurizer().
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "salvo/featurizer.h"

namespace salvo::audio {

// The most samples one clip may have, decoded or resampled (2^28: 1 GiB of float32, about 3.4
// hours at 22050 Hz); a longer one is an error row, not an allocation that fails.
constexpr int64_t kMaxAudioSamples = int64_t{1} << 28;

// Decoded audio: mono samples in [-1, 1] at `sample_rate`.
struct MonoAudio {
  std::vector<float> samples;
  int sample_rate = 0;
};

// Decodes a file's bytes with libsndfile (WAV, FLAC, OGG/Vorbis/Opus, MP3, AIFF, ...) and mixes
// the channels down by their mean. Returns "" or why the bytes are not audio it can read.
std::string decode_audio(std::string_view bytes, MonoAudio* out);

// Resamples with libsoxr at high quality (librosa's "soxr_hq") to ceil(n * to / from) samples.
void resample(const std::vector<float>& in, int from_rate, int to_rate, std::vector<float>* out);

// librosa.filters.mel: an n_mels x (n_fft / 2 + 1) matrix, row-major, float32 as librosa makes it.
std::vector<float> mel_filterbank(double sample_rate, int n_fft, int n_mels, double fmin, double fmax, bool htk,
                                  bool slaney_norm);

// The analysis window, n_fft long: a periodic Hann or Hamming window of win_length, centred.
std::vector<double> analysis_window(const std::string& name, int win_length, int n_fft);

// The log-mel spectrogram of mono audio already at options.sample_rate: shape [n_mels, frames]
// (or [frames, n_mels] when time_major), into out->values and out->shape. Thread-safe: each
// thread keeps its own FFTW plan.
class LogMelSpectrogram {
 public:
  explicit LogMelSpectrogram(const AudioLogMelOptions& options);
  void compute(const float* samples, size_t n, Features* out) const;
  // Frames of n samples (librosa's count, centred or not); 0 when too short to frame.
  size_t frames(size_t n) const;

 private:
  AudioLogMelOptions options_;
  std::vector<float> window_;
  std::vector<float> filters_;                      // n_mels x bins
  std::vector<std::pair<int, int>> filter_ranges_;  // each mel's non-zero bins [first, last)
};

}  // namespace salvo::audio
