// Reads tokenizer.json into a Tokenizer::Config: every component and option is checked, and
// whatever salvo does not implement is refused with the file, the component and the value.
#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

#include "core/base64.h"
#include "core/error.h"
#include "core/json_text.h"
#include "text/bert_normalizer.h"
#include "text/byte_level.h"
#include "text/models/bpe.h"
#include "text/models/unigram.h"
#include "text/models/wordpiece.h"
#include "text/precompiled_normalizer.h"
#include "text/tokenizer_config.h"

namespace salvo {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// tokenizer.json files larger than this are refused before they are read.
constexpr uintmax_t kMaxFileBytes = 256u << 20;
// JSON values (numbers, strings, arrays, objects) allowed in one file: a 250k-token Unigram
// vocabulary has about 750k, the largest real files about 2M; this bounds the memory the parsed
// document takes (a few hundred MB).
constexpr size_t kMaxJsonValues = 8u << 20;
// Nesting of Sequence components.
constexpr int kMaxDepth = 16;

[[noreturn]] void fail(const fs::path& path, const std::string& problem) {
  throw Error(ErrorCode::kModel, path.string() + ": " + problem);
}

std::string read_bounded(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) fail(path, "cannot open the file (it does not exist)");
  if (!fs::is_regular_file(path, ec)) fail(path, "not a regular file");
  uintmax_t size = fs::file_size(path, ec);
  if (ec) fail(path, "cannot read the file size: " + ec.message());
  if (size > kMaxFileBytes) {
    fail(path, "the file has " + std::to_string(size) + " bytes, more than the 256 MiB allowed");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open the file");
  std::string content(static_cast<size_t>(size), '\0');
  in.read(content.data(), static_cast<std::streamsize>(size));
  if (static_cast<uintmax_t>(in.gcount()) != size) fail(path, "cannot read the whole file");
  if (in.peek() != std::char_traits<char>::eof()) fail(path, "the file grew while being read");
  return content;
}

// Accessors that name the field when the document does not have the expected shape.
class Fields {
 public:
  Fields(const fs::path& path, const json& object, std::string where)
      : path_(path), object_(object), where_(std::move(where)) {
    if (!object_.is_object()) fail(path_, where_ + " must be an object");
  }

  bool has(const char* key) const { return object_.contains(key) && !object_[key].is_null(); }

  const json& get(const char* key) const {
    if (!has(key)) fail(path_, "missing " + name(key));
    return object_[key];
  }

  std::string string(const char* key, std::optional<std::string> fallback = std::nullopt) const {
    if (!has(key)) {
      if (fallback) return *fallback;
      fail(path_, "missing " + name(key));
    }
    if (!object_[key].is_string()) fail(path_, name(key) + " must be a string");
    return object_[key].get<std::string>();
  }

  std::optional<std::string> optional_string(const char* key) const {
    if (!has(key)) return std::nullopt;
    return string(key);
  }

  bool boolean(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    if (!object_[key].is_boolean()) fail(path_, name(key) + " must be true or false");
    return object_[key].get<bool>();
  }

  int64_t integer(const char* key, std::optional<int64_t> fallback = std::nullopt) const {
    if (!has(key)) {
      if (fallback) return *fallback;
      fail(path_, "missing " + name(key));
    }
    if (!object_[key].is_number_integer()) fail(path_, name(key) + " must be an integer");
    return object_[key].get<int64_t>();
  }

  std::string name(const char* key) const { return where_ + "." + key; }
  const std::string& where() const { return where_; }

