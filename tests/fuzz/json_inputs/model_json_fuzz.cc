// libFuzzer target: the JSON files of a model folder. The first byte picks the reader; the rest is
// the file. Any bytes end in a value or salvo::Error, never a crash: config.json (BertConfig),
// modules.json, a Pooling module's config.json, and the JSON printer, which must print every
// document it parses exactly as nlohmann's dump() does, without recursion.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/error.h"
#include "core/json_text.h"
#include "model/architectures/architecture.h"
#include "model/architectures/config_json.h"
#include "model/sentence_transformers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  nlohmann::json doc;
  try {
    doc = salvo::parse_json_document(text);
  } catch (const nlohmann::json::exception&) {
    return 0;
  }
  try {
    switch (data[0] % 4) {
      case 0: salvo::parse_encoder_config(salvo::ConfigJson(doc, "config.json")); break;
      case 1: salvo::parse_modules_json(doc, "modules.json"); break;
      case 2: salvo::parse_pooling_config(doc, "1_Pooling/config.json"); break;
      default:
        if (salvo::json_text(doc) != doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)) std::abort();
    }
  } catch (const salvo::Error&) {
  }
  return 0;
}
