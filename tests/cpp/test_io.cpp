// The model file: bit-exact round trips for every covariance type and both dtypes, a file
// layout checked byte by byte against the documented format, and a loader fuzz campaign in
// which every mutation either loads or throws std::invalid_argument (never anything else).

#include <cstdio>
#include <cstring>
#include <random>
#include <string>

#include "check.hpp"
#include "gaussmix/io.hpp"
#include "testdata.hpp"

using namespace gaussmix;

namespace {

const CovarianceType kTypes[] = {CovarianceType::full, CovarianceType::tied, CovarianceType::diag,
                                 CovarianceType::spherical};

template <typename A, typename B>
bool same_bits(const A& a, const B& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         std::memcmp(a.data(), b.data(), sizeof(typename A::Scalar) * a.size()) == 0;
}

/// A fitted model of each type, so the parameters carry full-precision rounding.
template <typename Scalar>
Model<Scalar> fitted(CovarianceType type) {
  const Matrix<Scalar> X = testdata::three_blobs().sample(600, 3).X.cast<Scalar>();
  FitOptions options;
  options.n_components = 3;
  options.covariance_type = type;
  options.seed = 5;
  return fit<Scalar>(X, options).model;
}

template <typename Scalar>
void round_trip(CovarianceType type) {
  const Model<Scalar> model = fitted<Scalar>(type);
  ModelMetadata metadata;
  metadata.feature_names = {"x \"one\"", "y\\\xc3\xa9\n"};  // quotes, backslash, UTF-8, control
  metadata.n_iter = 17;
  metadata.lower_bound = -1.2345678901234567;
  metadata.converged = true;
  const std::string path = "test_io_model_" + to_string(type) + (sizeof(Scalar) == 8 ? "_f64" : "_f32") + ".safetensors";
  save_model(path, model, metadata);
  const SavedModel<Scalar> loaded = load_model<Scalar>(path);
  CHECK(loaded.model.covariance_type() == type);
  CHECK(same_bits(loaded.model.weights(), model.weights()));
  CHECK(same_bits(loaded.model.means(), model.means()));
  CHECK(same_bits(loaded.model.covariances(), model.covariances()));
  CHECK(same_bits(loaded.model.precisions_cholesky(), model.precisions_cholesky()));
  CHECK(loaded.metadata.feature_names == metadata.feature_names);
  CHECK(loaded.metadata.n_iter == 17);
  CHECK(loaded.metadata.lower_bound == metadata.lower_bound);
  CHECK(loaded.metadata.converged);
  CHECK(loaded.metadata.library_version == GAUSSMIX_VERSION);
  CHECK(model_file_dtype(path) == (sizeof(Scalar) == 8 ? "float64" : "float32"));
  const Matrix<Scalar> X = model.sample(50, 9).X;
  CHECK(same_bits(loaded.model.score_samples(X), model.score_samples(X)));
  // The other dtype is refused rather than converted.
  if (sizeof(Scalar) == 8) CHECK_THROWS(InvalidArgument, load_model<float>(path));
  else CHECK_THROWS(InvalidArgument, load_model<double>(path));
  std::remove(path.c_str());
}

std::uint64_t u64_at(const std::string& bytes, std::size_t at) {
  std::uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | static_cast<unsigned char>(bytes[at + i]);
  return value;
}

/// The layout, read by hand from the documented format: the length prefix, an aligned JSON
/// header, and the weights as raw little-endian doubles at their declared offsets.
void layout_is_the_documented_one() {
  const Model<double> model = testdata::three_blobs(CovarianceType::diag);
  const std::string bytes = serialize_model(model);
  const std::uint64_t n = u64_at(bytes, 0);
  CHECK((8 + n) % 8 == 0);
  CHECK(bytes.size() == 8 + n + 8 * (3 + 6 + 6 + 6));
  const std::string header = bytes.substr(8, n);
  CHECK(header.find("\"format\":\"gaussmix\"") != std::string::npos);
  CHECK(header.find("\"covariance_type\":\"diag\"") != std::string::npos);
  CHECK(header.find("\"weights\":{\"dtype\":\"F64\",\"shape\":[3],\"data_offsets\":[0,24]}") != std::string::npos);
  const unsigned char* w = reinterpret_cast<const unsigned char*>(bytes.data() + 8 + n);
  // 0.5 = 0x3FE0000000000000, little-endian: seven zero bytes then E0 3F.
  const unsigned char half[8] = {0, 0, 0, 0, 0, 0, 0xE0, 0x3F};
  CHECK(std::memcmp(w, half, 8) == 0);
}

/// True when loading the bytes succeeds or throws std::invalid_argument; false on any other
/// exception (bad_alloc, length_error, out_of_range ...).
bool loads_or_rejects(const std::string& bytes, int* rejected = nullptr) {
  try {
    deserialize_model<double>(bytes);
    return true;
  } catch (const std::invalid_argument&) {
    if (rejected) ++*rejected;
    return true;
  } catch (...) {
    return false;
  }
}

std::string with_header(const std::string& header, const std::string& data = "") {
  std::string out(8, '\0');
  std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i, n >>= 8) out[i] = static_cast<char>(n & 0xFF);
  return out + header + data;
}

