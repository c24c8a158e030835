#include "gaussmix/io.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <utility>

#include <Eigen/Cholesky>

#include "checks.hpp"
#include "gaussmix/errors.hpp"
#include "gaussmix/version.hpp"

namespace gaussmix {

namespace {

// safetensors' own limit on the header; a reader never allocates more for a header than this
// nor more than the file holds.
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;
// Our headers nest three deep; anything deeper is hostile (and would recurse without bound).
constexpr int kMaxJsonDepth = 8;
constexpr std::size_t kMaxDims = 8;
// Bounds the parsed tree (about 100 bytes per value) whatever the header holds.
constexpr std::size_t kMaxJsonValues = std::size_t(1) << 20;
const char* const kFormatName = "gaussmix";

[[noreturn]] void fail(const char* caller, const std::string& message) { detail::fail(caller, message); }

// ------------------------------------------------------------------------------------- JSON

/// UTF-8 well-formedness (no overlongs, no surrogates, at most U+10FFFF), as JSON requires.
bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i < n + 1) return false;
    for (std::size_t j = 1; j <= n; ++j) {
      const auto d = static_cast<unsigned char>(s[i + j]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    static const std::uint32_t kMin[4] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

struct Json {
  enum class Kind { null, boolean, number, string, array, object } kind = Kind::null;
  bool boolean = false;
  std::string text;  // a string's value, or a number's literal text
  std::vector<Json> items;
  std::vector<std::pair<std::string, Json>> members;

  const Json* find(const std::string& key) const {
    for (const auto& member : members)
      if (member.first == key) return &member.second;
    return nullptr;
  }
};

/// A strict RFC 8259 parser with a nesting limit: every byte is checked before it is used.
class JsonParser {
 public:
  JsonParser(std::string_view text, const char* caller) : text_(text), caller_(caller) {}

  Json parse() {
    Json value = parse_value(0);
    skip_space();
    if (pos_ != text_.size()) error("unexpected data after the JSON value");
    return value;
  }

 private:
  [[noreturn]] void error(const std::string& what) const {
    fail(caller_, "the header is not valid JSON (byte " + std::to_string(pos_) + "): " + what);
  }
  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }
  void skip_space() {
    while (!at_end() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r'))
      ++pos_;
  }
  void expect(char c) {
    if (peek() != c || at_end()) error(std::string("expected '") + c + "'");
    ++pos_;
  }

  Json parse_value(int depth) {
    if (++n_values_ > kMaxJsonValues) error("more than " + std::to_string(kMaxJsonValues) + " values");
    if (depth > kMaxJsonDepth) error("nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    skip_space();
    if (at_end()) error("unexpected end");
    const char c = peek();
    Json value;
    if (c == '{') {
      value.kind = Json::Kind::object;
      ++pos_;
      skip_space();
      if (peek() == '}' && !at_end()) {
        ++pos_;
        return value;
      }
      std::set<std::string> keys;
      for (;;) {
        skip_space();
        std::string key = parse_string();
        if (!keys.insert(key).second) error("duplicate key \"" + key + "\"");
        skip_space();
        expect(':');
        Json item = parse_value(depth + 1);
        value.members.emplace_back(std::move(key), std::move(item));
        skip_space();
        if (peek() == ',' && !at_end()) {
          ++pos_;
          continue;
        }
        expect('}');
        return value;
      }
    }
    if (c == '[') {
      value.kind = Json::Kind::array;
      ++pos_;
      skip_space();
      if (peek() == ']' && !at_end()) {
        ++pos_;
        return value;
      }
      for (;;) {
        value.items.push_back(parse_value(depth + 1));
        skip_space();
        if (peek() == ',' && !at_end()) {
          ++pos_;
          continue;
        }
        expect(']');
        return value;
      }
    }
    if (c == '"') {
      value.kind = Json::Kind::string;
      value.text = parse_string();
      return value;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      value.kind = Json::Kind::number;
      value.text = parse_number();
      return value;
    }
    if (literal("true")) {
      value.kind = Json::Kind::boolean;
      value.boolean = true;
      return value;
    }
    if (literal("false")) {
      value.kind = Json::Kind::boolean;
      return value;
    }
    if (literal("null")) return value;
    error("unexpected character");
  }

  bool literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  std::string parse_number() {
    const std::size_t start = pos_;
    auto digits = [&] {
      const std::size_t first = pos_;
      while (!at_end() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
      if (pos_ == first) error("malformed number");
    };
    if (peek() == '-') ++pos_;
    if (peek() == '0' && !at_end()) {
      ++pos_;
    } else {
      digits();
    }
    if (peek() == '.' && !at_end()) {
      ++pos_;
      digits();
    }
    if ((peek() == 'e' || peek() == 'E') && !at_end()) {
      ++pos_;
      if (peek() == '+' || peek() == '-') ++pos_;
      digits();
    }
    return std::string(text_.substr(start, pos_ - start));
  }

  unsigned hex4() {
    if (text_.size() - pos_ < 4) error("truncated \\u escape");
    unsigned value = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = text_[pos_++];
      value <<= 4;
      if (h >= '0' && h <= '9') value |= unsigned(h - '0');
      else if (h >= 'a' && h <= 'f') value |= unsigned(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') value |= unsigned(h - 'A' + 10);
      else error("bad \\u escape");
    }
    return value;
  }

  static void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
      out += char(cp);
    } else if (cp < 0x800) {
      out += char(0xC0 | (cp >> 6)), out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += char(0xE0 | (cp >> 12)), out += char(0x80 | ((cp >> 6) & 0x3F)), out += char(0x80 | (cp & 0x3F));
    } else {
      out += char(0xF0 | (cp >> 18)), out += char(0x80 | ((cp >> 12) & 0x3F));
      out += char(0x80 | ((cp >> 6) & 0x3F)), out += char(0x80 | (cp & 0x3F));
    }
  }

  std::string parse_string() {
    expect('"');
    std::string out;
    const std::size_t start = pos_;
    for (;;) {
      if (at_end()) error("unterminated string");
      const auto c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') {
        ++pos_;
        break;
      }
      if (c < 0x20) error("control character in a string");
      if (c != '\\') {
        out += char(c);
        ++pos_;
        continue;
      }
      ++pos_;
      if (at_end()) error("unterminated escape");
      const char e = text_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          std::uint32_t cp = hex4();
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (!literal("\\u")) error("unpaired surrogate");
            const unsigned low = hex4();
            if (low < 0xDC00 || low > 0xDFFF) error("unpaired surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            error("unpaired surrogate");
          }
          append_utf8(out, cp);
          break;
        }
        default: error("bad escape");
      }
    }
    if (!valid_utf8(out)) {
      pos_ = start;
      error("a string is not valid UTF-8");
    }
    return out;
  }

