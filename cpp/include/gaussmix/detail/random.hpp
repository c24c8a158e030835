#pragma once
/// @file random.hpp
/// A small, portable random number generator (xoshiro256** seeded by splitmix64). The standard
/// library's distributions differ between implementations; these give the same draws anywhere.

#include <cmath>
#include <cstdint>

namespace gaussmix::detail {

inline std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/// Derives an independent seed for stream `index` of `seed` (restarts, blocks of rows).
inline std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t index) {
  std::uint64_t state = seed ^ (0xD1B54A32D192ED03ULL * (index + 1));
  return splitmix64(state);
}

class Random {
 public:
  explicit Random(std::uint64_t seed) {
    for (auto& word : state_) word = splitmix64(seed);
  }

  std::uint64_t next() {
    const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  /// Standard normal by the Box-Muller transform (both values used).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = uniform();
    while (u1 <= 0.0) u1 = uniform();
    const double u2 = uniform();
    const double radius = std::sqrt(-2.0 * std::log(u1));
    const double angle = 6.283185307179586476925286766559 * u2;
    spare_ = radius * std::sin(angle);
    has_spare_ = true;
    return radius * std::cos(angle);
  }

  /// Gamma(shape, 1) for shape > 0: Marsaglia and Tsang's method (exact, by rejection).
  double gamma(double shape) {
    if (shape < 1.0) {  // Gamma(a) = Gamma(a + 1) U^(1/a)
      double u = uniform();
      while (u <= 0.0) u = uniform();
      return gamma(shape + 1.0) * std::pow(u, 1.0 / shape);
    }
    const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
    for (;;) {
      const double x = normal();
      double v = 1.0 + c * x;
      if (v <= 0.0) continue;
      v = v * v * v;
      const double u = uniform();
      if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
      if (u > 0.0 && std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
    }
  }

  /// Binomial(trials, p), exact in O(log trials) steps: the a-th smallest of n uniforms is
  /// Beta(a, n + 1 - a); the uniforms below p are then all of the a smallest plus a binomial
  /// count of the rest, or a binomial count of the a - 1 below it (Knuth, TAOCP 3.4.1).
  std::int64_t binomial(std::int64_t trials, double p) {
    std::int64_t count = 0;
    while (trials > 64 && p > 0.0 && p < 1.0) {
      const std::int64_t a = 1 + trials / 2;
      const double g1 = gamma(static_cast<double>(a));
      const double g2 = gamma(static_cast<double>(trials + 1 - a));
      const double x = g1 / (g1 + g2);
      if (p < x) {
        trials = a - 1;
        p /= x;
      } else {
        count += a;
        trials -= a;
        p = (p - x) / (1.0 - x);
      }
    }
    if (p >= 1.0) return count + trials;
    if (p <= 0.0) return count;
    for (std::int64_t i = 0; i < trials; ++i) count += uniform() < p;
    return count;
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t state_[4];
  double spare_ = 0.0;
  bool has_spare_ = false;
};

}  // namespace gaussmix::detail
