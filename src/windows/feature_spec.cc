#include "windows/feature_spec.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "core/error.h"
#include "windows/time_spec.h"

namespace salvo::windows {
namespace {

struct Function {
  std::string_view name;
  AggregateKind kind;
  bool star;  // accepts "*"
};

constexpr Function kFunctions[] = {
    {"count", AggregateKind::kCount, true},        {"sum", AggregateKind::kSum, false},
    {"mean", AggregateKind::kMean, false},         {"avg", AggregateKind::kMean, false},
    {"min", AggregateKind::kMin, false},           {"max", AggregateKind::kMax, false},
    {"first", AggregateKind::kFirst, false},       {"last", AggregateKind::kLast, false},
    {"distinct", AggregateKind::kDistinct, false}, {"count_distinct", AggregateKind::kDistinct, false},
    {"stddev", AggregateKind::kStddev, false},     {"stddev_samp", AggregateKind::kStddev, false},
    {"std", AggregateKind::kStddev, false},        {"any", AggregateKind::kAny, true},
};

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

[[noreturn]] void fail(std::string_view flag, std::string_view item, const std::string& why) {
  throw Error(ErrorCode::kInvalidArgument, std::string(flag) + ": cannot read \"" + std::string(item) + "\": " + why);
}

// Reads a name at `pos`: quoted ("..." or `...`, the quote doubled inside) or bare.
std::string read_name(std::string_view s, size_t& pos, std::string_view flag, std::string_view item) {
  std::string name;
  if (pos < s.size() && (s[pos] == '"' || s[pos] == '`')) {
    const char quote = s[pos++];
    for (;;) {
      if (pos >= s.size()) fail(flag, item, "unclosed quote");
      if (s[pos] == quote) {
        if (pos + 1 < s.size() && s[pos + 1] == quote) {
          name.push_back(quote);
          pos += 2;
          continue;
        }
        ++pos;
        break;
      }
      name.push_back(s[pos++]);
    }
    if (name.empty()) fail(flag, item, "empty column name");
    return name;
  }
  while (pos < s.size() && !is_space(s[pos]) && s[pos] != '(' && s[pos] != ')' && s[pos] != ',')
    name.push_back(s[pos++]);
  return name;
}

void skip_spaces(std::string_view s, size_t& pos) {
  while (pos < s.size() && is_space(s[pos])) ++pos;
}

// Splits at commas outside quotes and parentheses.
std::vector<std::string_view> split_items(std::string_view text) {
  std::vector<std::string_view> items;
  int depth = 0;
  char quote = 0;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '`') {
      quote = c;
    } else if (c == '(') {
      ++depth;
    } else if (c == ')') {
      --depth;
    } else if (c == ',' && depth == 0) {
      items.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  items.push_back(text.substr(start));
  return items;
}

// Reads "function(arg)" from the start of `item`; `pos` ends after the closing parenthesis.
FeatureSpec read_aggregate(std::string_view item, size_t& pos, std::string_view flag) {
  FeatureSpec spec;
  skip_spaces(item, pos);
  const size_t name_start = pos;
  while (pos < item.size() && (std::isalnum(static_cast<unsigned char>(item[pos])) || item[pos] == '_')) ++pos;
  spec.function = lower(item.substr(name_start, pos - name_start));
  if (spec.function.empty()) fail(flag, item, "expected an aggregate such as sum(amount)");
  const Function* function = nullptr;
  for (const Function& f : kFunctions) {
    if (f.name == spec.function) function = &f;
  }
  if (function == nullptr) {
    fail(flag, item,
         "unknown aggregate \"" + spec.function +
             "\" (expected count, sum, mean, avg, min, max, first, last, distinct, stddev or any)");
  }
  spec.kind = function->kind;
  skip_spaces(item, pos);
  if (pos >= item.size() || item[pos] != '(') fail(flag, item, "expected \"(\" after " + spec.function);
  ++pos;
  skip_spaces(item, pos);
  if (pos < item.size() && item[pos] == '*') {
    if (!function->star) fail(flag, item, spec.function + "(*) is not an aggregate; name a column");
    ++pos;
  } else {
    spec.column = read_name(item, pos, flag, item);
    if (spec.column.empty()) fail(flag, item, "expected a column name or * in " + spec.function + "(...)");
  }
  skip_spaces(item, pos);
  if (pos >= item.size() || item[pos] != ')') fail(flag, item, "expected \")\"");
  ++pos;
  if (spec.column.empty()) {
    spec.name = spec.function;
  } else {
    spec.name = spec.function + "_" + spec.column;
  }
  return spec;
}

// Reads the next word (letters) at `pos`, lower-cased.
std::string read_word(std::string_view s, size_t& pos) {
  skip_spaces(s, pos);
  const size_t start = pos;
  while (pos < s.size() && std::isalpha(static_cast<unsigned char>(s[pos]))) ++pos;
  return lower(s.substr(start, pos - start));
}

}  // namespace

const char* aggregate_name(AggregateKind kind) {
  switch (kind) {
    case AggregateKind::kCount: return "count";
    case AggregateKind::kSum: return "sum";
    case AggregateKind::kMean: return "mean";
    case AggregateKind::kMin: return "min";
    case AggregateKind::kMax: return "max";
    case AggregateKind::kFirst: return "first";
    case AggregateKind::kLast: return "last";
    case AggregateKind::kDistinct: return "distinct";
    case AggregateKind::kStddev: return "stddev";
    case AggregateKind::kAny: return "any";
  }
  return "?";
}

std::vector<FeatureSpec> parse_features(std::string_view text) {
  constexpr std::string_view flag = "--features";
  std::vector<FeatureSpec> features;
  std::set<std::string> names;
  if (trim(text).empty()) throw Error(ErrorCode::kInvalidArgument, "--features: no aggregate given");
  for (std::string_view raw : split_items(text)) {
    const std::string_view item = trim(raw);
    if (item.empty()) throw Error(ErrorCode::kInvalidArgument, "--features: an empty aggregate (two commas in a row?)");
    size_t pos = 0;
    FeatureSpec spec = read_aggregate(item, pos, flag);
    spec.text = std::string(item);
    size_t word_end = pos;
    const std::string word = read_word(item, word_end);
    if (word == "as") {
      pos = word_end;
      skip_spaces(item, pos);
      spec.name = read_name(item, pos, flag, item);
      if (spec.name.empty()) fail(flag, item, "expected a name after \"as\"");
    }
    skip_spaces(item, pos);
    if (pos != item.size()) {
      if (word == "over") fail(flag, item, "\"over next ...\" belongs in --label");
      fail(flag, item, "unexpected \"" + std::string(item.substr(pos)) + "\"");
    }
    if (!names.insert(spec.name).second) {
      throw Error(ErrorCode::kInvalidArgument,
                  "--features: two aggregates are named \"" + spec.name + "\" (rename one with \"as\")");
    }
    features.push_back(std::move(spec));
  }
  return features;
}

LabelSpec parse_label(std::string_view text) {
  constexpr std::string_view flag = "--label";
  const std::string_view item = trim(text);
  size_t pos = 0;
  LabelSpec label;
  label.aggregate = read_aggregate(item, pos, flag);
  label.aggregate.text = std::string(item);
  label.aggregate.name = "label";
  if (read_word(item, pos) != "over" || read_word(item, pos) != "next") {
    fail(flag, item, "expected \"<aggregate> over next <duration>\", e.g. \"max(churned) over next 30d\"");
  }
  skip_spaces(item, pos);
  label.horizon = parse_duration(trim(item.substr(pos)), "--label horizon");
  return label;
}

}  // namespace salvo::windows
