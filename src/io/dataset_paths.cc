#include "io/dataset_paths.h"

#include <cctype>

namespace salvo {

bool is_hidden(const std::string& name) { return !name.empty() && (name[0] == '.' || name[0] == '_'); }

bool has_wildcard(const std::string& path) { return path.find_first_of("*?[") != std::string::npos; }

std::string percent_decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::vector<Partition> partitions_of(const std::filesystem::path& file, const std::filesystem::path& root) {
  std::vector<Partition> partitions;
  // Lexically: files are listed under their root, so their paths start with it. (relative() would
  // resolve symbolic links: a stat and a readlink for every folder of both paths, for every file,
  // and a partition folder that is a link would lose its name to its target's.)
  const std::filesystem::path relative =
      file.parent_path().lexically_normal().lexically_relative(root.lexically_normal());
  for (const auto& part : relative) {
    const std::string folder = part.string();
    const size_t eq = folder.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    std::string value = percent_decode(folder.substr(eq + 1));
    partitions.emplace_back(percent_decode(folder.substr(0, eq)),
                            value == "__HIVE_DEFAULT_PARTITION__" ? std::nullopt : std::optional(value));
  }
  return partitions;
}

std::filesystem::path glob_base(const std::string& pattern) {
  std::filesystem::path base;
  for (const auto& part : std::filesystem::path(pattern).parent_path()) {
    if (has_wildcard(part.string())) break;
    base /= part;
  }
  return base.empty() ? "." : base;
}

}  // namespace salvo