  std::string_view text_;
  const char* caller_;
  std::size_t pos_ = 0;
  std::size_t n_values_ = 0;
};

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"') out += "\\\"";
    else if (c == '\\') out += "\\\\";
    else if (c < 0x20) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
      out += buffer;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

// ----------------------------------------------------------------------------- the layout

struct TensorInfo {
  std::string dtype;
  std::vector<std::uint64_t> shape;
  std::uint64_t begin = 0, end = 0;
};

struct Header {
  std::map<std::string, std::string> metadata;
  std::map<std::string, TensorInfo> tensors;
  std::uint64_t data_size = 0;
};

std::uint64_t to_u64(const Json& value, const char* caller, const std::string& what) {
  std::uint64_t result = 0;
  const auto& t = value.text;
  const auto parsed = std::from_chars(t.data(), t.data() + t.size(), result);
  if (value.kind != Json::Kind::number || parsed.ec != std::errc() || parsed.ptr != t.data() + t.size())
    fail(caller, what + " must be a non-negative integer below 2^64");
  return result;
}

std::size_t itemsize(const std::string& dtype) {
  if (dtype == "F64") return 8;
  if (dtype == "F32") return 4;
  return 0;
}

/// The header's JSON, validated: a metadata object of strings and tensors whose extents lie in
/// a data section of data_size bytes that they tile without overlaps or holes.
Header parse_header(std::string_view text, const char* caller) {
  const Json root = JsonParser(text, caller).parse();
  if (root.kind != Json::Kind::object) fail(caller, "the header must be a JSON object");
  Header header;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> extents;
  for (const auto& [name, value] : root.members) {
    if (value.kind != Json::Kind::object) fail(caller, "header entry \"" + name + "\" must be an object");
    if (name == "__metadata__") {
      for (const auto& [key, item] : value.members) {
        if (item.kind != Json::Kind::string) fail(caller, "metadata \"" + key + "\" must be a string");
        header.metadata[key] = item.text;
      }
      continue;
    }
    TensorInfo info;
    const Json* dtype = value.find("dtype");
    const Json* shape = value.find("shape");
    const Json* offsets = value.find("data_offsets");
    if (!dtype || !shape || !offsets || value.members.size() != 3)
      fail(caller, "tensor \"" + name + "\" must have exactly dtype, shape and data_offsets");
    if (dtype->kind != Json::Kind::string || itemsize(dtype->text) == 0)
      fail(caller, "tensor \"" + name + "\" has dtype " + (dtype->kind == Json::Kind::string ? dtype->text : "?") +
                       ", expected F32 or F64");
    info.dtype = dtype->text;
    if (shape->kind != Json::Kind::array || shape->items.size() > kMaxDims)
      fail(caller, "tensor \"" + name + "\" must have a shape of at most 8 dimensions");
    std::uint64_t count = 1;
    for (const auto& dim : shape->items) {
      const std::uint64_t n = to_u64(dim, caller, "a dimension of \"" + name + "\"");
      if (n != 0 && count > std::numeric_limits<std::uint64_t>::max() / n)
        fail(caller, "tensor \"" + name + "\" has a shape whose size overflows");
      count *= n;
      info.shape.push_back(n);
    }
    if (offsets->kind != Json::Kind::array || offsets->items.size() != 2)
      fail(caller, "tensor \"" + name + "\" must have data_offsets [begin, end]");
    info.begin = to_u64(offsets->items[0], caller, "data_offsets of \"" + name + "\"");
    info.end = to_u64(offsets->items[1], caller, "data_offsets of \"" + name + "\"");
    const std::uint64_t size = itemsize(info.dtype);
    if (info.end < info.begin || count > std::numeric_limits<std::uint64_t>::max() / size ||
        info.end - info.begin != count * size)
      fail(caller, "tensor \"" + name + "\" has data_offsets [" + std::to_string(info.begin) + ", " +
                       std::to_string(info.end) + "] that do not match its dtype and shape");
    extents.emplace_back(info.begin, info.end);
    header.tensors[name] = std::move(info);
  }
  std::sort(extents.begin(), extents.end());
  std::uint64_t next = 0;
  for (const auto& [begin, end] : extents) {
    if (begin != next) fail(caller, "tensor data overlap or leave a hole at byte " + std::to_string(next));
    next = end;
  }
  header.data_size = next;
  return header;
}

