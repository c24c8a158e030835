#pragma once
// exp() and log() over SIMD packets for the two places the E-step needs them, on the ranges it
// needs them: exp of a shifted log-probability in [log(smallest normal), 0], log of a sum of
// exponentials in [1, n_components]. On those ranges the result is a normal number, so 2^n is
// built straight from exponent bits, and neither function needs the division, clamping and
// general scaling that Eigen's pexp()/plog() carry for arbitrary input: measured on W1's
// normalisation (K = 4, AVX2), Eigen's pexp took 2.3 ns and plog 10 ns per row and packet lane,
// more than everything else the E-step does.
//
// All three are always inlined: GCC kept polynomial() out of line, and the call passed its
// packets through memory (15% of a W1 iteration in the call, seen in perf).
//
// Accuracy: a few units in the last place (a degree-12 Taylor polynomial after Cody-Waite range
// reduction for exp, the atanh series for log; float: degrees 7 and 8). Where the instruction set
// has no 64-bit integer shift for the packet (or is not x86), Eigen's functions are used.

#include <Eigen/Core>
#include <array>
#include <cstdint>
#include <cstring>
#include <limits>

#if defined(__SSE2__) || defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace gaussmix::detail {

/// Whether any lane of a comparison's mask is set: a movemask where the instruction set has one
/// (Eigen 3.4's generic predux_any() sums the lanes as floating-point numbers).
template <typename Packet>
bool any_lane(const Packet& mask) {
  return Eigen::internal::predux_any(mask);
}
#if defined(__AVX512F__)
// A test of the lanes' bits into a mask register (W1's E-step spent 11% of its time in the
// generic version's horizontal adds and compare).
inline bool any_lane(const Eigen::internal::Packet8d& mask) {
  const __m512i bits = _mm512_castpd_si512(mask);
  return _mm512_test_epi64_mask(bits, bits) != 0;
}
inline bool any_lane(const Eigen::internal::Packet16f& mask) {
  const __m512i bits = _mm512_castps_si512(mask);
  return _mm512_test_epi32_mask(bits, bits) != 0;
}
#endif
#if defined(__AVX__)
inline bool any_lane(const Eigen::internal::Packet4d& mask) { return _mm256_movemask_pd(mask) != 0; }
inline bool any_lane(const Eigen::internal::Packet8f& mask) { return _mm256_movemask_ps(mask) != 0; }
#endif
#if defined(__SSE2__)
inline bool any_lane(const Eigen::internal::Packet2d& mask) { return _mm_movemask_pd(mask) != 0; }
inline bool any_lane(const Eigen::internal::Packet4f& mask) { return _mm_movemask_ps(mask) != 0; }
#endif

/// For a packet type: whether its bits can be shifted, and the shifts. `to_exponent(t)` moves
/// the low bits of t into the exponent field; `from_exponent(x)` moves x's exponent field into
/// the low bits (a logical shift right).
template <typename Packet>
struct PacketBits {
  static constexpr bool available = false;
};

// Specialising on the SIMD types drops their alignment attribute, harmlessly (as in kernels.hpp).
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"
#endif

#define GAUSSMIX_PACKET_BITS(Packet, Scalar, Int, cast_in, cast_out, shift_left, shift_right, bits) \
  template <>                                                                                       \
  struct PacketBits<Packet> {                                                                       \
    static constexpr bool available = true;                                                         \
    static Packet to_exponent(const Packet& t) { return cast_out(shift_left(cast_in(t), bits)); }   \
    static Packet from_exponent(const Packet& x) { return cast_out(shift_right(cast_in(x), bits)); } \
  };

#if defined(__SSE2__)
GAUSSMIX_PACKET_BITS(Eigen::internal::Packet2d, double, __m128i, _mm_castpd_si128, _mm_castsi128_pd, _mm_slli_epi64,
                     _mm_srli_epi64, 52)