 private:
  const fs::path& path_;
  const json& object_;
  std::string where_;
};

// The double serde_json (without its float_roundtrip feature, as the tokenizers library is built)
// reads for the number written as the shortest representation of `value`: the decimal digits as an
// integer converted to double, then one multiplication or division by a power of ten. It can
// differ from the correctly rounded `value` in the last bit, which decides ties between Unigram
// segmentations.
double as_serde_json_reads(double value) {
  static const std::vector<double> kPow10 = [] {
    std::vector<double> p;
    for (int k = 0; k <= 308; ++k) p.push_back(std::strtod(("1e" + std::to_string(k)).c_str(), nullptr));
    return p;
  }();
  if (!std::isfinite(value) || value == 0) return value;
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, value);
  std::string_view text(buf, static_cast<size_t>(r.ptr - buf));
  bool positive = true;
  size_t i = 0;
  if (text[0] == '-') {
    positive = false;
    i = 1;
  }
  uint64_t significand = 0;
  int exponent = 0;
  bool overflowed = false;
  auto add_digit = [&](int digit, bool after_point) {
    constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
    if (overflowed || (significand >= kMax / 10 &&
                       (significand > kMax / 10 || static_cast<uint64_t>(digit) > kMax % 10))) {
      overflowed = true;
      if (!after_point) ++exponent;  // further integer digits only scale; decimals are dropped
      return;
    }
    significand = significand * 10 + static_cast<uint64_t>(digit);
    if (after_point) --exponent;
  };
  bool after_point = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c >= '0' && c <= '9') {
      add_digit(c - '0', after_point);
    } else if (c == '.') {
      after_point = true;
    } else if (c == 'e' || c == 'E') {
      exponent += std::atoi(std::string(text.substr(i + 1)).c_str());
      break;
    }
  }
  double f = static_cast<double>(significand);
  for (;;) {
    size_t k = static_cast<size_t>(exponent < 0 ? -exponent : exponent);
    if (k < kPow10.size()) {
      if (exponent >= 0) {
        f *= kPow10[k];
      } else {
        f /= kPow10[k];
      }
      break;
    }
    if (f == 0.0 || exponent >= 0) break;
    f /= 1e308;
    exponent += 308;
  }
  return positive ? f : -f;
}

int32_t checked_id(const fs::path& path, int64_t id, const std::string& what) {
  if (id < 0 || id > std::numeric_limits<int32_t>::max()) {
    fail(path, what + " has an invalid id " + std::to_string(id));
  }
  return static_cast<int32_t>(id);
}

[[noreturn]] void unsupported(const fs::path& path, const std::string& where,
                              const std::string& what, const std::string& supported) {
  fail(path, "unsupported " + where + " '" + what + "' (supported: " + supported + ")");
}

char32_t single_char(const fs::path& path, const Fields& f, const char* key) {
  std::u32string cps;
  decode_utf8(f.string(key), &cps);
  if (cps.size() != 1) fail(path, f.name(key) + " must be exactly one character");
  return cps[0];
}

TextPattern parse_pattern(const fs::path& path, const Fields& f) {
  const json& p = f.get("pattern");
  std::string where = f.name("pattern");
  if (!p.is_object() || p.size() != 1) {
    fail(path, where + " must be {\"String\": ...} or {\"Regex\": ...}");
  }
  std::string kind = p.begin().key();
  if (!p.begin().value().is_string()) fail(path, where + "." + kind + " must be a string");
  std::string text = p.begin().value().get<std::string>();
  try {
    if (kind == "String") return TextPattern::literal(text);
    if (kind == "Regex") return TextPattern::regex(text);
  } catch (const Error& e) {
    fail(path, where + ": " + e.what());
  }
  unsupported(path, where + " kind", kind, "String, Regex");
}