std::uint64_t read_u64_le(const unsigned char* p) {
  std::uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | p[i];
  return value;
}

bool little_endian_host() {
  const std::uint16_t probe = 1;
  unsigned char first = 0;
  std::memcpy(&first, &probe, 1);
  return first == 1;
}

/// Copies count little-endian values into out, whatever the host's byte order.
template <typename Scalar>
void decode(const char* data, std::size_t count, Scalar* out) {
  std::memcpy(out, data, count * sizeof(Scalar));
  if (!little_endian_host()) {
    auto* bytes = reinterpret_cast<unsigned char*>(out);
    for (std::size_t i = 0; i < count; ++i) std::reverse(bytes + i * sizeof(Scalar), bytes + (i + 1) * sizeof(Scalar));
  }
}

template <typename Scalar>
void encode(const Scalar* values, std::size_t count, std::string& out) {
  const std::size_t start = out.size();
  out.resize(start + count * sizeof(Scalar));
  std::memcpy(&out[start], values, count * sizeof(Scalar));
  if (!little_endian_host()) {
    auto* bytes = reinterpret_cast<unsigned char*>(&out[start]);
    for (std::size_t i = 0; i < count; ++i) std::reverse(bytes + i * sizeof(Scalar), bytes + (i + 1) * sizeof(Scalar));
  }
}

/// The scikit-learn shape of the covariance-shaped tensors of a type.
std::vector<std::uint64_t> parameter_shape(CovarianceType type, std::uint64_t K, std::uint64_t D) {
  switch (type) {
    case CovarianceType::full: return {K, D, D};
    case CovarianceType::tied: return {D, D};
    case CovarianceType::diag: return {K, D};
    case CovarianceType::spherical: break;
  }
  return {K};
}

