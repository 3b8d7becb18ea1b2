#include "featurizer_flags.h"

#include "salvo/error.h"

namespace salvo::cli {

void add_featurizer_flags(CLI::App* cmd, FeaturizerFlags* flags, bool required) {
  CLI::Option* features = cmd->add_option("--features", flags->features, "What to compute: audio-logmel or image")
                              ->check(CLI::IsMember({"audio-logmel", "image"}));
  if (required) features->required();
  // Each kind's options in a group of its own: --help lists them under its heading, and one given
  // for the other kind is a usage error rather than ignored.
  AudioLogMelOptions& a = flags->audio;
  CLI::Option_group* audio = flags->audio_options = cmd->add_option_group("Audio (--features audio-logmel)");
  audio->add_option("--sample-rate", a.sample_rate, "Resample to this rate (libsoxr, high quality)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 22));
  audio->add_option("--n-fft", a.n_fft, "FFT size")->capture_default_str()->check(CLI::Range(2, 1 << 20));
  audio->add_option("--hop-length", a.hop_length, "Samples between frames")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  audio->add_option("--win-length", a.win_length, "Window length (default: n_fft)")->check(CLI::Range(1, 1 << 20));
  audio->add_option("--window", a.window, "hann or hamming")
      ->capture_default_str()
      ->check(CLI::IsMember({"hann", "hamming"}));
  audio->add_option("--n-mels", a.n_mels, "Mel bands")->capture_default_str()->check(CLI::Range(1, 4096));
  audio->add_option("--fmin", a.fmin, "Lowest frequency (Hz)")->capture_default_str();
  audio->add_option("--fmax", a.fmax, "Highest frequency (Hz; default, or 0: sample rate / 2)");
  audio->add_option("--mel-scale", a.mel_scale, "slaney or htk")
      ->capture_default_str()
      ->check(CLI::IsMember({"slaney", "htk"}));
  audio->add_option("--mel-norm", flags->mel_norm, "slaney (equal-area filters) or none")
      ->capture_default_str()
      ->check(CLI::IsMember({"slaney", "none"}));
  audio->add_option("--top-db", a.top_db, "Floor at the clip's peak minus this many dB; 0: no floor")
      ->capture_default_str();
  audio->add_option("--frames", a.frames, "Trim or pad (with the clip's floor) to this many frames")
      ->check(CLI::Range(1, 1 << 24));
  audio->add_flag("--time-major", a.time_major, "Shape [frames, n_mels] instead of [n_mels, frames]");

  ImageOptions& i = flags->image;
  CLI::Option_group* image = flags->image_options = cmd->add_option_group("Image (--features image)");
  image->add_option("--resize", i.resize, "Shorter side to this (bilinear, antialiased); 0: keep")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 16));
  image->add_option("--crop", i.crop, "Centre crop to this square; 0: none")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 16));
  image
      ->add_option("--mean", i.mean,
                   "Per-channel mean subtracted after /255, three values or one for all (default: ImageNet's "
                   "0.485,0.456,0.406, as torchvision's models take it)")
      ->delimiter(',');
  image
      ->add_option("--std", i.std,
                   "Per-channel divisor after the mean (default: ImageNet's 0.229,0.224,0.225; --mean 0,0,0 "
                   "--std 1,1,1: ToTensor's values)")
      ->delimiter(',');
  image->add_flag("--raw", i.raw, "uint8 HWC pixels (binary) instead of normalised float32 CHW");
}

std::shared_ptr<const Featurizer> make_featurizer(FeaturizerFlags& flags) {
  const bool audio = flags.features == "audio-logmel";
  for (const CLI::Option* o : (audio ? flags.image_options : flags.audio_options)->get_options()) {
    if (o->count() > 0) {
      throw Error(ErrorCode::kInvalidArgument, o->get_name() + " applies to --features " +
                                                   (audio ? "image" : "audio-logmel") + ", not " + flags.features);
    }
  }
  if (audio) {
    flags.audio.slaney_norm = flags.mel_norm == "slaney";
    return make_audio_logmel_featurizer(flags.audio);
  }
  return make_image_featurizer(flags.image);
}

void add_file_flags(CLI::App* cmd, BinaryFileOptions* files) {
  cmd->add_flag("--recursive", files->recursive,
                "Input is a folder or glob of files, one row each (Spark's binaryFile: path, modificationTime, "
                "length, content), without key=value partition columns (Spark's recursiveFileLookup)");
  cmd->add_option("--glob", files->glob,
                  "Files input: only files whose name matches, e.g. \"*.wav\" (Spark's pathGlobFilter)");
  cmd->add_option("--label-from", files->label_from,
                  "Files input: adds a label column: parent (the file's folder name) or regex:PATTERN (its first "
                  "capture group in the path)");
}

}  // namespace salvo::cli
