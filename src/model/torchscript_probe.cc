// Recognising a TorchScript archive without libtorch, so that a build without it can still say
// what the file is.
#include <zip.h>

#include <string_view>

#include "model/torchscript_model.h"

namespace salvo {

bool is_torchscript_file(const std::filesystem::path& path) {
  int error = 0;
  zip_t* archive = zip_open(path.c_str(), ZIP_RDONLY, &error);
  if (archive == nullptr) return false;
  bool code = false;
  bool constants = false;
  const zip_int64_t entries = zip_get_num_entries(archive, 0);
  for (zip_int64_t i = 0; i < entries && !(code && constants); ++i) {
    const char* name = zip_get_name(archive, static_cast<zip_uint64_t>(i), 0);
    if (name == nullptr) continue;
    const std::string_view n(name);
    code = code || n.find("/code/") != std::string_view::npos;
    constants = constants || n.ends_with("/constants.pkl");
  }
  zip_discard(archive);
  return code && constants;
}

}  // namespace salvo
