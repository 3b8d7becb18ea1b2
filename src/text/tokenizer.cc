#include "text/tokenizer.h"

#include <algorithm>
#include <atomic>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/json_text.h"
#include "text/added_tokens.h"
#include "text/bert_normalizer.h"
#include "text/models/wordpiece.h"
#include "text/tokenizer_config.h"
#include "text/unicode.h"
#include "text/word_cache.h"

namespace salvo {

namespace {

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& problem) {
  throw Error(ErrorCode::kModel, path.string() + ": " + problem);
}

std::string read_small_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) fail(path, "not a regular file");
  auto size = std::filesystem::file_size(path, ec);
  if (ec || size > (64u << 20)) fail(path, "cannot read the file or it is larger than 64 MiB");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open the file");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// A word of a sequence: text (code points) or an added token's id.
struct WordRef {
  std::u32string_view text;
  int32_t added_id;  // -1 for text
};

// Scratch buffers reused across encode() calls on the same thread.
struct EncodeScratch {
  std::u32string raw;
  std::u32string normalized;
  std::vector<TextPiece> raw_pieces;
  std::vector<TextPiece> normalized_pieces;
  PreTokenizedText words;
  PreTokenizedText spare;
  std::vector<int32_t> a;
  std::vector<int32_t> b;
};

// Calls sink(WordRef) for every word of `text` in order, as the library's extract_and_normalize,
// pre-tokenization and split filtering produce them; stops when sink returns false.
template <typename Sink>
void for_each_word(const Tokenizer::Config& c, std::string_view text, EncodeScratch& s,
                   Sink sink) {
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
    if (piece.added_id >= 0) {
      if (!sink(WordRef{{}, piece.added_id})) return;
      continue;
    }
    if (piece.begin == piece.end) continue;
    std::u32string_view normalized = raw.substr(piece.begin, piece.end - piece.begin);
    bool at_origin = piece.begin == 0;
    if (c.normalizer) {
      at_origin &= c.normalizer->normalize(normalized, &s.normalized);
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
      if (sub.added_id >= 0) {
        if (!sink(WordRef{{}, sub.added_id})) return;
        continue;
      }
      if (sub.begin == sub.end) continue;
      std::u32string_view part = normalized.substr(sub.begin, sub.end - sub.begin);
      if (!c.pre_tokenizer) {
        if (!sink(WordRef{part, -1})) return;
        continue;
      }
      s.words.text.assign(part);
      s.words.spans.assign(1, TextSpan{0, static_cast<uint32_t>(part.size()),
                                       at_origin && sub.begin == 0});
      c.pre_tokenizer->pre_tokenize(&s.words, &s.spare);
      std::u32string_view words_text(s.words.text);
      for (const TextSpan& w : s.words.spans) {
        if (!sink(WordRef{words_text.substr(w.begin, w.end - w.begin), -1})) return;
      }
    }
  }
}

// Texts longer than this are tokenized a piece at a time when only their first ids are kept.
constexpr size_t kLongTextBytes = 64 << 10;

// Whether a text may be cut just before ASCII whitespace and its pieces tokenized one after the
// other with the ids of the whole: the pre-tokenizer ends words at whitespace, the normalizer works
// character by character, and no added token holds whitespace (none can match across a cut).
bool cuttable_at_whitespace(const Tokenizer::Config& c) {
  if (!c.pre_tokenizer || !c.pre_tokenizer->splits_at_whitespace()) return false;
  if (c.normalizer && !c.normalizer->character_wise()) return false;
  for (const AddedToken& t : c.added_tokens) {
    if (t.content.find_first_of(" \t\n\r\f\v") != std::string::npos) return false;
  }
  return true;
}