SplitBehavior parse_behavior(const fs::path& path, const Fields& f, const char* key,
                             std::optional<SplitBehavior> fallback) {
  if (!f.has(key) && fallback) return *fallback;
  std::string b = f.string(key);
  if (b == "Removed") return SplitBehavior::kRemoved;
  if (b == "Isolated") return SplitBehavior::kIsolated;
  if (b == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (b == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (b == "Contiguous") return SplitBehavior::kContiguous;
  unsupported(path, f.name(key), b,
              "Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous");
}

std::unique_ptr<Normalizer> parse_normalizer(const fs::path& path, const json& node,
                                             const std::string& where, int depth,
                                             std::string* description) {
  if (depth > kMaxDepth) fail(path, where + " nests Sequences too deeply");
  Fields f(path, node, where);
  std::string type = f.string("type");
  *description = type;
  if (type == "BertNormalizer") {
    BertNormalizerOptions options;
    options.clean_text = f.boolean("clean_text", true);
    options.handle_chinese_chars = f.boolean("handle_chinese_chars", true);
    options.lowercase = f.boolean("lowercase", true);
    options.strip_accents = f.boolean("strip_accents", options.lowercase);
    return std::make_unique<BertNormalizer>(options);
  }
  if (type == "Lowercase") return std::make_unique<LowercaseNormalizer>();
  if (type == "StripAccents") return std::make_unique<StripAccentsNormalizer>();
  if (type == "Strip") {
    return std::make_unique<StripNormalizer>(f.boolean("strip_left", true),
                                             f.boolean("strip_right", true));
  }
  if (type == "NFC") return std::make_unique<UnicodeNormalizer>(NormalForm::kNFC);
  if (type == "NFD") return std::make_unique<UnicodeNormalizer>(NormalForm::kNFD);
  if (type == "NFKC") return std::make_unique<UnicodeNormalizer>(NormalForm::kNFKC);
  if (type == "NFKD") return std::make_unique<UnicodeNormalizer>(NormalForm::kNFKD);
  if (type == "Nmt") return std::make_unique<NmtNormalizer>();
  if (type == "ByteLevel") return std::make_unique<ByteLevelNormalizer>();
  if (type == "Prepend") return std::make_unique<PrependNormalizer>(f.string("prepend"));
  if (type == "Replace") {
    return std::make_unique<ReplaceNormalizer>(parse_pattern(path, f), f.string("content"));
  }
  if (type == "Precompiled") {
    std::optional<std::string> bytes = decode_base64(f.string("precompiled_charsmap"));
    if (!bytes) fail(path, f.name("precompiled_charsmap") + " is not valid base64");
    try {
      return std::make_unique<PrecompiledNormalizer>(*bytes);
    } catch (const Error& e) {
      fail(path, where + ": " + e.what());
    }
  }
  if (type == "Sequence") {
    const json& list = f.get("normalizers");
    if (!list.is_array()) fail(path, f.name("normalizers") + " must be an array");
    std::vector<std::unique_ptr<Normalizer>> steps;
    std::string names;
    for (size_t i = 0; i < list.size(); ++i) {
      std::string name;
      steps.push_back(parse_normalizer(path, list[i],
                                       f.name("normalizers") + "[" + std::to_string(i) + "]",
                                       depth + 1, &name));
      names += (i ? ", " : "") + name;
    }
    *description = names;
    return std::make_unique<SequenceNormalizer>(std::move(steps));
  }
  unsupported(path, where + " type", type,
              "BertNormalizer, Lowercase, StripAccents, Strip, NFC, NFD, NFKC, NFKD, Nmt, "
              "ByteLevel, Prepend, Replace, Precompiled, Sequence");
}

std::unique_ptr<PreTokenizer> parse_pre_tokenizer(const fs::path& path, const json& node,
                                                  const std::string& where, int depth,
                                                  std::string* description) {
  if (depth > kMaxDepth) fail(path, where + " nests Sequences too deeply");
  Fields f(path, node, where);
  std::string type = f.string("type");
  *description = type;
  if (type == "BertPreTokenizer") return std::make_unique<BertPreTokenizer>();
  if (type == "ByteLevel") {
    return std::make_unique<ByteLevelPreTokenizer>(f.boolean("add_prefix_space", true),
                                                   f.boolean("use_regex", true));
  }
  if (type == "Whitespace") return std::make_unique<WhitespacePreTokenizer>();
  if (type == "WhitespaceSplit") return std::make_unique<WhitespaceSplitPreTokenizer>();
  if (type == "Punctuation") {
    return std::make_unique<PunctuationPreTokenizer>(
        parse_behavior(path, f, "behavior", SplitBehavior::kIsolated));
  }
  if (type == "Digits") {
    return std::make_unique<DigitsPreTokenizer>(f.boolean("individual_digits", false));
  }
  if (type == "CharDelimiterSplit") {
    return std::make_unique<CharDelimiterPreTokenizer>(single_char(path, f, "delimiter"));
  }
  if (type == "Split") {
    SplitBehavior behavior = parse_behavior(path, f, "behavior", std::nullopt);
    bool invert = f.boolean("invert", false);
    const json& p = f.get("pattern");
    if (p.is_object() && p.size() == 1 && p.begin().key() == "Regex" &&
        p.begin().value() == kGpt2Pattern && behavior == SplitBehavior::kIsolated && !invert) {
      return std::make_unique<Gpt2SplitPreTokenizer>();
    }
    return std::make_unique<SplitPreTokenizer>(parse_pattern(path, f), behavior, invert);
  }
  if (type == "Metaspace") {
    char32_t replacement = single_char(path, f, "replacement");
    PrependScheme scheme = PrependScheme::kAlways;
    if (f.has("prepend_scheme")) {
      std::string s = f.string("prepend_scheme");
      if (s == "always") {
        scheme = PrependScheme::kAlways;
      } else if (s == "first") {
        scheme = PrependScheme::kFirst;
      } else if (s == "never") {
        scheme = PrependScheme::kNever;
      } else {
        unsupported(path, f.name("prepend_scheme"), s, "always, first, never");
      }
    }
    if (f.has("add_prefix_space") && !f.boolean("add_prefix_space", true)) {
      // The library's legacy field: false must agree with the scheme, and means never.
      if (f.has("prepend_scheme") && scheme != PrependScheme::kNever) {
        fail(path, where + ": add_prefix_space false does not match prepend_scheme");
      }
      scheme = PrependScheme::kNever;
    }
    return std::make_unique<MetaspacePreTokenizer>(replacement, scheme, f.boolean("split", true));
  }
  if (type == "Sequence") {
    const json& list = f.get("pretokenizers");
    if (!list.is_array()) fail(path, f.name("pretokenizers") + " must be an array");
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    std::string names;
    for (size_t i = 0; i < list.size(); ++i) {
      std::string name;
      steps.push_back(parse_pre_tokenizer(
          path, list[i], f.name("pretokenizers") + "[" + std::to_string(i) + "]", depth + 1,
          &name));
      names += (i ? ", " : "") + name;
    }
    *description = names;
    return std::make_unique<SequencePreTokenizer>(std::move(steps));
  }
  unsupported(path, where + " type", type,
              "BertPreTokenizer, ByteLevel, Whitespace, WhitespaceSplit, Punctuation, Digits, "
              "CharDelimiterSplit, Split, Metaspace, Sequence");
}

std::vector<std::pair<std::string, int32_t>> parse_vocab_object(const fs::path& path,
                                                                 const Fields& f) {
  const json& node = f.get("vocab");
  if (!node.is_object()) fail(path, f.name("vocab") + " must be an object of token -> id");
  std::vector<std::pair<std::string, int32_t>> vocab;
  vocab.reserve(node.size());
  for (auto it = node.begin(); it != node.end(); ++it) {
    std::string where = f.name("vocab") + "['" + it.key() + "']";
    if (!it.value().is_number_integer()) fail(path, where + " must be an integer id");
    vocab.emplace_back(it.key(), checked_id(path, it.value().get<int64_t>(), where));
  }
  // Ids far beyond the number of tokens would only waste memory (and are not a real vocabulary).
  for (const auto& [token, id] : vocab) {
    if (static_cast<size_t>(id) > 2 * vocab.size() + 65536) {
      fail(path, f.name("vocab") + "['" + token + "'] has id " + std::to_string(id) +
                     ", far beyond the " + std::to_string(vocab.size()) + " tokens");
    }
  }
  return vocab;
}

std::unique_ptr<TokenizerModel> parse_model(const fs::path& path, const json& node) {
  Fields f(path, node, "model");
  std::string type;
  if (f.has("type")) {
    type = f.string("type");
  } else if (f.has("merges")) {
    type = "BPE";
  } else if (f.has("vocab") && node["vocab"].is_array()) {
    type = "Unigram";
  } else {
    type = "WordPiece";
  }
  try {
    if (type == "WordPiece") {
      WordPieceOptions options;
      options.unk_token = f.string("unk_token", "[UNK]");
      options.continuing_subword_prefix = f.string("continuing_subword_prefix", "##");
      int64_t max_chars = f.integer("max_input_chars_per_word", 100);
      if (max_chars < 0) fail(path, "model.max_input_chars_per_word must not be negative");
      options.max_input_chars_per_word = static_cast<size_t>(max_chars);
      auto vocab = parse_vocab_object(path, f);
      if (vocab.empty()) fail(path, "model.vocab is empty");
      return std::make_unique<WordPieceModel>(vocab, options);
    }
    if (type == "BPE") {
      if (f.has("dropout")) {
        const json& d = node["dropout"];
        if (!d.is_number() || d.get<double>() != 0.0) {
          unsupported(path, "model.dropout", d.dump(), "null or 0: salvo does not sample");
        }
      }
      BpeOptions options;
      options.unk_token = f.optional_string("unk_token");
      options.continuing_subword_prefix = f.string("continuing_subword_prefix", "");
      options.end_of_word_suffix = f.string("end_of_word_suffix", "");
      options.fuse_unk = f.boolean("fuse_unk", false);
      options.byte_fallback = f.boolean("byte_fallback", false);
      options.ignore_merges = f.boolean("ignore_merges", false);
      auto vocab = parse_vocab_object(path, f);
      const json& list = f.get("merges");
      if (!list.is_array()) fail(path, "model.merges must be an array");
      std::vector<std::pair<std::string, std::string>> merges;
      merges.reserve(list.size());
      bool legacy = !list.empty() && list[0].is_string();
      for (size_t i = 0; i < list.size(); ++i) {
        const json& m = list[i];
        std::string where = "model.merges[" + std::to_string(i) + "]";
        if (legacy) {
          if (!m.is_string()) fail(path, where + " must be a string like the others");
          std::string line = m.get<std::string>();
          if (line.rfind("#version", 0) == 0) continue;
          size_t space = line.find(' ');
          if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos) {
            fail(path, where + " '" + line + "' is not two tokens separated by one space");
          }
          merges.emplace_back(line.substr(0, space), line.substr(space + 1));
        } else {
          if (!m.is_array() || m.size() != 2 || !m[0].is_string() || !m[1].is_string()) {
            fail(path, where + " must be a pair of token strings");
          }
          merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
        }
      }
      return std::make_unique<BpeModel>(vocab, merges, options);
    }
    if (type == "Unigram") {
      const json& list = f.get("vocab");
      if (!list.is_array()) fail(path, "model.vocab must be an array of [token, score]");
      std::vector<std::pair<std::string, double>> pieces;
      pieces.reserve(list.size());
      for (size_t i = 0; i < list.size(); ++i) {
        const json& p = list[i];
        if (!p.is_array() || p.size() != 2 || !p[0].is_string() || !p[1].is_number()) {
          fail(path, "model.vocab[" + std::to_string(i) + "] must be [token, score]");
        }
        double score = p[1].get<double>();
        if (!std::isfinite(score)) {
          fail(path, "model.vocab[" + std::to_string(i) + "] has a score that is not finite");
        }
        pieces.emplace_back(p[0].get<std::string>(), as_serde_json_reads(score));
      }
      std::optional<size_t> unk_id;
      if (f.has("unk_id")) {
        int64_t id = f.integer("unk_id");
        if (id < 0) fail(path, "model.unk_id must not be negative");
        unk_id = static_cast<size_t>(id);
      }
      return std::make_unique<UnigramModel>(pieces, unk_id, f.boolean("byte_fallback", false));
    }
  } catch (const Error& e) {
    std::string message = e.what();
    if (message.rfind(path.string(), 0) == 0) throw;
    fail(path, "model: " + message);
  }
  unsupported(path, "model type", type, "WordPiece, BPE, Unigram");
}

std::vector<AddedToken> parse_added_tokens(const fs::path& path, const json& node) {
  if (!node.is_array()) fail(path, "added_tokens must be an array");
  std::vector<AddedToken> tokens;
  for (size_t i = 0; i < node.size(); ++i) {
    Fields f(path, node[i], "added_tokens[" + std::to_string(i) + "]");
    AddedToken token;
    token.content = f.string("content");
    // The file's id is only a record: the library computes the id when it adds the token.
    token.id = checked_id(path, f.integer("id", 0), f.name("id"));
    token.single_word = f.boolean("single_word", false);
    token.lstrip = f.boolean("lstrip", false);
    token.rstrip = f.boolean("rstrip", false);
    token.special = f.boolean("special", false);
    token.normalized = f.boolean("normalized", !token.special);
    tokens.push_back(std::move(token));
  }
  return tokens;
}

std::vector<int32_t> parse_cls_sep(const fs::path& path, const json& node,
                                   const std::string& where) {
  if (!node.is_array() || node.size() != 2 || !node[0].is_string() ||
      !node[1].is_number_integer()) {
    fail(path, where + " must be [token, id]");
  }
  return {checked_id(path, node[1].get<int64_t>(), where)};
}

std::vector<TemplatePiece> parse_template(const fs::path& path, const Fields& f, const char* key,
                                          bool is_pair) {
  using Kind = TemplatePiece::Kind;
  const json& specials = f.get("special_tokens");
  if (!specials.is_object()) fail(path, f.name("special_tokens") + " must be an object");
  const json& list = f.get(key);
  if (!list.is_array()) fail(path, f.name(key) + " must be an array");
  std::vector<TemplatePiece> pieces;
  for (size_t i = 0; i < list.size(); ++i) {
    std::string where = f.name(key) + "[" + std::to_string(i) + "]";
    const json& item = list[i];
    if (!item.is_object() || item.size() != 1) {
      fail(path, where + " must be {\"SpecialToken\": ...} or {\"Sequence\": ...}");
    }
    std::string kind = item.begin().key();
    Fields piece(path, item.begin().value(), where + "." + kind);
    TemplatePiece out;
    out.type_id = checked_id(path, piece.integer("type_id", 0), piece.name("type_id"));
    if (kind == "Sequence") {
      std::string id = piece.string("id");
      if (id == "A") {
        out.kind = Kind::kSequenceA;
      } else if (id == "B" && is_pair) {
        out.kind = Kind::kSequenceB;
      } else {
        fail(path, piece.name("id") + " is '" + id + "'; expected A" + (is_pair ? " or B" : ""));
      }
    } else if (kind == "SpecialToken") {
      std::string id = piece.string("id");
      if (!specials.contains(id)) {
        fail(path, piece.name("id") + " '" + id + "' is not in post_processor.special_tokens");
      }
      Fields special(path, specials[id], "post_processor.special_tokens['" + id + "']");
      const json& ids = special.get("ids");
      if (!ids.is_array()) fail(path, special.name("ids") + " must be an array");
      out.kind = Kind::kSpecialTokens;
      for (const json& v : ids) {
        if (!v.is_number_integer()) fail(path, special.name("ids") + " must hold integers");
        out.ids.push_back(checked_id(path, v.get<int64_t>(), special.name("ids")));
      }
    } else {
      fail(path, where + " has unknown kind '" + kind + "'");
    }
    pieces.push_back(std::move(out));
  }
  return pieces;
}

// Parses one post-processor; `adds` tells whether it adds special tokens (Sequence allows one).
PostProcessor parse_post_processor(const fs::path& path, const json& node,
                                   const std::string& where, int depth) {
  using Kind = TemplatePiece::Kind;
  if (depth > kMaxDepth) fail(path, where + " nests Sequences too deeply");
  Fields f(path, node, where);
  std::string type = f.string("type");
  PostProcessor p;
  p.name = type;
  if (type == "BertProcessing") {
    auto cls = parse_cls_sep(path, f.get("cls"), f.name("cls"));
    auto sep = parse_cls_sep(path, f.get("sep"), f.name("sep"));
    p.single = {{Kind::kSpecialTokens, cls, 0}, {Kind::kSequenceA, {}, 0},
                {Kind::kSpecialTokens, sep, 0}};
    p.pair = {{Kind::kSpecialTokens, cls, 0}, {Kind::kSequenceA, {}, 0},
              {Kind::kSpecialTokens, sep, 0}, {Kind::kSequenceB, {}, 1},
              {Kind::kSpecialTokens, sep, 1}};
    return p;
  }
  if (type == "RobertaProcessing") {
    // Every type id is 0, the pair is <s> A </s> </s> B </s>; trim_offsets and
    // add_prefix_space only move offsets.
    auto cls = parse_cls_sep(path, f.get("cls"), f.name("cls"));
    auto sep = parse_cls_sep(path, f.get("sep"), f.name("sep"));
    p.single = {{Kind::kSpecialTokens, cls, 0}, {Kind::kSequenceA, {}, 0},
                {Kind::kSpecialTokens, sep, 0}};
    p.pair = {{Kind::kSpecialTokens, cls, 0}, {Kind::kSequenceA, {}, 0},
              {Kind::kSpecialTokens, sep, 0}, {Kind::kSpecialTokens, sep, 0},
              {Kind::kSequenceB, {}, 0},      {Kind::kSpecialTokens, sep, 0}};
    return p;
  }
  if (type == "TemplateProcessing") {
    p.single = parse_template(path, f, "single", false);
    p.pair = parse_template(path, f, "pair", true);
    return p;
  }
  if (type == "ByteLevel") {
    // Only offsets change; ids and type ids are the default ones.
    PostProcessor none = PostProcessor::none();
    none.name = "ByteLevel";
    return none;
  }
  if (type == "Sequence") {
    const json& list = f.get("processors");
    if (!list.is_array()) fail(path, f.name("processors") + " must be an array");
    std::optional<PostProcessor> adding;
    for (size_t i = 0; i < list.size(); ++i) {
      std::string item = f.name("processors") + "[" + std::to_string(i) + "]";
      PostProcessor step = parse_post_processor(path, list[i], item, depth + 1);
      if (step.name == "ByteLevel") continue;
      if (adding) {
        fail(path, item + ": a Sequence with more than one post-processor that adds special "
                          "tokens is not supported");
      }
      adding = std::move(step);
    }
    PostProcessor result = adding ? *adding : PostProcessor::none();
    if (!adding) result.name = "ByteLevel";
    return result;
  }
  unsupported(path, where + " type", type,
              "TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel, Sequence");
}

}  // namespace

