// The flags that choose and set up a file featurizer (audio log-mel spectrograms, image tensors),
// shared by prep (features out) and predict (features into a TorchScript model), and the flags that
// read folders of files as Spark's binaryFile does.
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "salvo/featurizer.h"
#include "salvo/types.h"

namespace salvo::cli {

struct FeaturizerFlags {
  std::string features;  // audio-logmel or image; empty: none
  AudioLogMelOptions audio;
  std::string mel_norm = "slaney";
  ImageOptions image;
  // The options of each kind, so that one given for the other kind is a usage error.
  CLI::Option_group* audio_options = nullptr;
  CLI::Option_group* image_options = nullptr;
};

// Adds --features (required when `required`) and the audio and image options.
void add_featurizer_flags(CLI::App* cmd, FeaturizerFlags* flags, bool required = true);

// The featurizer the flags describe. Throws kInvalidArgument for an option of the other kind of
// features (--mean with audio-logmel, say), which would be ignored.
std::shared_ptr<const Featurizer> make_featurizer(FeaturizerFlags& flags);

// Adds --recursive, --glob and --label-from.
void add_file_flags(CLI::App* cmd, BinaryFileOptions* files);

}  // namespace salvo::cli