std::string shape_text(const std::vector<std::uint64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

template <typename Scalar>
const char* dtype_code() {
  return sizeof(Scalar) == 8 ? "F64" : "F32";
}

const char* dtype_name(const std::string& code) { return code == "F64" ? "float64" : "float32"; }

/// The validated header and where the tensor data begins.
struct Layout {
  Header header;
  std::uint64_t data_offset = 0;
  std::string dtype;  // "F32" or "F64"
};

/// Validates the prefix of a model file: the header length against the file size, the JSON, the
/// format and version, and the tensors' names, dtypes and shapes.
Layout parse_layout(std::string_view prefix, std::uint64_t file_size, const char* caller) {
  if (file_size < 8 || prefix.size() < 8)
    fail(caller, "not a model file: " + std::to_string(file_size) + " bytes, shorter than its 8-byte header length");
  const std::uint64_t n = read_u64_le(reinterpret_cast<const unsigned char*>(prefix.data()));
  if (n > kMaxHeaderBytes || n > file_size - 8)
    fail(caller, "the header length is " + std::to_string(n) + " bytes, but the file has " +
                     std::to_string(file_size) + " bytes (truncated or not a model file)");
  if (prefix.size() < 8 + n) fail(caller, "the header is truncated");
  Layout layout;
  std::string_view text = prefix.substr(8, n);
  layout.header = parse_header(text, caller);
  layout.data_offset = 8 + n;
  const auto& meta = layout.header.metadata;
  const auto format = meta.find("format");
  if (format == meta.end() || format->second != kFormatName)
    fail(caller, "not a gaussmix model file (its metadata has no \"format\": \"gaussmix\")");
  const auto version = meta.find("format_version");
  if (version == meta.end() || version->second != std::to_string(kModelFormatVersion))
    fail(caller, "format_version " + (version == meta.end() ? std::string("missing") : "'" + version->second + "'") +
                     ", this gaussmix reads version " + std::to_string(kModelFormatVersion));
  const auto type_entry = meta.find("covariance_type");
  if (type_entry == meta.end()) fail(caller, "the metadata has no covariance_type");
  CovarianceType type = CovarianceType::full;
  try {
    type = parse_covariance_type(type_entry->second);
  } catch (const InvalidArgument& error) {
    fail(caller, error.what());
  }
  const auto& tensors = layout.header.tensors;
  for (const char* name : {"weights", "means", "covariances", "precisions_cholesky"})
    if (!tensors.count(name)) fail(caller, std::string("the file has no tensor \"") + name + "\"");
  if (tensors.size() != 4) fail(caller, "the file has tensors other than weights, means, covariances and precisions_cholesky");
  layout.dtype = tensors.at("weights").dtype;
  for (const auto& [name, info] : tensors)
    if (info.dtype != layout.dtype) fail(caller, "tensor \"" + name + "\" has dtype " + info.dtype + " but weights has " + layout.dtype);
  const auto& means = tensors.at("means").shape;
  if (means.size() != 2 || means[0] == 0 || means[1] == 0)
    fail(caller, "means has shape " + shape_text(means) + ", expected [n_components, n_features], both positive");
  const std::uint64_t K = means[0], D = means[1];
  auto require_shape = [&](const char* name, const std::vector<std::uint64_t>& expected) {
    const auto& shape = tensors.at(name).shape;
    if (shape != expected) fail(caller, std::string(name) + " has shape " + shape_text(shape) + ", expected " + shape_text(expected));
  };
  require_shape("weights", {K});
  require_shape("covariances", parameter_shape(type, K, D));
  require_shape("precisions_cholesky", parameter_shape(type, K, D));
  return layout;
}

std::int64_t parse_int(const std::string& text, const char* caller, const char* name) {
  std::int64_t value = 0;
  const auto parsed = std::from_chars(text.data(), text.data() + text.size(), value);
  if (parsed.ec != std::errc() || parsed.ptr != text.data() + text.size())
    fail(caller, std::string("metadata ") + name + " = '" + text + "' is not an integer");
  return value;
}

double parse_double(const std::string& text, const char* caller, const char* name) {
  double value = 0;
  const auto parsed = std::from_chars(text.data(), text.data() + text.size(), value);
  if (parsed.ec != std::errc() || parsed.ptr != text.data() + text.size() || text.empty())
    fail(caller, std::string("metadata ") + name + " = '" + text + "' is not a number");
  return value;
}

std::string format_double(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);  // shortest round trip
  return std::string(buffer, result.ptr);
}