std::shared_ptr<Tokenizer::Config> load_tokenizer_json(const fs::path& path) {
  std::string content = read_bounded(path);
  json doc;
  try {
    size_t values = 0;
    json::parser_callback_t bound = [&values](int depth, json::parse_event_t event, json&) {
      if (depth > static_cast<int>(kMaxJsonDepth)) {
        throw Error(ErrorCode::kModel, "JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
      }
      if (event == json::parse_event_t::value || event == json::parse_event_t::object_start ||
          event == json::parse_event_t::array_start) {
        if (++values > kMaxJsonValues) {
          throw Error(ErrorCode::kModel, "more than " + std::to_string(kMaxJsonValues) +
                                             " JSON values: the vocabulary is too large");
        }
      }
      return true;
    };
    doc = json::parse(content, bound);
  } catch (const json::exception& e) {
    fail(path, std::string("not valid JSON: ") + e.what());
  } catch (const Error& e) {
    fail(path, e.what());
  }
  content = std::string();
  if (!doc.is_object()) fail(path, "the document must be a JSON object");
  try {
    Fields top(path, doc, "tokenizer");
    if (top.has("version") && top.string("version") != "1.0") {
      fail(path, "unknown tokenizer version '" + top.string("version") + "' (expected 1.0)");
    }
    auto config = std::make_shared<Tokenizer::Config>();
    std::string normalizer_name;
    std::string pre_tokenizer_name;
    if (top.has("normalizer")) {
      config->normalizer =
          parse_normalizer(path, doc["normalizer"], "normalizer", 0, &normalizer_name);
    }
    if (top.has("pre_tokenizer")) {
      config->pre_tokenizer =
          parse_pre_tokenizer(path, doc["pre_tokenizer"], "pre_tokenizer", 0, &pre_tokenizer_name);
    }
    config->model = parse_model(path, top.get("model"));
    if (top.has("added_tokens")) {
      add_tokens(path, parse_added_tokens(path, doc["added_tokens"]), config.get());
    } else {
      add_tokens(path, {}, config.get());
    }
    if (top.has("post_processor")) {
      config->post_processor = parse_post_processor(path, doc["post_processor"], "post_processor", 0);
    }
    for (bool pair : {false, true}) {
      for (const TemplatePiece& piece : pair ? config->post_processor.pair
                                             : config->post_processor.single) {
        for (int32_t id : piece.ids) {
          if (static_cast<size_t>(id) >= config->vocab_size) {
            fail(path, "post_processor: special token id " + std::to_string(id) +
                           " is outside the vocabulary of " +
                           std::to_string(config->vocab_size) + " ids");
          }
        }
      }
    }
    if (top.has("truncation")) {
      Fields trunc(path, doc["truncation"], "truncation");
      int64_t max_length = trunc.integer("max_length");
      if (max_length < 0) fail(path, "truncation.max_length must not be negative");
      config->initial_max_length = static_cast<size_t>(max_length);
      std::string direction = trunc.string("direction", "Right");
      if (direction != "Right" && direction != "Left") {
        unsupported(path, "truncation.direction", direction, "Right, Left");
      }
      config->truncate_left = direction == "Left";
      std::string strategy = trunc.string("strategy", "LongestFirst");
      if (strategy == "LongestFirst") {
        config->truncation_strategy = TruncationStrategy::kLongestFirst;
      } else if (strategy == "OnlyFirst") {
        config->truncation_strategy = TruncationStrategy::kOnlyFirst;
      } else if (strategy == "OnlySecond") {
        config->truncation_strategy = TruncationStrategy::kOnlySecond;
      } else {
        unsupported(path, "truncation.strategy", strategy, "LongestFirst, OnlyFirst, OnlySecond");
      }
      int64_t stride = trunc.integer("stride", 0);
      if (stride != 0) unsupported(path, "truncation.stride", std::to_string(stride), "0");
    }
    int32_t pad = config->model->token_to_id("[PAD]");
    for (const char* name : {"[PAD]", "<pad>"}) {
      if (pad >= 0) break;
      for (const AddedToken& t : config->added_tokens) {
        if (t.content == name) pad = t.id;
      }
      if (pad < 0) pad = config->model->token_to_id(name);
    }
    config->pad_id = pad >= 0 ? pad : 0;
    if (top.has("padding")) {
      Fields padding(path, doc["padding"], "padding");
      config->pad_id = checked_id(path, padding.integer("pad_id", config->pad_id), "padding.pad_id");
    }
    std::string parts = normalizer_name;
    if (!pre_tokenizer_name.empty()) parts += (parts.empty() ? "" : ", ") + pre_tokenizer_name;
    config->description = std::string(config->model->name()) +
                          (parts.empty() ? "" : " (" + parts + ")") + ", " +
                          config->post_processor.name;
    return config;
  } catch (const json::exception& e) {
    fail(path, std::string("unexpected structure: ") + e.what());
  }
}

}  // namespace salvo
