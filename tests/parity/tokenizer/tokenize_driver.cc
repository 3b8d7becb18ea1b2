// Runs salvo's Tokenizer over a file of texts or pairs, for the parity test and the tokenisation
// benchmark.
//
//   salvo_tokenize_driver TOKENIZER_JSON INPUT OUTPUT [--max-length N] [--repeat N]
//
// INPUT has one JSON object per line: {"a": "text"} or {"a": "text", "b": "second text"}.
// OUTPUT gets one line per input line: {"ids": [...], "type_ids": [...]} or {"error": "..."}.
// The encoding time of the last repetition (one thread, no I/O) goes to stderr as
//   encode_seconds=S tokens=T
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "text/tokenizer.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: salvo_tokenize_driver TOKENIZER_JSON INPUT OUTPUT [--max-length N] "
                 "[--repeat N]\n";
    return 2;
  }
  std::optional<size_t> max_length;
  int repeat = 1;
  for (int i = 4; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--max-length") {
      max_length = std::stoul(argv[i + 1]);
    } else if (flag == "--repeat") {
      repeat = std::stoi(argv[i + 1]);
    } else {
      std::cerr << "unknown flag " << flag << "\n";
      return 2;
    }
  }
  try {
    std::filesystem::path source = argv[1];
    salvo::Tokenizer tokenizer = std::filesystem::is_directory(source)
                                     ? salvo::Tokenizer::from_model_dir(source)
                                     : salvo::Tokenizer::from_tokenizer_json(source);
    if (max_length) tokenizer.set_max_length(*max_length);
    std::ifstream in(argv[2]);
    std::vector<std::string> a;
    std::vector<std::optional<std::string>> b;
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      nlohmann::json row = nlohmann::json::parse(line);
      a.push_back(row["a"].get<std::string>());
      if (row.contains("b") && !row["b"].is_null()) {
        b.emplace_back(row["b"].get<std::string>());
      } else {
        b.emplace_back();
      }
    }
    std::vector<salvo::Encoding> encodings(a.size());
    std::vector<std::string> errors(a.size());
    double seconds = 0;
    size_t tokens = 0;
    for (int r = 0; r < repeat; ++r) {
      tokens = 0;
      auto start = std::chrono::steady_clock::now();
      for (size_t i = 0; i < a.size(); ++i) {
        try {
          if (b[i]) {
            tokenizer.encode_pair(a[i], *b[i], &encodings[i]);
          } else {
            tokenizer.encode(a[i], &encodings[i]);
          }
          tokens += encodings[i].ids.size();
        } catch (const salvo::Error& e) {
          errors[i] = e.what();
        }
      }
      seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    std::ofstream out(argv[3]);
    for (size_t i = 0; i < a.size(); ++i) {
      nlohmann::json row;
      if (!errors[i].empty()) {
        row["error"] = errors[i];
      } else {
        row["ids"] = encodings[i].ids;
        row["type_ids"] = encodings[i].type_ids;
      }
      out << row.dump() << "\n";
    }
    std::fprintf(stderr, "encode_seconds=%.6f tokens=%zu describe=%s\n", seconds, tokens,
                 tokenizer.describe().c_str());
  } catch (const salvo::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 4;
  }
  return 0;
}
