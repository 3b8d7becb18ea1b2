#include "text/tokenizer.h"

#include <algorithm>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>

#include "core/error.h"
#include "core/json_text.h"
#include "text/added_tokens.h"
#include "text/bert_normalizer.h"
#include "text/bert_pre_tokenizer.h"
#include "text/unicode.h"
#include "text/wordpiece_model.h"

namespace salvo {

namespace {

using nlohmann::json;

// One element of the post-processor's template for a single sequence.
struct TemplatePiece {
  bool is_sequence = false;
  std::vector<int32_t> ids;  // the special token's ids (empty for the sequence)
  int32_t type_id = 0;
};

}  // namespace

struct Tokenizer::Config {
  std::optional<BertNormalizer> normalizer;
  bool bert_pre_tokenizer = true;
  WordPieceModel model;
  std::vector<AddedToken> added_tokens{};
  AddedTokenMatcher raw_matcher{};         // added tokens with normalized = false
  AddedTokenMatcher normalized_matcher{};  // added tokens with normalized = true
  std::vector<TemplatePiece> single_template{};
  size_t num_special = 0;
  bool truncate_left = false;
  size_t initial_max_length = 0;
  int32_t pad_id = 0;
  size_t vocab_size = 0;
};

namespace {

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& problem) {
  throw Error(ErrorCode::kModel, path.string() + ": " + problem);
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open the file");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Accessors that name the field when the document does not have the expected shape.
class Fields {
 public:
  Fields(const std::filesystem::path& path, const json& object, std::string where)
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

 private:
  const std::filesystem::path& path_;
  const json& object_;
  std::string where_;
};

int32_t checked_id(const std::filesystem::path& path, int64_t id, const std::string& what) {
  if (id < 0 || id > std::numeric_limits<int32_t>::max()) {
    fail(path, what + " has an invalid id " + std::to_string(id));
  }
  return static_cast<int32_t>(id);
}

BertNormalizerOptions parse_normalizer(const std::filesystem::path& path, const json& node) {
  Fields f(path, node, "normalizer");
  std::string type = f.string("type");
  if (type != "BertNormalizer") {
    fail(path, "unsupported normalizer type '" + type + "' (only BertNormalizer is supported)");
  }
  BertNormalizerOptions options;
  options.clean_text = f.boolean("clean_text", true);
  options.handle_chinese_chars = f.boolean("handle_chinese_chars", true);
  options.lowercase = f.boolean("lowercase", true);
  options.strip_accents = f.boolean("strip_accents", options.lowercase);
  return options;
}

WordPieceModel parse_model(const std::filesystem::path& path, const json& node) {
  Fields f(path, node, "model");
  std::string type = f.has("type") ? f.string("type") : "WordPiece";
  if (type != "WordPiece") {
    fail(path, "unsupported model type '" + type + "' (only WordPiece is supported)");
  }
  WordPieceOptions options;
  options.unk_token = f.string("unk_token", "[UNK]");
  options.continuing_subword_prefix = f.string("continuing_subword_prefix", "##");
  int64_t max_chars = f.integer("max_input_chars_per_word", 100);
  if (max_chars < 0) fail(path, "model.max_input_chars_per_word must not be negative");
  options.max_input_chars_per_word = static_cast<size_t>(max_chars);
  const json& vocab_node = f.get("vocab");
  if (!vocab_node.is_object()) fail(path, "model.vocab must be an object of token -> id");
  if (vocab_node.empty()) fail(path, "model.vocab is empty");
  std::vector<std::pair<std::string, int32_t>> vocab;
  vocab.reserve(vocab_node.size());
  for (auto it = vocab_node.begin(); it != vocab_node.end(); ++it) {
    if (!it.value().is_number_integer()) {
      fail(path, "model.vocab['" + it.key() + "'] must be an integer id");
    }
    vocab.emplace_back(
        it.key(), checked_id(path, it.value().get<int64_t>(), "model.vocab['" + it.key() + "']"));
  }
  try {
    return WordPieceModel(vocab, options);
  } catch (const Error& e) {
    fail(path, e.what());
  }
}

std::vector<AddedToken> parse_added_tokens(const std::filesystem::path& path, const json& node,
                                           const WordPieceModel& model) {
  if (!node.is_array()) fail(path, "added_tokens must be an array");
  std::vector<AddedToken> tokens;
  for (size_t i = 0; i < node.size(); ++i) {
    Fields f(path, node[i], "added_tokens[" + std::to_string(i) + "]");
    AddedToken token;
    token.content = f.string("content");
    token.id = checked_id(path, f.integer("id"), f.name("id"));
    // The library keeps the model's id for a token the vocabulary already has.
    int32_t model_id = model.token_to_id(token.content);
    if (model_id >= 0) token.id = model_id;
    token.single_word = f.boolean("single_word", false);
    token.lstrip = f.boolean("lstrip", false);
    token.rstrip = f.boolean("rstrip", false);
    token.special = f.boolean("special", false);
    token.normalized = f.boolean("normalized", !token.special);
    tokens.push_back(std::move(token));
  }
  return tokens;
}

// Looks up a special token of a post-processor: [name, id] for BertProcessing.
std::vector<int32_t> parse_pair_token(const std::filesystem::path& path, const json& node,
                                      const std::string& where) {
  if (!node.is_array() || node.size() != 2 || !node[0].is_string() ||
      !node[1].is_number_integer()) {
    fail(path, where + " must be [token, id]");
  }
  return {checked_id(path, node[1].get<int64_t>(), where)};
}

std::vector<TemplatePiece> parse_post_processor(const std::filesystem::path& path,
                                                const json& node) {
  Fields f(path, node, "post_processor");
  std::string type = f.string("type");
  if (type == "BertProcessing" || type == "RobertaProcessing") {
    // Single sequence: cls A sep, all with type id 0.
    return {TemplatePiece{false, parse_pair_token(path, f.get("cls"), "post_processor.cls"), 0},
            TemplatePiece{true, {}, 0},
            TemplatePiece{false, parse_pair_token(path, f.get("sep"), "post_processor.sep"), 0}};
  }
  if (type != "TemplateProcessing") {
    fail(path, "unsupported post_processor type '" + type +
                   "' (supported: TemplateProcessing, BertProcessing, RobertaProcessing)");
  }
  const json& specials = f.get("special_tokens");
  if (!specials.is_object()) fail(path, "post_processor.special_tokens must be an object");
  const json& single = f.get("single");
  if (!single.is_array()) fail(path, "post_processor.single must be an array");
  std::vector<TemplatePiece> pieces;
  for (size_t i = 0; i < single.size(); ++i) {
    std::string where = "post_processor.single[" + std::to_string(i) + "]";
    const json& item = single[i];
    if (!item.is_object() || item.size() != 1) {
      fail(path, where + " must be {\"SpecialToken\": ...} or {\"Sequence\": ...}");
    }
    std::string kind = item.begin().key();
    Fields piece(path, item.begin().value(), where + "." + kind);
    TemplatePiece out;
    out.type_id = checked_id(path, piece.integer("type_id", 0), piece.name("type_id"));
    if (kind == "Sequence") {
      std::string id = piece.string("id");
      if (id != "A") fail(path, piece.name("id") + " is '" + id + "'; a single sequence is A");
      out.is_sequence = true;
    } else if (kind == "SpecialToken") {
      std::string id = piece.string("id");
      if (!specials.contains(id)) {
        fail(path, piece.name("id") + " '" + id + "' is not in post_processor.special_tokens");
      }
      Fields special(path, specials[id], "post_processor.special_tokens['" + id + "']");
      const json& ids = special.get("ids");
      if (!ids.is_array()) fail(path, special.name("ids") + " must be an array");
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

// Builds the two matchers, normalizing the contents of normalized tokens as the library does.
void build_matchers(Tokenizer::Config* config) {
  std::vector<AddedTokenMatcher::Pattern> raw;
  std::vector<AddedTokenMatcher::Pattern> normalized;
  std::u32string text;
  // The library matches special tokens first, then the others, each in file order; the order
  // only matters for duplicates, which leftmost-longest matching resolves to the first.
  auto add = [&](const AddedToken& token) {
    text.clear();
    decode_utf8(token.content, &text);
    if (token.normalized) {
      std::u32string norm;
      if (config->normalizer) {
        config->normalizer->normalize(text, &norm);
      } else {
        norm = text;
      }
      normalized.push_back({norm, token});
    } else {
      raw.push_back({text, token});
    }
  };
  for (const AddedToken& t : config->added_tokens) {
    if (t.special) add(t);
  }
  for (const AddedToken& t : config->added_tokens) {
    if (!t.special) add(t);
  }
  config->raw_matcher = AddedTokenMatcher(std::move(raw));
  config->normalized_matcher = AddedTokenMatcher(std::move(normalized));
}

void finish(Tokenizer::Config* config) {
  build_matchers(config);
  config->num_special = 0;
  for (const TemplatePiece& p : config->single_template) config->num_special += p.ids.size();
  size_t limit = config->model.id_limit();
  for (const AddedToken& t : config->added_tokens) {
    limit = std::max(limit, static_cast<size_t>(t.id) + 1);
  }
  config->vocab_size = limit;
}

int32_t default_pad_id(const Tokenizer::Config& config) {
  for (const AddedToken& t : config.added_tokens) {
    if (t.content == "[PAD]") return t.id;
  }
  int32_t id = config.model.token_to_id("[PAD]");
  return id >= 0 ? id : 0;
}

// Scratch buffers reused across encode() calls on the same thread.
struct EncodeScratch {
  std::u32string raw;
  std::u32string normalized;
  std::vector<TextPiece> raw_pieces;
  std::vector<TextPiece> normalized_pieces;
  std::vector<WordSpan> words;
  std::vector<int32_t> ids;
};

}  // namespace

Tokenizer::Tokenizer(std::shared_ptr<const Config> config)
    : config_(std::move(config)), max_length_(config_->initial_max_length) {}

Tokenizer Tokenizer::from_tokenizer_json(const std::filesystem::path& path) {
  json doc;
  try {
    doc = parse_json_document(read_file(path));
  } catch (const json::exception& e) {
    fail(path, std::string("not valid JSON: ") + e.what());
  }
  if (!doc.is_object()) fail(path, "the document must be a JSON object");
  try {
    Fields top(path, doc, "tokenizer");
    if (top.has("version") && top.string("version") != "1.0") {
      fail(path, "unknown tokenizer version '" + top.string("version") + "' (expected 1.0)");
    }
    std::optional<BertNormalizer> normalizer;
    if (top.has("normalizer")) normalizer.emplace(parse_normalizer(path, doc["normalizer"]));
    bool bert_pre_tokenizer = false;
    if (top.has("pre_tokenizer")) {
      Fields pre(path, doc["pre_tokenizer"], "pre_tokenizer");
      std::string type = pre.string("type");
      if (type != "BertPreTokenizer") {
        fail(path,
             "unsupported pre_tokenizer type '" + type + "' (only BertPreTokenizer is supported)");
      }
      bert_pre_tokenizer = true;
    }
    auto config = std::make_shared<Config>(Config{.normalizer = normalizer,
                                                  .bert_pre_tokenizer = bert_pre_tokenizer,
                                                  .model = parse_model(path, top.get("model"))});
    if (top.has("added_tokens")) {
      config->added_tokens = parse_added_tokens(path, doc["added_tokens"], config->model);
    }
    if (top.has("post_processor")) {
      config->single_template = parse_post_processor(path, doc["post_processor"]);
    } else {
      config->single_template = {TemplatePiece{true, {}, 0}};
    }
    if (top.has("truncation")) {
      Fields trunc(path, doc["truncation"], "truncation");
      int64_t max_length = trunc.integer("max_length");
      if (max_length < 0) fail(path, "truncation.max_length must not be negative");
      config->initial_max_length = static_cast<size_t>(max_length);
      std::string direction = trunc.string("direction", "Right");
      if (direction != "Right" && direction != "Left") {
        fail(path, "truncation.direction must be Right or Left, not '" + direction + "'");
      }
      config->truncate_left = direction == "Left";
    }
    finish(config.get());
    config->pad_id = default_pad_id(*config);
    if (top.has("padding")) {
      Fields padding(path, doc["padding"], "padding");
      config->pad_id =
          checked_id(path, padding.integer("pad_id", config->pad_id), "padding.pad_id");
    }
    return Tokenizer(std::move(config));
  } catch (const json::exception& e) {
    fail(path, std::string("unexpected structure: ") + e.what());
  }
}

Tokenizer Tokenizer::from_vocab_txt(const std::filesystem::path& path,
                                                      bool lowercase) {
  std::string content = read_file(path);
  std::vector<std::pair<std::string, int32_t>> vocab;
  size_t pos = 0;
  int32_t index = 0;
  while (pos < content.size()) {
    size_t eol = content.find('\n', pos);
    if (eol == std::string::npos) eol = content.size();
    std::string line = content.substr(pos, eol - pos);
    // Rust's str::trim_end, as tokenizers' WordPiece::read_file applies it.
    std::u32string cps;
    decode_utf8(line, &cps);
    size_t keep = cps.size();
    while (keep > 0 && (char_flags(cps[keep - 1]) & kCharWhitespace)) --keep;
    vocab.emplace_back(
        keep == cps.size() ? line : to_utf8(std::u32string_view(cps).substr(0, keep)), index++);
    pos = eol + 1;
  }
  if (vocab.empty()) fail(path, "the vocabulary is empty");
  WordPieceOptions options;
  std::optional<WordPieceModel> model;
  try {
    model.emplace(vocab, options);
  } catch (const Error& e) {
    fail(path, e.what());
  }
  BertNormalizerOptions normalizer;
  normalizer.lowercase = lowercase;
  normalizer.strip_accents = lowercase;
  auto config = std::make_shared<Config>(Config{.normalizer = BertNormalizer(normalizer),
                                                .bert_pre_tokenizer = true,
                                                .model = std::move(*model)});
  // transformers' BertTokenizerFast registers its special tokens as added tokens.
  for (const char* name : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}) {
    int32_t id = config->model.token_to_id(name);
    if (id >= 0) config->added_tokens.push_back({name, id, false, false, false, false, true});
  }
  int32_t cls = config->model.token_to_id("[CLS]");
  int32_t sep = config->model.token_to_id("[SEP]");
  if (cls < 0 || sep < 0) fail(path, "the vocabulary has no [CLS] or no [SEP] token");
  config->single_template = {TemplatePiece{false, {cls}, 0}, TemplatePiece{true, {}, 0},
                             TemplatePiece{false, {sep}, 0}};
  finish(config.get());
  config->pad_id = default_pad_id(*config);
  return Tokenizer(std::move(config));
}

Tokenizer Tokenizer::from_model_dir(const std::filesystem::path& dir) {
  std::filesystem::path json_path = dir / "tokenizer.json";
  if (std::filesystem::exists(json_path)) return from_tokenizer_json(json_path);
  std::filesystem::path vocab_path = dir / "vocab.txt";
  if (!std::filesystem::exists(vocab_path)) {
    throw Error(ErrorCode::kModel, dir.string() + ": no tokenizer.json and no vocab.txt");
  }
  bool lowercase = true;
  std::filesystem::path config_path = dir / "tokenizer_config.json";
  if (std::filesystem::exists(config_path)) {
    json config;
    try {
      config = parse_json_document(read_file(config_path));
    } catch (const json::exception& e) {
      fail(config_path, std::string("not valid JSON: ") + e.what());
    }
    if (config.is_object() && config.contains("do_lower_case")) {
      if (!config["do_lower_case"].is_boolean())
        fail(config_path, "do_lower_case must be a boolean");
      lowercase = config["do_lower_case"].get<bool>();
    }
  }
  return from_vocab_txt(vocab_path, lowercase);
}

namespace {

// Texts longer than this are tokenized a piece at a time when only their first tokens are kept.
constexpr size_t kLongTextBytes = 64 << 10;

// Appends the ids of `text` (no special tokens, no truncation) to s.ids, stopping once there are
// `stop_at` of them.
void append_text_ids(const Tokenizer::Config& c, std::string_view text, size_t stop_at, EncodeScratch& s) {
  s.raw.clear();
  decode_utf8(text, &s.raw);
  s.raw_pieces.clear();
  uint32_t raw_size = static_cast<uint32_t>(s.raw.size());
  if (c.raw_matcher.empty()) {
    s.raw_pieces.push_back({0, raw_size, -1});
  } else {
    c.raw_matcher.split(s.raw, 0, raw_size, &s.raw_pieces);
  }
  std::u32string_view raw(s.raw);
  for (const TextPiece& piece : s.raw_pieces) {
    if (s.ids.size() >= stop_at) break;
    if (piece.added_id >= 0) {
      s.ids.push_back(piece.added_id);
      continue;
    }
    std::u32string_view normalized = raw.substr(piece.begin, piece.end - piece.begin);
    if (c.normalizer) {
      c.normalizer->normalize(normalized, &s.normalized);
      normalized = s.normalized;
    }
    s.normalized_pieces.clear();
    uint32_t size = static_cast<uint32_t>(normalized.size());
    if (c.normalized_matcher.empty()) {
      s.normalized_pieces.push_back({0, size, -1});
    } else {
      c.normalized_matcher.split(normalized, 0, size, &s.normalized_pieces);
    }
    for (const TextPiece& sub : s.normalized_pieces) {
      if (s.ids.size() >= stop_at) break;
      if (sub.added_id >= 0) {
        s.ids.push_back(sub.added_id);
        continue;
      }
      std::u32string_view part = normalized.substr(sub.begin, sub.end - sub.begin);
      s.words.clear();
      if (c.bert_pre_tokenizer) {
        bert_pre_tokenize(part, &s.words);
      } else if (!part.empty()) {
        s.words.push_back({0, static_cast<uint32_t>(part.size())});
      }
      for (const WordSpan& w : s.words) {
        c.model.tokenize(part.substr(w.begin, w.end - w.begin), &s.ids);
        if (s.ids.size() >= stop_at) break;
      }
    }
  }
}

// Whether a text may be cut at ASCII whitespace and its pieces tokenized one after the other with
// the same ids as the whole: the BERT pre-tokenizer splits words there, the BERT normalizer works
// character by character (no decomposition reorders across a space), and no added token holds
// whitespace, so none can match across the cut.
bool cuttable_at_whitespace(const Tokenizer::Config& c) {
  if (!c.bert_pre_tokenizer) return false;
  for (const AddedToken& t : c.added_tokens) {
    if (t.content.find_first_of(" \t\n\r") != std::string::npos) return false;
  }
  return true;
}

// Scratch grown by one huge text is given back, so a thread does not keep it for good.
void release_if_huge(EncodeScratch& s) {
  constexpr size_t kKeepChars = 1 << 20;
  if (s.raw.capacity() > kKeepChars) std::u32string().swap(s.raw);
  if (s.normalized.capacity() > kKeepChars) std::u32string().swap(s.normalized);
  if (s.words.capacity() > kKeepChars) std::vector<WordSpan>().swap(s.words);
  if (s.raw_pieces.capacity() > kKeepChars) std::vector<TextPiece>().swap(s.raw_pieces);
  if (s.normalized_pieces.capacity() > kKeepChars) std::vector<TextPiece>().swap(s.normalized_pieces);
}

}  // namespace

void Tokenizer::encode(std::string_view text, Encoding* out) const {
  thread_local EncodeScratch s;
  const Config& c = *config_;
  s.ids.clear();

  size_t keep = std::numeric_limits<size_t>::max();
  if (max_length_ > 0) keep = max_length_ > c.num_special ? max_length_ - c.num_special : 0;
  // With right truncation, ids past `keep` are dropped anyway, so stop producing them.
  size_t stop_at = c.truncate_left ? std::numeric_limits<size_t>::max() : keep;

  if (text.size() > kLongTextBytes && stop_at != std::numeric_limits<size_t>::max() && cuttable_at_whitespace(c)) {
    // A long text (a 200 MB record) is read a piece of at least kLongTextBytes at a time, cut just
    // before ASCII whitespace, until its first `keep` ids are known: memory and time follow the
    // tokens kept, not the text's length.
    size_t begin = 0;
    while (begin < text.size() && s.ids.size() < stop_at) {
      size_t cut = begin + kLongTextBytes < text.size() ? text.find_first_of(" \t\n\r", begin + kLongTextBytes)
                                                        : text.size();
      if (cut == std::string_view::npos) cut = text.size();
      append_text_ids(c, text.substr(begin, cut - begin), stop_at, s);
      begin = cut;
    }
  } else {
    append_text_ids(c, text, stop_at, s);
  }
  release_if_huge(s);
  if (s.ids.size() > keep) {
    if (c.truncate_left) {
      s.ids.erase(s.ids.begin(), s.ids.end() - static_cast<std::ptrdiff_t>(keep));
    } else {
      s.ids.resize(keep);
    }
  }

  out->ids.clear();
  out->type_ids.clear();
  for (const TemplatePiece& p : c.single_template) {
    if (p.is_sequence) {
      out->ids.insert(out->ids.end(), s.ids.begin(), s.ids.end());
      out->type_ids.insert(out->type_ids.end(), s.ids.size(), p.type_id);
    } else {
      out->ids.insert(out->ids.end(), p.ids.begin(), p.ids.end());
      out->type_ids.insert(out->type_ids.end(), p.ids.size(), p.type_id);
    }
  }
}

size_t Tokenizer::max_length() const { return max_length_; }

void Tokenizer::set_max_length(size_t max_length) { max_length_ = max_length; }

int32_t Tokenizer::pad_id() const { return config_->pad_id; }

size_t Tokenizer::vocab_size() const { return config_->vocab_size; }

size_t Tokenizer::num_special_tokens() const { return config_->num_special; }

std::string_view Tokenizer::id_to_token(int32_t id) const {
  for (const AddedToken& t : config_->added_tokens) {
    if (t.id == id) return t.content;
  }
  return config_->model.id_to_token(id);
}

}  // namespace salvo
