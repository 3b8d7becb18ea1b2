// This process's resident memory, for tests that check what an allocation leaves behind.
#pragma once

#include <fstream>
#include <string>

namespace salvo::testing {

// VmRSS in /proc/self/status, in KiB, or -1 where the kernel gives none.
inline long resident_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

}  // namespace salvo::testing
