#pragma once
// A tiny dependency-free CHECK helper: failures are counted and reported, main returns non-zero.

#include <cmath>
#include <iostream>
#include <string>

namespace check {

inline int& failures() {
  static int count = 0;
  return count;
}

inline void report(bool ok, const char* expression, const char* file, int line) {
  if (ok) return;
  ++failures();
  std::cerr << file << ":" << line << ": CHECK failed: " << expression << "\n";
}

inline bool close(double a, double b, double rtol, double atol = 0.0) {
  return std::abs(a - b) <= atol + rtol * std::max(std::abs(a), std::abs(b));
}

inline int finish(const char* name) {
  if (failures() == 0) {
    std::cout << name << ": all checks passed\n";
    return 0;
  }
  std::cerr << name << ": " << failures() << " check(s) failed\n";
  return 1;
}

}  // namespace check

#define CHECK(expr) ::check::report(static_cast<bool>(expr), #expr, __FILE__, __LINE__)
#define CHECK_CLOSE(a, b, rtol) \
  ::check::report(::check::close((a), (b), (rtol)), #a " ~= " #b, __FILE__, __LINE__)
#define CHECK_THROWS(ExceptionType, statement)                                 \
  do {                                                                         \
    bool thrown_ = false;                                                      \
    try {                                                                      \
      statement;                                                               \
    } catch (const ExceptionType&) {                                           \
      thrown_ = true;                                                          \
    }                                                                          \
    ::check::report(thrown_, "throws " #ExceptionType ": " #statement, __FILE__, __LINE__); \
  } while (0)
