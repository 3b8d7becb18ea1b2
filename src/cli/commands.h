// The subcommands of the salvo command line. Each adds itself to the app and returns the
// function that runs it once the arguments are parsed.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace salvo::cli {

using Runner = std::function<void()>;

// embed, classify and tokenize: files in, one output row per input row.
void add_batch_commands(CLI::App& app, Runner* selected);

// prep: features (audio log-mel, images) from folders of files.
void add_prep_command(CLI::App& app, Runner* selected);

// stream: the Kafka consumer-group inference service.
void add_stream_command(CLI::App& app, Runner* selected);

// windows: grouped sliding-window aggregates over event histories.
void add_windows_command(CLI::App& app, Runner* selected);

}  // namespace salvo::cli
