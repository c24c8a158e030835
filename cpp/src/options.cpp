#include "gaussmix/options.hpp"

#include <algorithm>
#include <cmath>

#include "gaussmix/errors.hpp"

namespace gaussmix {

namespace {
constexpr Index kMinimumSample = 32768;
constexpr Index kRowsPerCluster = 1024;
}  // namespace

CovarianceType parse_covariance_type(const std::string& name) {
  if (name == "full") return CovarianceType::full;
  if (name == "tied") return CovarianceType::tied;
  if (name == "diag") return CovarianceType::diag;
  if (name == "spherical") return CovarianceType::spherical;
  throw InvalidArgument("covariance_type must be 'full', 'tied', 'diag' or 'spherical', got '" +
                        name + "'");
}

InitMethod parse_init_method(const std::string& name) {
  if (name == "kmeans") return InitMethod::kmeans;
  if (name == "k-means++") return InitMethod::kmeans_plusplus;
  if (name == "random") return InitMethod::random;
  if (name == "random_from_data") return InitMethod::random_from_data;
  throw InvalidArgument(
      "init_params must be 'kmeans', 'k-means++', 'random' or 'random_from_data', got '" + name + "'");
}

std::string to_string(CovarianceType type) {
  switch (type) {
    case CovarianceType::full: return "full";
    case CovarianceType::tied: return "tied";
    case CovarianceType::diag: return "diag";
    case CovarianceType::spherical: return "spherical";
  }
  return "unknown";
}

std::string to_string(InitMethod method) {
  switch (method) {
    case InitMethod::kmeans: return "kmeans";
    case InitMethod::kmeans_plusplus: return "k-means++";
    case InitMethod::random: return "random";
    case InitMethod::random_from_data: return "random_from_data";
  }
  return "unknown";
}

Index automatic_kmeans_sample(Index n_samples, Index n_clusters) {
  // Enough rows per cluster that the sample's centers sit where all rows' would (to a small
  // fraction of a cluster's spread); below twice that, all rows.
  const Index sample = std::max<Index>(kMinimumSample, kRowsPerCluster * n_clusters);
  return n_samples >= 2 * sample ? sample : 0;
}

Index kmeans_plusplus_trials(Index n_clusters) {
  return 2 + static_cast<Index>(std::log(static_cast<double>(std::max<Index>(n_clusters, 1))));
}

Index n_parameters(CovarianceType type, Index n_components, Index n_features) {
  Index covariance_params = 0;
  switch (type) {
    case CovarianceType::full: covariance_params = n_components * n_features * (n_features + 1) / 2; break;
    case CovarianceType::tied: covariance_params = n_features * (n_features + 1) / 2; break;
    case CovarianceType::diag: covariance_params = n_components * n_features; break;
    case CovarianceType::spherical: covariance_params = n_components; break;
  }
  return covariance_params + n_components * n_features + n_components - 1;
}

Index covariance_rows(CovarianceType type, Index n_components, Index n_features) {
  switch (type) {
    case CovarianceType::full: return n_components * n_features;
    case CovarianceType::tied: return n_features;
    default: return n_components;
  }
}

Index covariance_cols(CovarianceType type, Index n_features) {
  return type == CovarianceType::spherical ? 1 : n_features;
}

}  // namespace gaussmix