// Scratch grown by one huge text is given back, so that a thread does not keep it for good.
void release_if_huge(EncodeScratch& s) {
  constexpr size_t kKeepChars = 1 << 20;
  if (s.raw.capacity() > kKeepChars) std::u32string().swap(s.raw);
  if (s.normalized.capacity() > kKeepChars) std::u32string().swap(s.normalized);
  if (s.raw_pieces.capacity() > kKeepChars) std::vector<TextPiece>().swap(s.raw_pieces);
  if (s.normalized_pieces.capacity() > kKeepChars) std::vector<TextPiece>().swap(s.normalized_pieces);
}

void append_sequence(const Tokenizer::Config& c, std::string_view text, size_t limit,
                     EncodeScratch& s, std::vector<int32_t>* ids);

// The ids of one sequence; with a limit, tokenizing stops once that many ids are there. A long
// text with a limit is read a piece of at least kLongTextBytes at a time, cut just before ASCII
// whitespace, until the limit is reached, when the tokenizer allows it: memory and time then
// follow the ids kept, not the text's length (a 100 MB record).
void encode_sequence(const Tokenizer::Config& c, std::string_view text, size_t limit,
                     EncodeScratch& s, std::vector<int32_t>* ids) {
  ids->clear();
  if (limit == 0 || text.size() <= kLongTextBytes || !cuttable_at_whitespace(c)) {
    append_sequence(c, text, limit, s, ids);
  } else {
    size_t begin = 0;
    while (begin < text.size() && ids->size() < limit) {
      size_t cut = begin + kLongTextBytes < text.size() ? text.find_first_of(" \t\n\r", begin + kLongTextBytes)
                                                        : text.size();
      if (cut == std::string_view::npos) cut = text.size();
      append_sequence(c, text.substr(begin, cut - begin), limit, s, ids);
      begin = cut;
    }
  }
  release_if_huge(s);
}

// Appends the ids of `text` to `ids`, stopping once there are `limit` (0: no limit).
void append_sequence(const Tokenizer::Config& c, std::string_view text, size_t limit,
                     EncodeScratch& s, std::vector<int32_t>* ids) {
  const TokenizerModel& model = *c.model;
  thread_local WordCache cache;
  bool cached = model.worth_caching();
  if (cached) cache.claim(c.serial);
  for_each_word(c, text, s, [&](const WordRef& w) {
    if (w.added_id >= 0) {
      ids->push_back(w.added_id);
    } else if (!cached) {
      model.tokenize(w.text, ids);
    } else if (!cache.lookup(w.text, ids)) {
      size_t first = ids->size();
      model.tokenize(w.text, ids);
      cache.store(w.text, *ids, first);
    }
    return limit == 0 || ids->size() < limit;
  });
}

// Encoding::truncate with stride 0.
void truncate_ids(std::vector<int32_t>* ids, size_t max_len, bool left) {
  if (ids->size() <= max_len) return;
  if (left) {
    ids->erase(ids->begin(), ids->end() - static_cast<std::ptrdiff_t>(max_len));
  } else {
    ids->resize(max_len);
  }
}

// tokenizers' truncate_encodings.
void truncate_encodings(std::vector<int32_t>* a, std::vector<int32_t>* b, size_t max_length,
                        TruncationStrategy strategy, bool left) {
  if (max_length == 0) {
    a->clear();
    if (b) b->clear();
    return;
  }
  size_t total = a->size() + (b ? b->size() : 0);
  if (total <= max_length) return;
  size_t to_remove = total - max_length;
  switch (strategy) {
    case TruncationStrategy::kLongestFirst:
      if (b) {
        size_t n1 = a->size();
        size_t n2 = b->size();
        bool swap = n1 > n2;
        if (swap) std::swap(n1, n2);
        if (n1 > max_length) {
          n2 = n1;
        } else {
          n2 = std::max(n1, max_length - n1);
        }
        if (n1 + n2 > max_length) {
          n1 = max_length / 2;
          n2 = n1 + max_length % 2;
        }
        if (swap) std::swap(n1, n2);
        truncate_ids(a, n1, left);
        truncate_ids(b, n2, left);
      } else {
        truncate_ids(a, total - to_remove, left);
      }
      return;
    case TruncationStrategy::kOnlyFirst:
    case TruncationStrategy::kOnlySecond: {
      std::vector<int32_t>* target = strategy == TruncationStrategy::kOnlyFirst ? a : b;
      if (target == nullptr) {
        throw Error(ErrorCode::kInvalidArgument,
                    "truncation error: the only_second strategy needs a second sequence, and the "
                    "text is longer than the maximum length");
      }
      if (target->size() > to_remove) {
        truncate_ids(target, target->size() - to_remove, left);
      } else {
        throw Error(ErrorCode::kInvalidArgument,
                    "truncation error: the sequence to truncate is too short to respect the "
                    "maximum length");
      }
      return;
    }
  }
}

