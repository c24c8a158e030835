// exp_nonpositive() and log_normal() (cpp/src/packet_math.hpp) against std::exp and std::log in
// long double, over their whole domains, ends included, for float and double. Built once for
// the baseline instruction set and once per SIMD extension (see CMakeLists.txt); a build for an
// extension this CPU lacks reports a skip.

#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <vector>

#include "check.hpp"
#include "packet_math.hpp"

using namespace gaussmix::detail;

namespace {

template <typename Scalar>
void check_functions(double exp_ulps, double log_ulps) {
  using namespace Eigen::internal;
  using Packet = typename packet_traits<Scalar>::type;
  constexpr int width = packet_traits<Scalar>::size;
  const Scalar smallest = std::numeric_limits<Scalar>::min();
  const long double eps = std::numeric_limits<Scalar>::epsilon();
  const Scalar low = std::log(smallest);

  // Arguments: evenly over [low, 0], both ends, near -0, then random ones.
  std::vector<Scalar> x = {low, Scalar(0), -std::numeric_limits<Scalar>::denorm_min(), Scalar(-1e-30), Scalar(-0.5)};
  for (int i = 0; i <= 20000; ++i) x.push_back(low * Scalar(i) / Scalar(20000));
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> uniform(static_cast<double>(low), 0.0);
  for (int i = 0; i < 100000; ++i) x.push_back(static_cast<Scalar>(uniform(rng)));
  while (x.size() % width) x.push_back(Scalar(0));
  long double worst = 0;
  for (std::size_t i = 0; i < x.size(); i += width) {
    Scalar y[width];
    pstoreu(y, exp_nonpositive(ploadu<Packet>(x.data() + i)));
    for (int j = 0; j < width; ++j) {
      const long double reference = std::exp(static_cast<long double>(x[i + j]));
      CHECK(std::isfinite(y[j]) && y[j] >= smallest * Scalar(0.99));
      worst = std::max(worst, std::abs(y[j] - reference) / reference);
    }
  }
  std::printf("  exp: worst relative error %.3Lg = %.2Lf ulp\n", worst, worst / eps);
  CHECK(worst <= exp_ulps * eps);

  // Sums of exponentials lie in [1, K]; log_normal() takes any normal number and 0.
  std::vector<Scalar> s = {smallest, Scalar(1), std::nextafter(Scalar(1), Scalar(2)), Scalar(1.41421356), Scalar(2),
                           Scalar(4096), std::numeric_limits<Scalar>::max()};
  std::uniform_real_distribution<double> sums(1.0, 64.0), exponent(-100.0, 100.0);
  for (int i = 0; i < 100000; ++i) s.push_back(static_cast<Scalar>(sums(rng)));
  for (int i = 0; i < 20000; ++i) s.push_back(static_cast<Scalar>(std::exp2(exponent(rng))));
  while (s.size() % width) s.push_back(Scalar(1));
  long double worst_log = 0;
  for (std::size_t i = 0; i < s.size(); i += width) {
    Scalar y[width];
    pstoreu(y, log_normal(ploadu<Packet>(s.data() + i)));
    for (int j = 0; j < width; ++j) {
      const long double reference = std::log(static_cast<long double>(s[i + j]));
      // Relative to max(|log x|, 1): near x = 1 the error is absolute, as for any log.
      worst_log = std::max(worst_log, std::abs(y[j] - reference) / std::max(std::abs(reference), 1.0L));
    }
  }
  std::printf("  log: worst error %.3Lg = %.2Lf ulp\n", worst_log, worst_log / eps);
  CHECK(worst_log <= log_ulps * eps);
  Scalar zeros[width] = {}, y[width];
  pstoreu(y, log_normal(ploadu<Packet>(zeros)));
  for (int j = 0; j < width; ++j) CHECK(y[j] == -std::numeric_limits<Scalar>::infinity());
}

bool cpu_runs_this_build() {
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
  __builtin_cpu_init();
#if defined(__AVX512F__)
  if (!__builtin_cpu_supports("avx512f")) return false;
#endif
#if defined(__AVX2__)
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return false;
#endif
#endif
  return true;
}

}  // namespace

int main() {
  if (!cpu_runs_this_build()) {
    std::printf("test_packet_math: skipped, this CPU lacks the instruction set of this build\n");
    return 0;
  }
  std::printf("SIMD: %s, bit-level path: double %d, float %d\n", Eigen::SimdInstructionSetsInUse(),
              PacketBits<Eigen::internal::packet_traits<double>::type>::available,
              PacketBits<Eigen::internal::packet_traits<float>::type>::available);
  check_functions<double>(4, 4);
  check_functions<float>(4, 4);
  return check::finish("test_packet_math");
}