ModelMetadata parse_metadata(const std::map<std::string, std::string>& meta, Index n_features, const char* caller) {
  ModelMetadata metadata;
  auto get = [&](const char* key) -> const std::string* {
    const auto it = meta.find(key);
    return it == meta.end() ? nullptr : &it->second;
  };
  if (const auto* value = get("n_iter")) metadata.n_iter = parse_int(*value, caller, "n_iter");
  if (const auto* value = get("lower_bound")) metadata.lower_bound = parse_double(*value, caller, "lower_bound");
  if (const auto* value = get("converged")) {
    if (*value != "true" && *value != "false") fail(caller, "metadata converged must be 'true' or 'false', got '" + *value + "'");
    metadata.converged = *value == "true";
  }
  if (const auto* value = get("library_version")) metadata.library_version = *value;
  if (const auto* value = get("feature_names")) {
    const Json names = JsonParser(*value, caller).parse();
    if (names.kind != Json::Kind::array) fail(caller, "metadata feature_names must be a JSON array of strings");
    for (const auto& name : names.items) {
      if (name.kind != Json::Kind::string) fail(caller, "metadata feature_names must be a JSON array of strings");
      metadata.feature_names.push_back(name.text);
    }
    if (static_cast<Index>(metadata.feature_names.size()) != n_features)
      fail(caller, "metadata feature_names has " + std::to_string(metadata.feature_names.size()) +
                       " names, but the model has " + std::to_string(n_features) + " features");
  }
  return metadata;
}

void check_data_size(const Layout& layout, std::uint64_t available, const char* caller) {
  if (available != layout.header.data_size)
    fail(caller, "the header declares " + std::to_string(layout.header.data_size) + " bytes of tensor data, but the file has " +
                     std::to_string(available) + (available < layout.header.data_size ? " (truncated)" : ""));
}

template <typename Scalar>
SavedModel<Scalar> build(const Layout& layout, std::string_view data, const char* caller) {
  check_data_size(layout, data.size(), caller);
  if (layout.dtype != dtype_code<Scalar>())
    fail(caller, std::string("the file holds ") + dtype_name(layout.dtype) + " parameters; load it as Model<" +
                     (layout.dtype == "F64" ? "double" : "float") + ">");
  const auto& tensors = layout.header.tensors;
  const auto& means_shape = tensors.at("means").shape;
  const Index K = static_cast<Index>(means_shape[0]), D = static_cast<Index>(means_shape[1]);
  const CovarianceType type = parse_covariance_type(layout.header.metadata.at("covariance_type"));
  auto read = [&](const char* name, Index rows, Index cols) {
    const TensorInfo& info = tensors.at(name);
    Matrix<Scalar> values(rows, cols);
    decode(data.data() + info.begin, static_cast<std::size_t>(rows * cols), values.data());
    return values;
  };
  const Vector<Scalar> weights = read("weights", K, 1);
  const Matrix<Scalar> means = read("means", K, D);
  const Index rows = covariance_rows(type, K, D), cols = covariance_cols(type, D);
  const Matrix<Scalar> covariances = read("covariances", rows, cols);
  const Matrix<Scalar> factors = read("precisions_cholesky", rows, cols);
  SavedModel<Scalar> saved;
  saved.model = model_from_stored_parameters<Scalar>(type, weights, means, covariances, factors, caller);
  saved.metadata = parse_metadata(layout.header.metadata, D, caller);
  return saved;
}

std::ifstream open_for_reading(const std::string& path, std::uint64_t& size) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError("load_model(): cannot open '" + path + "'");
  in.seekg(0, std::ios::end);
  const auto end = in.tellg();
  if (end < 0) throw FileError("load_model(): cannot read '" + path + "'");
  size = static_cast<std::uint64_t>(end);
  in.seekg(0, std::ios::beg);
  return in;
}

void read_exactly(std::ifstream& in, char* out, std::uint64_t n, const std::string& path) {
  in.read(out, static_cast<std::streamsize>(n));
  if (static_cast<std::uint64_t>(in.gcount()) != n) throw FileError("load_model(): cannot read '" + path + "'");
}

