#include "io/tfrecord/feature_value.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>

#include "core/json_text.h"

namespace salvo {
namespace {

bool fits_int64(const nlohmann::json& v) {
  return v.is_number_integer() &&
         (!v.is_number_unsigned() ||
          v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()));
}

bool is_integral(const nlohmann::json& v) { return v.is_boolean() || fits_int64(v); }

int64_t as_int64(const nlohmann::json& v) {
  return v.is_boolean() ? (v.get<bool>() ? 1 : 0) : v.get<int64_t>();
}

// A float as the double with the same shortest decimal form (0.1f as 0.1, not 0.10000000149011612):
// JSON, CSV and Parquet DOUBLE output show the value that was written, and it converts back to the
// same float.
double as_written(float f) {
  if (!std::isfinite(f)) return f;
  char text[32];
  const auto [end, ec] = std::to_chars(text, text + sizeof(text), f);
  double d = f;
  std::from_chars(text, end, d);
  return d;
}

template <typename List, typename Convert>
nlohmann::json list_to_json(const List& values, Convert convert) {
  if (values.size() == 1) return nlohmann::json(convert(values.Get(0)));
  nlohmann::json array = nlohmann::json::array();
  for (const auto& v : values) array.push_back(convert(v));
  return array;
}

template <typename T>
T same(const T& v) {
  return v;
}

}  // namespace

nlohmann::json feature_to_json(const tf::Feature& feature) {
  switch (feature.kind_case()) {
    case tf::Feature::kBytesList:
      return list_to_json(feature.bytes_list().value(), same<std::string>);
    case tf::Feature::kFloatList:
      return list_to_json(feature.float_list().value(), as_written);
    case tf::Feature::kInt64List:
      return list_to_json(feature.int64_list().value(), same<int64_t>);
    case tf::Feature::KIND_NOT_SET:
      break;
  }
  return nullptr;
}

const char* feature_kind_name(const tf::Feature& feature) {
  switch (feature.kind_case()) {
    case tf::Feature::kBytesList:
      return "bytes_list";
    case tf::Feature::kFloatList:
      return "float_list";
    case tf::Feature::kInt64List:
      return "int64_list";
    case tf::Feature::KIND_NOT_SET:
      break;
  }
  return "no value";
}

void json_to_feature(const nlohmann::json& value, tf::Feature* feature) {
  feature->Clear();
  if (value.is_null()) return;
  if (value.is_string()) {
    feature->mutable_bytes_list()->add_value(value.get_ref<const std::string&>());
  } else if (is_integral(value)) {
    feature->mutable_int64_list()->add_value(as_int64(value));
  } else if (value.is_number()) {
    feature->mutable_float_list()->add_value(value.get<float>());
  } else if (value.is_array()) {
    bool strings = true;
    bool integers = true;
    bool numbers = true;
    for (const auto& v : value) {
      strings = strings && v.is_string();
      integers = integers && is_integral(v);
      numbers = numbers && (v.is_number() || v.is_boolean());
    }
    if (value.empty() || strings) {
      auto* list = feature->mutable_bytes_list();
      for (const auto& v : value) list->add_value(v.get_ref<const std::string&>());
    } else if (integers) {
      auto* list = feature->mutable_int64_list();
      for (const auto& v : value) list->add_value(as_int64(v));
    } else if (numbers) {
      auto* list = feature->mutable_float_list();
      for (const auto& v : value)
        list->add_value(v.is_boolean() ? (v.get<bool>() ? 1.0f : 0.0f) : v.get<float>());
    } else {
      auto* list = feature->mutable_bytes_list();
      for (const auto& v : value)
        list->add_value(v.is_string() ? v.get<std::string>() : json_text(v));
    }
  } else {
    feature->mutable_bytes_list()->add_value(json_text(value));
  }
}

}  // namespace salvo