void fuzz() {
  const Model<double> model = fitted<double>(CovarianceType::full);
  ModelMetadata metadata;
  metadata.feature_names = {"a", "b"};
  const std::string good = serialize_model(model, metadata);
  int rejected = 0, other = 0;

  // Every truncation is rejected.
  for (std::size_t length = 0; length < good.size(); ++length) {
    int before = rejected;
    if (!loads_or_rejects(good.substr(0, length), &rejected)) ++other;
    CHECK(rejected == before + 1);
  }
  // Trailing garbage is rejected.
  CHECK_THROWS(InvalidArgument, deserialize_model<double>(good + "x"));

  // Every byte flipped by several masks: loads (a flip inside a mantissa can give a valid
  // model) or a clear error.
  for (std::size_t at = 0; at < good.size(); ++at)
    for (const unsigned mask : {0x01u, 0x10u, 0x80u, 0xFFu}) {
      std::string bad = good;
      bad[at] = static_cast<char>(static_cast<unsigned char>(bad[at]) ^ mask);
      if (!loads_or_rejects(bad, &rejected)) ++other;
    }
  // Every header byte flipped must be rejected or leave a loadable file; flips of the length
  // prefix's high bytes (a huge declared header) must be rejected without allocation.
  for (int byte = 1; byte < 8; ++byte) {
    std::string bad = good;
    bad[byte] = static_cast<char>(0xFF);
    CHECK_THROWS(InvalidArgument, deserialize_model<double>(bad));
  }

  // Random multi-byte mutations and random splices, fixed seed.
  std::mt19937_64 rng(12345);
  for (int trial = 0; trial < 20000; ++trial) {
    std::string bad = good;
    const int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits; ++e) {
      const std::size_t at = rng() % bad.size();
      switch (rng() % 4) {
        case 0: bad[at] = static_cast<char>(rng()); break;
        case 1: bad.erase(at, 1 + rng() % 16); break;
        case 2: bad.insert(at, std::string(1 + rng() % 16, static_cast<char>(rng()))); break;
        default: bad[at] = "{}[]\",:0123456789-eE.tfn \\u"[rng() % 28]; break;
      }
      if (bad.empty()) bad = "x";
    }
    if (!loads_or_rejects(bad, &rejected)) ++other;
  }
  CHECK(other == 0);

  // Hand-made hostile headers: each one a clear InvalidArgument.
  const std::string meta = "\"__metadata__\":{\"format\":\"gaussmix\",\"format_version\":\"1\",\"covariance_type\":\"diag\"}";
  const std::string ok_tensors =
      ",\"weights\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}"
      ",\"means\":{\"dtype\":\"F64\",\"shape\":[1,1],\"data_offsets\":[8,16]}"
      ",\"covariances\":{\"dtype\":\"F64\",\"shape\":[1,1],\"data_offsets\":[16,24]}"
      ",\"precisions_cholesky\":{\"dtype\":\"F64\",\"shape\":[1,1],\"data_offsets\":[24,32]}";
  std::string data(32, '\0');
  const double one = 1.0, zero = 0.0;
  std::memcpy(&data[0], &one, 8);
  std::memcpy(&data[8], &zero, 8);
  std::memcpy(&data[16], &one, 8);
  std::memcpy(&data[24], &one, 8);
  // The hand-made minimal file itself loads: the tests below differ from it in one respect.
  const auto minimal = deserialize_model<double>(with_header("{" + meta + ok_tensors + "}", data));
  CHECK(minimal.model.n_components() == 1 && minimal.model.n_features() == 1);

  const std::string hostile[] = {
      "",                                              // empty header
      "[]",                                            // not an object
      std::string(100000, '['),                        // deep nesting
      "{" + meta + "," + meta + ok_tensors + "}",      // duplicate key
      "{" + meta + ok_tensors + ",\"extra\":{\"dtype\":\"F64\",\"shape\":[0],\"data_offsets\":[32,32]}}",
      "{" + meta + ",\"weights\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}",
      "{" + meta + ",\"weights\":{\"dtype\":\"F64\",\"shape\":[18446744073709551615],\"data_offsets\":[0,8]}}",
      "{" + meta + ",\"weights\":{\"dtype\":\"F64\",\"shape\":[18446744073709551616],\"data_offsets\":[0,8]}}",
      "{" + meta + ",\"weights\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[8,0]}}",
      "{" + meta + ",\"weights\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}",
      "{" + meta + ",\"weights\":{\"dtype\":\"F64\",\"shape\":[1.5],\"data_offsets\":[0,8]}}",
      "{" + meta + ",\"weights\":{\"dtype\":\"F64\",\"shape\":[-1],\"data_offsets\":[0,8]}}",
      "{" + meta + ok_tensors.substr(0, ok_tensors.size() - 9) + "[16,32]}",  // overlap
      "{\"__metadata__\":{\"format\":\"gaussmix\",\"format_version\":\"2\",\"covariance_type\":\"diag\"}" + ok_tensors + "}",
      "{\"__metadata__\":{\"format\":\"gaussmix\",\"format_version\":\"1\",\"covariance_type\":\"round\"}" + ok_tensors + "}",
      "{\"__metadata__\":{\"format_version\":\"1\",\"covariance_type\":\"diag\"}" + ok_tensors + "}",
      "{\"__metadata__\":{\"format\":\"gaussmix\",\"format_version\":\"1\",\"covariance_type\":\"diag\",\"n_iter\":\"x\"}" + ok_tensors + "}",
      "{\"__metadata__\":{\"format\":\"gaussmix\",\"format_version\":\"1\",\"covariance_type\":\"diag\",\"feature_names\":\"[\\\"a\\\",\\\"b\\\"]\"}" + ok_tensors + "}",
      "{\"__metadata__\":{\"format\":\"gaussmix\",\"format_version\":\"1\",\"covariance_type\":\"diag\",\"lower_bound\":\"\"}" + ok_tensors + "}",
      "{\"__metadata__\":{\"format\":\"gaussmix\",\"format_version\":\"1\",\"covariance_type\":\"diag\",\"x\":\"\xff\"}" + ok_tensors + "}",
      "{\"__metadata__\":{\"format\":\"gaussmix\",\"format_version\":\"1\",\"covariance_type\":\"diag\",\"x\":\"\\ud800\"}" + ok_tensors + "}",
      "{" + meta + ok_tensors + "} x",
  };
  for (const auto& header : hostile) CHECK_THROWS(InvalidArgument, deserialize_model<double>(with_header(header, data)));
  // Declared header length beyond the file, and a header of 2^63 bytes.
  std::string long_header = with_header("{}");
  long_header[0] = 100;
  CHECK_THROWS(InvalidArgument, deserialize_model<double>(long_header));
  std::string huge = with_header("{}");
  huge[7] = static_cast<char>(0x80);
  CHECK_THROWS(InvalidArgument, deserialize_model<double>(huge));

  // Parameter defects behind a valid layout: NaN, negative weight, covariance / factor mismatch.
  auto with_value = [&](std::size_t at, double value) {
    std::string d = data;
    std::memcpy(&d[at], &value, 8);
    return with_header("{" + meta + ok_tensors + "}", d);
  };
  CHECK_THROWS(InvalidArgument, deserialize_model<double>(with_value(8, std::nan(""))));
  CHECK_THROWS(InvalidArgument, deserialize_model<double>(with_value(0, -1.0)));
  CHECK_THROWS(InvalidArgument, deserialize_model<double>(with_value(16, 4.0)));
  CHECK_THROWS(InvalidArgument, deserialize_model<double>(with_value(24, -1.0)));

  // Files that are not there or not readable.
  CHECK_THROWS(FileError, load_model<double>("/nonexistent/dir/model.safetensors"));
  CHECK_THROWS(FileError, save_model("/nonexistent/dir/model.safetensors", model));
  CHECK(rejected > 1000);
}

}  // namespace

int main() {
  for (const auto type : kTypes) {
    round_trip<double>(type);
    round_trip<float>(type);
  }
  layout_is_the_documented_one();
  fuzz();
  return check::finish("test_io");
}