/// Reads the 8-byte length and the header (never more than the file holds) and validates them.
Layout read_layout(std::ifstream& in, std::uint64_t size, const std::string& path, const char* caller) {
  std::string prefix(static_cast<std::size_t>(std::min<std::uint64_t>(size, 8)), '\0');
  read_exactly(in, prefix.data(), prefix.size(), path);
  if (size >= 8) {
    const std::uint64_t n = read_u64_le(reinterpret_cast<const unsigned char*>(prefix.data()));
    if (n <= kMaxHeaderBytes && n <= size - 8) {
      prefix.resize(static_cast<std::size_t>(8 + n));
      read_exactly(in, prefix.data() + 8, n, path);
    }
  }
  return parse_layout(prefix, size, caller);
}

}  // namespace

template <typename Scalar>
Model<Scalar> model_from_stored_parameters(CovarianceType type, VectorCRef<Scalar> weights, MatrixCRef<Scalar> means,
                                           MatrixCRef<Scalar> covariances, MatrixCRef<Scalar> precisions_cholesky,
                                           const char* caller) {
  Model<Scalar> model;
  try {
    model = Model<Scalar>::from_parameters(type, weights, means, covariances, precisions_cholesky);
  } catch (const InvalidArgument& error) {
    fail(caller, error.what());
  }
  const Index K = model.n_components(), D = model.n_features();
  const Index n_blocks = type == CovarianceType::full ? K : (type == CovarianceType::tied ? 1 : 0);
  for (Index k = 0; k < n_blocks; ++k) {
    const Eigen::MatrixXd cov = covariances.middleRows(k * D, D).template cast<double>();
    const Eigen::MatrixXd U = precisions_cholesky.middleRows(k * D, D).template cast<double>();
    const double scale = std::max(1.0, cov.cwiseAbs().maxCoeff());
    const bool symmetric = (cov - cov.transpose()).cwiseAbs().maxCoeff() <= 1e-6 * scale;
    Eigen::LLT<Eigen::MatrixXd> llt(cov);
    const std::string which = type == CovarianceType::tied ? "the tied covariance" : "the covariance of component " + std::to_string(k);
    if (!symmetric || llt.info() != Eigen::Success)
      throw NumericalError(std::string(caller) + ": " + which + " is not symmetric positive definite");
    const Eigen::MatrixXd residual = U.transpose() * cov * U - Eigen::MatrixXd::Identity(D, D);
    if (!(residual.cwiseAbs().maxCoeff() <= 0.5))
      fail(caller, which + " does not match its precision Cholesky factor");
  }
  if (n_blocks == 0) {
    const auto residual = (covariances.template cast<double>().array() *
                           precisions_cholesky.template cast<double>().array().square() - 1.0).abs();
    if ((covariances.array() <= Scalar(0)).any()) fail(caller, "covariances must be positive");
    if (!(residual.maxCoeff() <= 0.5)) fail(caller, "covariances do not match the precision Cholesky factors");
  }
  return model;
}

template <typename Scalar>
std::string serialize_model(const Model<Scalar>& model, const ModelMetadata& metadata) {
  const char* caller = "serialize_model()";
  const Index K = model.n_components(), D = model.n_features();
  detail::require(K > 0, caller, "the model has no components");
  if (!metadata.feature_names.empty() && static_cast<Index>(metadata.feature_names.size()) != D)
    fail(caller, "feature_names has " + std::to_string(metadata.feature_names.size()) + " names, expected n_features = " +
                     std::to_string(D));
  for (const auto& name : metadata.feature_names)
    detail::require(valid_utf8(name), caller, "a feature name is not valid UTF-8");

  const std::string dtype = dtype_code<Scalar>();
  const std::uint64_t item = sizeof(Scalar);
  std::string json = "{\"__metadata__\":{";
  json += "\"format\":" + json_string(kFormatName);
  json += ",\"format_version\":" + json_string(std::to_string(kModelFormatVersion));
  json += ",\"covariance_type\":" + json_string(to_string(model.covariance_type()));
  json += ",\"library_version\":" + json_string(GAUSSMIX_VERSION);
  json += ",\"n_iter\":" + json_string(std::to_string(metadata.n_iter));
  json += ",\"lower_bound\":" + json_string(format_double(metadata.lower_bound));
  json += ",\"converged\":" + json_string(metadata.converged ? "true" : "false");
  if (!metadata.feature_names.empty()) {
    std::string names = "[";
    for (std::size_t i = 0; i < metadata.feature_names.size(); ++i) names += (i ? "," : "") + json_string(metadata.feature_names[i]);
    json += ",\"feature_names\":" + json_string(names + "]");
  }
  json += "}";
  const auto shape = parameter_shape(model.covariance_type(), K, D);
  const std::pair<const char*, std::vector<std::uint64_t>> entries[] = {
      {"weights", {std::uint64_t(K)}}, {"means", {std::uint64_t(K), std::uint64_t(D)}}, {"covariances", shape}, {"precisions_cholesky", shape}};
  std::uint64_t offset = 0;
  for (const auto& [name, dims] : entries) {
    std::uint64_t count = 1;
    for (const auto d : dims) count *= d;
    json += ",";
    json += json_string(name) + ":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape_text(dims) +
            ",\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + count * item) + "]}";
    offset += count * item;
  }
  json += "}";
  // Pad with spaces so the tensor data starts 8-byte aligned, as safetensors writers do.
  json.append((8 - json.size() % 8) % 8, ' ');

  std::string out;
  out.reserve(8 + json.size() + offset);
  std::uint64_t n = json.size();
  for (int i = 0; i < 8; ++i, n >>= 8) out += static_cast<char>(n & 0xFF);
  out += json;
  encode(model.weights().data(), static_cast<std::size_t>(K), out);
  encode(model.means().data(), static_cast<std::size_t>(model.means().size()), out);
  encode(model.covariances().data(), static_cast<std::size_t>(model.covariances().size()), out);
  encode(model.precisions_cholesky().data(), static_cast<std::size_t>(model.precisions_cholesky().size()), out);
  return out;
}

