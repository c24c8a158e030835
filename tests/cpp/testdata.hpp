#pragma once
// Known mixtures to draw test data from.

#include "gaussmix/gaussmix.hpp"

namespace testdata {

/// Three well-separated 2-D components with distinct full covariances.
inline gaussmix::Model<double> three_blobs(gaussmix::CovarianceType type = gaussmix::CovarianceType::full) {
  using namespace gaussmix;
  Vector<double> weights(3);
  weights << 0.5, 0.3, 0.2;
  Matrix<double> means(3, 2);
  means << 0, 0, 8, 2, -4, 9;
  Matrix<double> covariances(covariance_rows(type, 3, 2), covariance_cols(type, 2));
  switch (type) {
    case CovarianceType::full: covariances << 1.0, 0.6, 0.6, 2.0, 0.5, -0.2, -0.2, 0.4, 2.0, 0.0, 0.0, 0.3; break;
    case CovarianceType::tied: covariances << 1.0, 0.4, 0.4, 0.8; break;
    case CovarianceType::diag: covariances << 1.0, 2.0, 0.5, 0.4, 2.0, 0.3; break;
    case CovarianceType::spherical: covariances << 1.0, 0.5, 2.0; break;
  }
  return Model<double>::from_covariances(type, weights, means, covariances);
}

/// Component k's covariance as a dense (D, D) matrix, whatever the covariance type.
inline Eigen::MatrixXd dense_covariance(const gaussmix::Model<double>& model, gaussmix::Index k) {
  using gaussmix::CovarianceType;
  const gaussmix::Index D = model.n_features();
  const auto& cov = model.covariances();
  switch (model.covariance_type()) {
    case CovarianceType::full: return cov.middleRows(k * D, D);
    case CovarianceType::tied: return cov;
    case CovarianceType::diag: return cov.row(k).transpose().asDiagonal();
    case CovarianceType::spherical: break;
  }
  return cov(k, 0) * Eigen::MatrixXd::Identity(D, D);
}

}  // namespace testdata