GAUSSMIX_PACKET_BITS(Eigen::internal::Packet4f, float, __m128i, _mm_castps_si128, _mm_castsi128_ps, _mm_slli_epi32,
                     _mm_srli_epi32, 23)
#endif
#if defined(__AVX2__)
GAUSSMIX_PACKET_BITS(Eigen::internal::Packet4d, double, __m256i, _mm256_castpd_si256, _mm256_castsi256_pd,
                     _mm256_slli_epi64, _mm256_srli_epi64, 52)
GAUSSMIX_PACKET_BITS(Eigen::internal::Packet8f, float, __m256i, _mm256_castps_si256, _mm256_castsi256_ps,
                     _mm256_slli_epi32, _mm256_srli_epi32, 23)
#endif
#if defined(__AVX512F__)
GAUSSMIX_PACKET_BITS(Eigen::internal::Packet8d, double, __m512i, _mm512_castpd_si512, _mm512_castsi512_pd,
                     _mm512_slli_epi64, _mm512_srli_epi64, 52)
GAUSSMIX_PACKET_BITS(Eigen::internal::Packet16f, float, __m512i, _mm512_castps_si512, _mm512_castsi512_ps,
                     _mm512_slli_epi32, _mm512_srli_epi32, 23)
#endif
#undef GAUSSMIX_PACKET_BITS
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

/// The constants of both functions for one scalar type.
template <typename Scalar>
struct PacketMathConstants;

template <>
struct PacketMathConstants<double> {
  using Bits = std::uint64_t;
  static constexpr int mantissa_bits = 52, bias = 1023, exp_degree = 12, log_terms = 10;
  static constexpr double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
  static constexpr Bits fraction = 0x000FFFFFFFFFFFFFULL, one = 0x3FF0000000000000ULL;
};

template <>
struct PacketMathConstants<float> {
  using Bits = std::uint32_t;
  static constexpr int mantissa_bits = 23, bias = 127, exp_degree = 7, log_terms = 5;
  static constexpr float ln2_hi = 0.693359375f, ln2_lo = -2.12194440e-4f;
  static constexpr Bits fraction = 0x007FFFFFU, one = 0x3F800000U;
};

/// 1 / k! for k = 0..n, the Taylor coefficients of exp.
template <typename Scalar, int n>
constexpr std::array<Scalar, n + 1> inverse_factorials() {
  std::array<Scalar, n + 1> c{};
  double value = 1.0;
  for (int k = 0; k <= n; ++k) {
    if (k > 1) value /= k;
    c[k] = static_cast<Scalar>(value);
  }
  return c;
}

/// sum_k c[k] x^k by Estrin's scheme: pairs of terms first, then pairs of pairs, so that the
/// dependency chain is log2(n) multiply-adds long rather than n (Horner's), which left W1's
/// normalisation bound by FMA latency.
template <typename Packet, typename Scalar, std::size_t n>
EIGEN_ALWAYS_INLINE Packet polynomial(const std::array<Scalar, n>& c, const Packet& x) {
  using namespace Eigen::internal;
  Packet terms[n];
  for (std::size_t k = 0; k < n; ++k) terms[k] = pset1<Packet>(c[k]);
  Packet power = x;
  for (std::size_t count = n; count > 1; count = (count + 1) / 2) {
    for (std::size_t j = 0; 2 * j + 1 < count; ++j) terms[j] = pmadd(terms[2 * j + 1], power, terms[2 * j]);
    if (count % 2) terms[count / 2] = terms[count - 1];
    if (count > 2) power = pmul(power, power);
  }
  return terms[0];
}

/// 1 / (2k + 1) for k = 0..n-1, the series of atanh(s) / s in s^2.
template <typename Scalar, int n>
constexpr std::array<Scalar, n> inverse_odd_numbers() {
  std::array<Scalar, n> c{};
  for (int k = 0; k < n; ++k) c[k] = static_cast<Scalar>(1.0 / (2 * k + 1));
  return c;
}