void encode_with(const Tokenizer::Config& c, size_t max_length, std::string_view first,
                 const std::string_view* second, Encoding* out) {
  thread_local EncodeScratch s;
  bool is_pair = second != nullptr;
  size_t added = c.post_processor.added_tokens(is_pair);
  // A single text truncated on the right keeps only its first ids, so the words after them need
  // not be tokenized (one more id tells that it was too long). Pairs are truncated by comparing
  // the sequences' full lengths, as the library does.
  size_t limit = 0;
  if (!is_pair && !c.truncate_left && max_length > 0 && (added == 0 || max_length >= added)) {
    limit = max_length - added + 1;
  }
  encode_sequence(c, first, limit, s, &s.a);
  if (is_pair) encode_sequence(c, *second, 0, s, &s.b);
  if (max_length > 0) {
    // max_length - added wraps around in the library when it is negative: no truncation then.
    if (added == 0 || max_length >= added) {
      truncate_encodings(&s.a, is_pair ? &s.b : nullptr, max_length - added,
                         c.truncation_strategy, c.truncate_left);
    }
  }
  out->ids.clear();
  out->type_ids.clear();
  c.post_processor.apply(is_pair, s.a, s.b, &out->ids, &out->type_ids);
}

}  // namespace

void add_tokens(const std::filesystem::path& path, const std::vector<AddedToken>& tokens,
                Tokenizer::Config* config) {
  const TokenizerModel& model = *config->model;
  // AddedVocabulary::add_tokens: one entry per content; a token already in the model keeps the
  // model's id, others are numbered from the model's vocabulary size on.
  std::vector<AddedToken>& added = config->added_tokens;
  int64_t next_id = static_cast<int64_t>(model.vocab_size());
  for (const AddedToken& t : added) {
    if (t.id >= static_cast<int32_t>(model.vocab_size()) || model.vocab_size() == 0) {
      next_id = std::max<int64_t>(next_id, t.id + 1);
    }
  }
  for (const AddedToken& token : tokens) {
    if (token.content.empty()) continue;
    auto same = std::find_if(added.begin(), added.end(),
                             [&](const AddedToken& t) { return t.content == token.content; });
    int32_t id;
    if (same != added.end()) {
      id = same->id;
    } else {
      id = model.token_to_id(token.content);
      if (id < 0) {
        if (next_id > std::numeric_limits<int32_t>::max()) fail(path, "too many added tokens");
        id = static_cast<int32_t>(next_id++);
        if (static_cast<size_t>(id) < model.id_limit() && !model.id_to_token(id).empty()) {
          fail(path, "added token '" + token.content + "' would get id " + std::to_string(id) +
                         ", which the model's vocabulary already gives to '" +
                         std::string(model.id_to_token(id)) + "'");
        }
      }
    }
    AddedToken entry = token;
    entry.id = id;
    if (same != added.end()) {
      *same = entry;  // the last flags win
    } else {
      added.push_back(entry);
    }
  }
  // An id given to two contents keeps the last token added for it.
  std::vector<AddedToken> unique;
  for (size_t i = 0; i < added.size(); ++i) {
    bool later = false;
    for (size_t j = i + 1; j < added.size(); ++j) later |= added[j].id == added[i].id;
    if (!later) unique.push_back(added[i]);
  }
  added.swap(unique);

  std::vector<AddedTokenMatcher::Pattern> raw;
  std::vector<AddedTokenMatcher::Pattern> normalized;
  std::set<std::u32string> normalized_seen;
  for (const AddedToken& token : added) {
    std::u32string text;
    decode_utf8(token.content, &text);
    if (token.normalized) {
      std::u32string norm = text;
      if (config->normalizer) config->normalizer->normalize(text, &norm);
      if (norm.empty()) {
        fail(path, "added token '" + token.content + "' normalizes to an empty string");
      }
      if (!normalized_seen.insert(norm).second) {
        fail(path, "two normalized added tokens normalize to the same text as '" + token.content +
                       "'");
      }
      normalized.push_back({norm, token});
    } else {
      raw.push_back({text, token});
    }
  }
  config->raw_matcher = AddedTokenMatcher(std::move(raw));
  config->normalized_matcher = AddedTokenMatcher(std::move(normalized));
  size_t limit = model.id_limit();
  config->added_by_id.clear();
  for (const AddedToken& t : added) {
    limit = std::max(limit, static_cast<size_t>(t.id) + 1);
    config->added_by_id[t.id] = t.content;
  }
  config->vocab_size = limit;
}

