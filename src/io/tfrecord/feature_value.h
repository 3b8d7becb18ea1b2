// Conversions between tf.train.Feature values and the JSON values that carry ids and
// passthrough columns through a job.
#pragma once

#include <nlohmann/json.hpp>

#include "io/tfrecord/example.pb.h"

namespace salvo {

// A feature as a JSON value: the single value of a one-element list (bytes as a string, int64 as
// an integer, float as a number), the whole list as an array otherwise, null when no kind is set.
nlohmann::json feature_to_json(const tf::Feature& feature);

// Sets `feature` from a JSON value: a string as bytes, an integer or bool as int64, a number as
// float; an array of one kind as that list; anything else (objects, mixed arrays) as its JSON text.
// Null leaves the feature without a kind.
void json_to_feature(const nlohmann::json& value, tf::Feature* feature);

// The name of a feature's kind ("bytes_list", "float_list", "int64_list" or "no value").
const char* feature_kind_name(const tf::Feature& feature);

}  // namespace salvo
