// salvo's command line: parses the subcommand, runs it, and turns failures into one line on
// stderr and an exit code.
#include <cstdio>

#include "commands.h"
#include "salvo/error.h"

namespace {

// Exit codes by failure kind, so scripts can tell a bad flag from a missing file or model.
int exit_code(salvo::ErrorCode code) {
  switch (code) {
    case salvo::ErrorCode::kInvalidArgument: return 2;
    case salvo::ErrorCode::kIo: return 3;
    case salvo::ErrorCode::kModel: return 4;
    case salvo::ErrorCode::kBackend: return 5;
    case salvo::ErrorCode::kCancelled: return 130;
    default: return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"salvo: fast inference of BERT-family models over files and streams, on CPUs."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "salvo 0.1.0");
  salvo::cli::Runner runner;
  salvo::cli::add_batch_commands(app, &runner);
  salvo::cli::add_stream_command(app, &runner);
  salvo::cli::add_prep_command(app, &runner);
  salvo::cli::add_windows_command(app, &runner);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line, like every other failure: what was wrong, and where to look.
    std::fprintf(stderr, "salvo: usage error: %s (see salvo --help)\n", e.what());
    return 2;
  }
  try {
    runner();
  } catch (const salvo::Error& e) {
    std::fprintf(stderr, "salvo: %s: %s\n", salvo::error_code_name(e.code()), e.what());
    return exit_code(e.code());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "salvo: internal error: %s\n", e.what());
    return 1;
  }
  return 0;
}