static uint64_t next_tokenizer_serial() {
  static std::atomic<uint64_t> counter{0};
  return ++counter;
}

Tokenizer::Tokenizer(std::shared_ptr<const Config> config)
    : config_(std::move(config)), max_length_(config_->initial_max_length) {}

Tokenizer Tokenizer::from_tokenizer_json(const std::filesystem::path& path) {
  auto config = load_tokenizer_json(path);
  config->serial = next_tokenizer_serial();
  return Tokenizer(std::move(config));
}

Tokenizer Tokenizer::from_vocab_txt(const std::filesystem::path& path, bool lowercase) {
  std::string content = read_small_file(path);
  std::vector<std::pair<std::string, int32_t>> vocab;
  size_t pos = 0;
  int32_t index = 0;
  std::set<std::string> seen;
  while (pos < content.size()) {
    size_t eol = content.find('\n', pos);
    if (eol == std::string::npos) eol = content.size();
    std::string line = content.substr(pos, eol - pos);
    // Rust's str::trim_end, as tokenizers' WordPiece::read_file applies it.
    std::u32string cps;
    decode_utf8(line, &cps);
    size_t keep = cps.size();
    while (keep > 0 && (char_flags(cps[keep - 1]) & kCharWhitespace)) --keep;
    std::string token =
        keep == cps.size() ? line : to_utf8(std::u32string_view(cps).substr(0, keep));
    // A repeated line keeps its last index (the library's map); drop the earlier entry.
    if (!seen.insert(token).second) {
      vocab.erase(std::remove_if(vocab.begin(), vocab.end(),
                                 [&](const auto& e) { return e.first == token; }),
                  vocab.end());
    }
    vocab.emplace_back(std::move(token), index++);
    pos = eol + 1;
  }
  if (vocab.empty()) fail(path, "the vocabulary is empty");
  auto config = std::make_shared<Config>();
  try {
    config->model = std::make_unique<WordPieceModel>(vocab, WordPieceOptions{});
  } catch (const Error& e) {
    fail(path, e.what());
  }
  BertNormalizerOptions normalizer;
  normalizer.lowercase = lowercase;
  normalizer.strip_accents = lowercase;
  config->normalizer = std::make_unique<BertNormalizer>(normalizer);
  config->pre_tokenizer = std::make_unique<BertPreTokenizer>();
  int32_t cls = config->model->token_to_id("[CLS]");
  int32_t sep = config->model->token_to_id("[SEP]");
  if (cls < 0 || sep < 0) fail(path, "the vocabulary has no [CLS] or no [SEP] token");
  using Kind = TemplatePiece::Kind;
  config->post_processor.single = {{Kind::kSpecialTokens, {cls}, 0}, {Kind::kSequenceA, {}, 0},
                                   {Kind::kSpecialTokens, {sep}, 0}};
  config->post_processor.pair = {{Kind::kSpecialTokens, {cls}, 0}, {Kind::kSequenceA, {}, 0},
                                 {Kind::kSpecialTokens, {sep}, 0}, {Kind::kSequenceB, {}, 1},
                                 {Kind::kSpecialTokens, {sep}, 1}};
  config->post_processor.name = "TemplateProcessing";
  // transformers' BertTokenizerFast registers its special tokens as added tokens.
  std::vector<AddedToken> specials;
  for (const char* name : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}) {
    if (config->model->token_to_id(name) >= 0) {
      specials.push_back({name, 0, false, false, false, false, true});
    }
  }
  add_tokens(path, specials, config.get());
  int32_t pad = config->model->token_to_id("[PAD]");
  config->pad_id = pad >= 0 ? pad : 0;
  config->description = "WordPiece (BertNormalizer, BertPreTokenizer), TemplateProcessing";
  config->serial = next_tokenizer_serial();
  return Tokenizer(std::move(config));
}

