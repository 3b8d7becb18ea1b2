// salvo's command line: parses the subcommand, runs it, and turns failures into one line on
// stderr and an exit code.
#include <malloc.h>

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

// glibc's allocator, tuned for a throughput job: buffers of a few MB (a decoded image, a row's
// features) and tens of MB (a window's output columns) are made and freed over and over on
// several threads. By default glibc hands them back to the kernel when they are freed (munmap of a
// buffer over 32 MB, or of a thread arena's whole 64 MB heap once it is empty) and the next one
// faults in fresh zeroed pages: a quarter of `salvo prep`'s CPU time on images. Freed memory is
// now kept for reuse, up to the job's peak, which its bounded queues cap:
// - buffers up to 64 MB come from the heaps, not from mmap of their own;
// - a heap's free top is trimmed only past 256 MB;
// - an empty thread heap is kept, since glibc deletes one only when more than M_TOP_PAD would
//   remain free without it.
// The Python package leaves its host's allocator alone.
void tune_allocator() {
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  mallopt(M_TOP_PAD, 64 << 20);
}

}  // namespace

int main(int argc, char** argv) {
  tune_allocator();
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