/// A packet of the scalar whose bits are `bits`.
template <typename Packet, typename Bits>
Packet packet_from_bits(Bits bits) {
  typename Eigen::internal::unpacket_traits<Packet>::type value;
  std::memcpy(&value, &bits, sizeof value);
  return Eigen::internal::pset1<Packet>(value);
}

/// exp(x) for x in [log(numeric_limits<Scalar>::min()), 0]; the caller clamps.
template <typename Packet>
EIGEN_ALWAYS_INLINE Packet exp_nonpositive(const Packet& x) {
  using namespace Eigen::internal;
  using Scalar = typename unpacket_traits<Packet>::type;
  if constexpr (!PacketBits<Packet>::available) {
    return pexp(x);
  } else {
    using C = PacketMathConstants<Scalar>;
    static constexpr auto coefficients = inverse_factorials<Scalar, C::exp_degree>();
    // t's low bits hold n + bias, n = round(x / ln 2), where the 1.5 * 2^m shifter puts them.
    const Scalar shifter = Scalar(1.5) * Scalar(1ULL << C::mantissa_bits) + Scalar(C::bias);
    const Packet t = pmadd(x, pset1<Packet>(Scalar(1.44269504088896340736)), pset1<Packet>(shifter));
    const Packet n = psub(t, pset1<Packet>(shifter));
    Packet r = pmadd(n, pset1<Packet>(-C::ln2_hi), x);  // x - n ln 2, in two parts
    r = pmadd(n, pset1<Packet>(-C::ln2_lo), r);
    // exp(r), |r| <= ln(2) / 2, times 2^n
    return pmul(polynomial(coefficients, r), PacketBits<Packet>::to_exponent(t));
  }
}

/// log(x) for finite x >= numeric_limits<Scalar>::min(), and -inf for x = 0.
template <typename Packet>
EIGEN_ALWAYS_INLINE Packet log_normal(const Packet& x) {
  using namespace Eigen::internal;
  using Scalar = typename unpacket_traits<Packet>::type;
  if constexpr (!PacketBits<Packet>::available) {
    return plog(x);
  } else {
    using C = PacketMathConstants<Scalar>;
    // x = 2^e m: the biased exponent's bits under those of 2^mantissa_bits make a number.
    const Packet two_m = pset1<Packet>(Scalar(1ULL << C::mantissa_bits));
    Packet e = psub(psub(por(PacketBits<Packet>::from_exponent(x), two_m), two_m), pset1<Packet>(Scalar(C::bias)));
    Packet m = por(pand(x, packet_from_bits<Packet>(C::fraction)), packet_from_bits<Packet>(C::one));
    const Packet big = pcmp_lt(pset1<Packet>(Scalar(1.41421356237309504880)), m);  // m in [sqrt(1/2), sqrt(2))
    m = pselect(big, pmul(m, pset1<Packet>(Scalar(0.5))), m);
    e = pselect(big, padd(e, pset1<Packet>(Scalar(1))), e);
    // log(m) = 2 atanh(s) = 2 s sum_k s^2k / (2k + 1), s = (m - 1) / (m + 1), |s| <= 0.172.
    const Packet f = psub(m, pset1<Packet>(Scalar(1)));
    const Packet s = pdiv(f, padd(f, pset1<Packet>(Scalar(2))));
    const Packet z = pmul(s, s);
    static constexpr auto series = inverse_odd_numbers<Scalar, C::log_terms>();
    const Packet log_m = pmul(padd(s, s), polynomial(series, z));
    const Packet result = pmadd(e, pset1<Packet>(C::ln2_hi), pmadd(e, pset1<Packet>(C::ln2_lo), log_m));
    const Packet zero = pcmp_lt(x, pset1<Packet>(std::numeric_limits<Scalar>::min()));
    return pselect(zero, pset1<Packet>(-std::numeric_limits<Scalar>::infinity()), result);
  }
}

}  // namespace gaussmix::detail