Tokenizer Tokenizer::from_model_dir(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  fs::path json_path = dir / "tokenizer.json";
  if (fs::exists(json_path)) return from_tokenizer_json(json_path);
  fs::path vocab_path = dir / "vocab.txt";
  if (!fs::exists(vocab_path)) {
    std::error_code ec;
    bool sentencepiece = false;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (entry.path().extension() == ".model") sentencepiece = true;
    }
    if (sentencepiece) {
      throw Error(ErrorCode::kModel,
                  dir.string() + ": only a SentencePiece .model file; salvo needs tokenizer.json "
                                 "(save the tokenizer with transformers' save_pretrained to get it)");
    }
    if (fs::exists(dir / "vocab.json") || fs::exists(dir / "merges.txt")) {
      throw Error(ErrorCode::kModel,
                  dir.string() + ": only vocab.json/merges.txt; salvo needs tokenizer.json "
                                 "(save the tokenizer with transformers' save_pretrained to get it)");
    }
    throw Error(ErrorCode::kModel, dir.string() + ": no tokenizer.json and no vocab.txt");
  }
  bool lowercase = true;
  fs::path config_path = dir / "tokenizer_config.json";
  if (fs::exists(config_path)) {
    nlohmann::json config;
    try {
      config = parse_json_document(read_small_file(config_path));
    } catch (const nlohmann::json::exception& e) {
      fail(config_path, std::string("not valid JSON: ") + e.what());
    }
    if (config.is_object() && config.contains("do_lower_case")) {
      if (!config["do_lower_case"].is_boolean()) {
        fail(config_path, "do_lower_case must be a boolean");
      }
      lowercase = config["do_lower_case"].get<bool>();
    }
  }
  return from_vocab_txt(vocab_path, lowercase);
}

void Tokenizer::encode(std::string_view text, Encoding* out) const {
  encode_with(*config_, max_length_, text, nullptr, out);
}

void Tokenizer::encode_pair(std::string_view first, std::string_view second,
                            Encoding* out) const {
  encode_with(*config_, max_length_, first, &second, out);
}

size_t Tokenizer::max_length() const { return max_length_; }

void Tokenizer::set_max_length(size_t max_length) { max_length_ = max_length; }

int32_t Tokenizer::pad_id() const { return config_->pad_id; }

size_t Tokenizer::vocab_size() const { return config_->vocab_size; }

size_t Tokenizer::num_special_tokens(bool pair) const {
  return config_->post_processor.added_tokens(pair);
}

std::string Tokenizer::describe() const { return config_->description; }

std::string_view Tokenizer::id_to_token(int32_t id) const {
  auto it = config_->added_by_id.find(id);
  if (it != config_->added_by_id.end()) return it->second;
  return config_->model->id_to_token(id);
}

int32_t Tokenizer::token_to_id(std::string_view token) const {
  for (const AddedToken& t : config_->added_tokens) {
    if (t.content == token) return t.id;
  }
  return config_->model->token_to_id(token);
}

}  // namespace salvo
