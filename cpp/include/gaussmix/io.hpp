#pragma once
/// @file io.hpp
/// The portable model file, read and written by C++ and Python alike (docs/model-format.md).
///
/// A safetensors file: an 8-byte little-endian header length N, N bytes of UTF-8 JSON (padded
/// with spaces to a multiple of 8), then the raw little-endian tensors `weights` (K), `means`
/// (K, D), `covariances` and `precisions_cholesky` (shaped as scikit-learn shapes them: full
/// (K, D, D), tied (D, D), diag (K, D), spherical (K)). The header's `__metadata__` holds the
/// format name and version, the covariance type and the fit's metadata, all as strings.
/// Any safetensors reader (or 20 lines of json + NumPy) can read it without gaussmix.

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "gaussmix/model.hpp"

namespace gaussmix {

/// The version written into every file; readers refuse other versions.
constexpr int kModelFormatVersion = 1;

/// The operating system refused to open, read or write a model file (not a std::invalid_argument:
/// the file's content is not at fault). Python sees it as OSError.
class FileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// What a model file carries besides the parameters.
struct ModelMetadata {
  std::vector<std::string> feature_names;  ///< empty, or one UTF-8 name per feature
  std::int64_t n_iter = 0;                 ///< EM iterations of the fit that produced the model
  double lower_bound = -std::numeric_limits<double>::infinity();  ///< its final lower bound
  bool converged = false;
  std::string library_version;  ///< ignored by save_model (which writes GAUSSMIX_VERSION); as read
};

template <typename Scalar>
struct SavedModel {
  Model<Scalar> model;
  ModelMetadata metadata;
};

/// The model file's bytes. @throws InvalidArgument when feature_names is neither empty nor of
/// n_features valid UTF-8 names.
template <typename Scalar>
std::string serialize_model(const Model<Scalar>& model, const ModelMetadata& metadata = {});

/// Writes serialize_model(model, metadata) to path (through a temporary file renamed into place).
/// @throws FileError when the file cannot be written.
template <typename Scalar>
void save_model(const std::string& path, const Model<Scalar>& model, const ModelMetadata& metadata = {});

/// "float32" or "float64": the dtype of the parameters in a model file's bytes / at path.
/// @throws InvalidArgument unless the header is a valid gaussmix model header.
std::string serialized_model_dtype(std::string_view bytes);
std::string model_file_dtype(const std::string& path);

/// Parses and validates a model file's bytes: the header (JSON syntax, nesting depth, UTF-8,
/// dtypes, shapes, offsets inside the data, no overlaps or holes, sizes without overflow), the
/// format version and metadata, and the parameters (as Model::from_parameters checks them, plus
/// covariances consistent with the precision factors). Parameters are returned bit for bit.
/// @throws InvalidArgument on any defect, including a file whose dtype is not Scalar;
/// @throws NumericalError when a stored covariance is not positive definite.
template <typename Scalar>
SavedModel<Scalar> deserialize_model(std::string_view bytes);

/// deserialize_model on the file at path; reads no more than the validated header declares.
/// @throws FileError when the file cannot be opened or read; otherwise as deserialize_model.
template <typename Scalar>
SavedModel<Scalar> load_model(const std::string& path);

/// A model from stored parameters, bit for bit, as the loader builds it: Model::from_parameters'
/// checks, plus each covariance symmetric positive definite and consistent with its precision
/// factor (max |Uᵀ Σ U − I| ≤ 0.5, a sanity check loose enough for ill-conditioned fits).
/// @throws InvalidArgument or NumericalError naming the caller.
template <typename Scalar>
Model<Scalar> model_from_stored_parameters(CovarianceType type, VectorCRef<Scalar> weights,
                                           MatrixCRef<Scalar> means, MatrixCRef<Scalar> covariances,
                                           MatrixCRef<Scalar> precisions_cholesky,
                                           const char* caller = "model_from_stored_parameters()");

}  // namespace gaussmix