template <typename Scalar>
void save_model(const std::string& path, const Model<Scalar>& model, const ModelMetadata& metadata) {
  const std::string bytes = serialize_model(model, metadata);
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) throw FileError("save_model(): cannot write '" + path + "'");
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) {
      std::remove(temporary.c_str());
      throw FileError("save_model(): cannot write '" + path + "'");
    }
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    throw FileError("save_model(): cannot write '" + path + "'");
  }
}

std::string serialized_model_dtype(std::string_view bytes) {
  return dtype_name(parse_layout(bytes, bytes.size(), "serialized_model_dtype()").dtype);
}

std::string model_file_dtype(const std::string& path) {
  std::uint64_t size = 0;
  auto in = open_for_reading(path, size);
  return dtype_name(read_layout(in, size, path, "model_file_dtype()").dtype);
}

template <typename Scalar>
SavedModel<Scalar> deserialize_model(std::string_view bytes) {
  const char* caller = "deserialize_model()";
  const Layout layout = parse_layout(bytes, bytes.size(), caller);
  return build<Scalar>(layout, bytes.substr(static_cast<std::size_t>(layout.data_offset)), caller);
}

template <typename Scalar>
SavedModel<Scalar> load_model(const std::string& path) {
  const char* caller = "load_model()";
  std::uint64_t size = 0;
  auto in = open_for_reading(path, size);
  const Layout layout = read_layout(in, size, path, caller);
  // The data section's size is checked against the header before it is read, so a file never
  // makes the loader allocate more than the file holds.
  const std::uint64_t available = size - layout.data_offset;
  check_data_size(layout, available, caller);
  std::string data(static_cast<std::size_t>(available), '\0');
  read_exactly(in, data.data(), available, path);
  return build<Scalar>(layout, data, caller);
}

template Model<float> model_from_stored_parameters<float>(CovarianceType, VectorCRef<float>, MatrixCRef<float>,
                                                          MatrixCRef<float>, MatrixCRef<float>, const char*);
template Model<double> model_from_stored_parameters<double>(CovarianceType, VectorCRef<double>, MatrixCRef<double>,
                                                            MatrixCRef<double>, MatrixCRef<double>, const char*);
template std::string serialize_model<float>(const Model<float>&, const ModelMetadata&);
template std::string serialize_model<double>(const Model<double>&, const ModelMetadata&);
template void save_model<float>(const std::string&, const Model<float>&, const ModelMetadata&);
template void save_model<double>(const std::string&, const Model<double>&, const ModelMetadata&);
template SavedModel<float> deserialize_model<float>(std::string_view);
template SavedModel<double> deserialize_model<double>(std::string_view);
template SavedModel<float> load_model<float>(const std::string&);
template SavedModel<double> load_model<double>(const std::string&);

}  // namespace gaussmix
