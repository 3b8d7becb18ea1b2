// Compares the weights of two model folders through open_weight_store, bit for bit:
//   weights_compare REFERENCE_DIR OTHER_DIR...
// Every float tensor of the reference must be in each other folder with the same dtype, shape and
// float32 bits; tensors of other dtypes (position_ids) may be present or absent, and must match
// when both have them. Prints one line per folder; exits 1 on any difference.
#include <cstdio>
#include <cstring>
#include <set>

#include "core/error.h"
#include "model/weight_store.h"

namespace {

bool is_float(const std::string& dtype) {
  return dtype == "F32" || dtype == "F16" || dtype == "BF16";
}

int compare(const salvo::WeightStore& ref, const salvo::WeightStore& other) {
  int differences = 0;
  size_t compared = 0;
  uint64_t elements = 0;
  auto report = [&](const std::string& name, const std::string& why) {
    if (++differences <= 20) std::printf("  %s: %s\n", name.c_str(), why.c_str());
  };
  const std::vector<std::string> ref_names = ref.names();
  for (const std::string& name : ref_names) {
    const salvo::WeightInfo a = ref.info(name);
    if (!other.contains(name)) {
      if (is_float(a.dtype)) report(name, "missing");
      continue;
    }
    const salvo::WeightInfo b = other.info(name);
    if (a.dtype != b.dtype || a.shape != b.shape) {
      report(name, "dtype or shape differs (" + a.dtype + " vs " + b.dtype + ")");
      continue;
    }
    if (!is_float(a.dtype)) continue;
    const std::vector<float> x = ref.to_float(name, a.shape);
    const std::vector<float> y = other.to_float(name, b.shape);
    if (x.size() != y.size() ||
        (!x.empty() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) != 0)) {
      report(name, "values differ");
      continue;
    }
    ++compared;
    elements += x.size();
  }
  const std::set<std::string> known(ref_names.begin(), ref_names.end());
  for (const std::string& name : other.names()) {
    if (!known.count(name) && is_float(other.info(name).dtype))
      report(name, "not in the reference");
  }
  std::printf("%s: %zu float tensors (%llu elements) bit-identical to %s, %d differences\n",
              other.describe().c_str(), compared, static_cast<unsigned long long>(elements),
              ref.describe().c_str(), differences);
  return differences == 0 && compared > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s REFERENCE_DIR OTHER_DIR...\n", argv[0]);
    return 2;
  }
  try {
    const auto ref = salvo::open_weight_store(argv[1]);
    int failed = 0;
    for (int i = 2; i < argc; ++i) failed |= compare(*ref, *salvo::open_weight_store(argv[i]));
    return failed;
  } catch (const salvo::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
