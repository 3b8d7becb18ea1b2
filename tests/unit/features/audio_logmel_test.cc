// The log-mel pipeline against plain references: a direct DFT and a dense filter product in
// double precision; libsndfile decoding and libsoxr resampling on signals whose answer is known.
#include "features/audio_logmel.h"

#include <gtest/gtest.h>
#include <sndfile.h>

#include <cmath>
#include <complex>
#include <random>

#include "../io/test_files.h"
#include "salvo/error.h"

namespace salvo::audio {
namespace {

// librosa's log-mel computed the slow way: O(n^2) DFT per frame, dense filters, all in double.
std::vector<double> reference_logmel(const std::vector<float>& y, const AudioLogMelOptions& o, size_t* frames_out) {
  const int n_fft = o.n_fft, bins = n_fft / 2 + 1, pad = o.center ? n_fft / 2 : 0;
  const std::vector<double> window = analysis_window(o.window, o.win_length ? o.win_length : n_fft, n_fft);
  const std::vector<float> filters = mel_filterbank(o.sample_rate, n_fft, o.n_mels, o.fmin,
                                                    o.fmax > 0 ? o.fmax : o.sample_rate / 2.0, o.mel_scale == "htk",
                                                    o.slaney_norm);
  const size_t frames = 1 + (y.size() + 2 * pad - n_fft) / o.hop_length;
  std::vector<double> out(static_cast<size_t>(o.n_mels) * frames);
  std::vector<double> power(bins);
  for (size_t t = 0; t < frames; ++t) {
    for (int k = 0; k < bins; ++k) {
      std::complex<double> sum = 0;
      for (int i = 0; i < n_fft; ++i) {
        const int64_t s = static_cast<int64_t>(t * o.hop_length) + i - pad;
        const double v = s >= 0 && s < static_cast<int64_t>(y.size()) ? y[s] * window[i] : 0.0;
        sum += v * std::polar(1.0, -2 * M_PI * k * i / n_fft);
      }
      power[k] = std::norm(sum);
    }
    for (int m = 0; m < o.n_mels; ++m) {
      double e = 0;
      for (int k = 0; k < bins; ++k) e += filters[m * bins + k] * power[k];
      out[m * frames + t] = 10 * std::log10(std::max(1e-10, e));
    }
  }
  double peak = -1e300;
  for (double v : out) peak = std::max(peak, v);
  if (o.top_db > 0) {
    for (double& v : out) v = std::max(v, peak - o.top_db);
  }
  *frames_out = frames;
  return out;
}

std::vector<float> test_signal(size_t n, int rate) {
  std::mt19937 rng(7);
  std::normal_distribution<float> noise(0, 0.01f);
  std::vector<float> y(n);
  for (size_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) / rate;
    y[i] = static_cast<float>(0.5 * std::sin(2 * M_PI * 440 * t) + 0.2 * std::sin(2 * M_PI * 3000 * t * (1 + t))) +
           noise(rng);
  }
  return y;
}

TEST(AudioLogMelTest, MatchesADirectDftReference) {
  for (const char* window : {"hann", "hamming"}) {
    for (bool center : {true, false}) {
      AudioLogMelOptions o;
      o.sample_rate = 8000;
      o.n_fft = 256;
      o.hop_length = 100;
      o.win_length = 200;
      o.n_mels = 20;
      o.window = window;
      o.center = center;
      const std::vector<float> y = test_signal(3000, o.sample_rate);
      size_t frames = 0;
      const std::vector<double> want = reference_logmel(y, o, &frames);
      Features got;
      LogMelSpectrogram(o).compute(y.data(), y.size(), &got);
      ASSERT_EQ(got.shape, (std::vector<int64_t>{20, static_cast<int64_t>(frames)}));
      double worst = 0;
      for (size_t i = 0; i < want.size(); ++i) worst = std::max(worst, std::abs(got.values[i] - want[i]));
      EXPECT_LT(worst, 1e-3) << window << " center " << center;
    }
  }
}

TEST(AudioLogMelTest, FrameCountsFollowLibrosa) {
  AudioLogMelOptions o;  // n_fft 2048, hop 512, centred
  LogMelSpectrogram s(o);
  EXPECT_EQ(s.frames(22050), 1u + 22050 / 512);
  EXPECT_EQ(s.frames(1), 1u);
  o.center = false;
  LogMelSpectrogram plain(o);
  EXPECT_EQ(plain.frames(2047), 0u);
  EXPECT_EQ(plain.frames(2048 + 512 * 3), 4u);
}

TEST(AudioLogMelTest, FixedFramesTrimOrPadWithTheFloorAndTimeMajorTransposes) {
  AudioLogMelOptions o;
  o.sample_rate = 8000;
  o.n_fft = 256;
  o.hop_length = 128;
  o.n_mels = 8;
  const std::vector<float> y = test_signal(1280, o.sample_rate);  // 11 frames
  Features full, longer, shorter, transposed;
  LogMelSpectrogram(o).compute(y.data(), y.size(), &full);
  ASSERT_EQ(full.shape[1], 11);
  o.frames = 15;
  LogMelSpectrogram(o).compute(y.data(), y.size(), &longer);
  o.frames = 4;
  LogMelSpectrogram(o).compute(y.data(), y.size(), &shorter);
  o.frames = 0;
  o.time_major = true;
  LogMelSpectrogram(o).compute(y.data(), y.size(), &transposed);
  const float floor = *std::min_element(full.values.begin(), full.values.end());
  for (int m = 0; m < 8; ++m) {
    for (int t = 0; t < 15; ++t) {
      EXPECT_EQ(longer.values[m * 15 + t], t < 11 ? full.values[m * 11 + t] : floor);
    }
    for (int t = 0; t < 4; ++t) EXPECT_EQ(shorter.values[m * 4 + t], full.values[m * 11 + t]);
    for (int t = 0; t < 11; ++t) EXPECT_EQ(transposed.values[t * 8 + m], full.values[m * 11 + t]);
  }
  EXPECT_EQ(transposed.shape, (std::vector<int64_t>{11, 8}));
}

TEST(AudioLogMelTest, SlaneyFiltersHaveEqualAreaAndHtkFiltersPeakAtOne) {
  const int n_fft = 2048, bins = n_fft / 2 + 1, n_mels = 40;
  const std::vector<float> slaney = mel_filterbank(16000, n_fft, n_mels, 0, 8000, false, true);
  const std::vector<float> htk = mel_filterbank(16000, n_fft, n_mels, 0, 8000, true, false);
  const double bin_hz = 16000.0 / n_fft;
  for (int m = 0; m < n_mels; ++m) {
    double area = 0, peak = 0;
    for (int k = 0; k < bins; ++k) {
      area += slaney[m * bins + k] * bin_hz;
      peak = std::max<double>(peak, htk[m * bins + k]);
    }
    EXPECT_NEAR(area, 1.0, 0.05) << "mel " << m;  // a triangle of height 2/width has area 1
    EXPECT_GT(peak, 0.5) << "mel " << m;
    EXPECT_LE(peak, 1.0) << "mel " << m;
  }
}

TEST(AudioLogMelTest, BadOptionsThrow) {
  AudioLogMelOptions o;
  o.mel_scale = "bark";
  EXPECT_THROW(LogMelSpectrogram{o}, Error);
  o = {};
  o.win_length = 4096;
  EXPECT_THROW(LogMelSpectrogram{o}, Error);
  o = {};
  o.window = "kaiser";
  EXPECT_THROW(LogMelSpectrogram{o}, Error);
}

// A 16-bit WAV of `channels` channels written by libsndfile.
std::string wav_bytes(const std::vector<std::vector<float>>& channels, int rate, const testing::ScratchDir& dir) {
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = static_cast<int>(channels.size());
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  const auto path = dir / "a.wav";
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  std::vector<float> interleaved;
  for (size_t i = 0; i < channels[0].size(); ++i) {
    for (const auto& c : channels) interleaved.push_back(c[i]);
  }
  sf_writef_float(f, interleaved.data(), static_cast<sf_count_t>(channels[0].size()));
  sf_close(f);
  return testing::read_file(path);
}

TEST(AudioDecodeTest, MixesChannelsByTheirMeanAndReportsBadFiles) {
  testing::ScratchDir dir;
  const std::vector<float> left = {0.5f, -0.25f, 0.125f}, right = {0.25f, 0.25f, -0.5f};
  MonoAudio audio;
  ASSERT_EQ(decode_audio(wav_bytes({left, right}, 8000, dir), &audio), "");
  EXPECT_EQ(audio.sample_rate, 8000);
  ASSERT_EQ(audio.samples.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_FLOAT_EQ(audio.samples[i], (left[i] + right[i]) / 2);

  const std::string wav = wav_bytes({std::vector<float>(1000, 0.1f)}, 8000, dir);
  EXPECT_NE(decode_audio(wav.substr(0, 30), &audio), "") << "cut inside the header";
  EXPECT_NE(decode_audio(wav.substr(0, 500), &audio).find("truncated"), std::string::npos);
  EXPECT_NE(decode_audio("", &audio), "");
  EXPECT_NE(decode_audio("this is text, not audio at all.", &audio), "");
}

TEST(AudioResampleTest, KeepsATonesFrequencyAndLibrosasLength) {
  const int from = 22050, to = 16000;
  std::vector<float> y(22050);
  for (size_t i = 0; i < y.size(); ++i) y[i] = static_cast<float>(std::sin(2 * M_PI * 1000 * i / from));
  std::vector<float> out;
  resample(y, from, to, &out);
  ASSERT_EQ(out.size(), 16000u);
  double worst = 0;
  for (size_t i = 2000; i < 14000; ++i) {
    worst = std::max(worst, std::abs(out[i] - std::sin(2 * M_PI * 1000 * static_cast<double>(i) / to)));
  }
  EXPECT_LT(worst, 1e-3);
}

}  // namespace
}  // namespace salvo::audio
