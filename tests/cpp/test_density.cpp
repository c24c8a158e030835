// Log-densities against closed forms computed independently (explicit inverse and determinant).

#include <Eigen/Dense>
#include <cmath>

#include "check.hpp"
#include "testdata.hpp"

using namespace gaussmix;

namespace {

const double kPi = 3.14159265358979323846;

double naive_log_density(const Model<double>& model, const Eigen::RowVectorXd& x) {
  double density = 0.0;
  for (Index k = 0; k < model.n_components(); ++k) {
    const Eigen::MatrixXd cov = testdata::dense_covariance(model, k);
    const Eigen::VectorXd diff = (x - model.means().row(k)).transpose();
    const double quad = diff.dot(cov.inverse() * diff);
    const double norm = std::pow(2 * kPi, -0.5 * model.n_features()) / std::sqrt(cov.determinant());
    density += model.weights()[k] * norm * std::exp(-0.5 * quad);
  }
  return std::log(density);
}

}  // namespace

int main() {
  for (auto type : {CovarianceType::full, CovarianceType::tied, CovarianceType::diag, CovarianceType::spherical}) {
    const Model<double> model = testdata::three_blobs(type);
    Matrix<double> X(5, 2);
    X << 0, 0, 1, -1, 8, 2.5, -4, 8, 3, 4;
    const Vector<double> log_density = model.score_samples(X);
    for (Index i = 0; i < X.rows(); ++i) CHECK_CLOSE(log_density[i], naive_log_density(model, X.row(i)), 1e-10);

    const Matrix<double> proba = model.predict_proba(X);
    for (Index i = 0; i < X.rows(); ++i) CHECK_CLOSE(proba.row(i).sum(), 1.0, 1e-12);
    const LabelVector labels = model.predict(X);
    CHECK(labels[0] == 0 && labels[2] == 1 && labels[3] == 2);

    // The same model from its precisions and from its precision factors.
    const Model<double> again = Model<double>::from_precisions(type, model.weights(), model.means(), model.precisions());
    CHECK((again.precisions_cholesky() - model.precisions_cholesky()).cwiseAbs().maxCoeff() < 1e-10);
    CHECK((again.covariances() - model.covariances()).cwiseAbs().maxCoeff() < 1e-10);
    const Model<double> from_factors = Model<double>::from_precisions_cholesky(type, model.weights(), model.means(),
                                                                                model.precisions_cholesky());
    CHECK((from_factors.score_samples(X) - log_density).cwiseAbs().maxCoeff() < 1e-12);

    // Criteria by their formulas.
    const double n = static_cast<double>(X.rows());
    const double mean_ll = log_density.mean();
    CHECK_CLOSE(model.score(X), mean_ll, 1e-14);
    CHECK_CLOSE(model.bic(X), -2 * mean_ll * n + model.n_parameters() * std::log(n), 1e-12);
    CHECK_CLOSE(model.aic(X), -2 * mean_ll * n + 2.0 * model.n_parameters(), 1e-12);

    // float32 gives the same densities to float precision.
    const Model<float> model32 = Model<float>::from_covariances(type, model.weights().cast<float>(),
                                                                model.means().cast<float>(), model.covariances().cast<float>());
    const Vector<float> log_density32 = model32.score_samples(X.cast<float>());
    for (Index i = 0; i < X.rows(); ++i) CHECK_CLOSE(double(log_density32[i]), log_density[i], 1e-5);
  }
  // Parameter counts (scikit-learn's table) for K = 3, D = 2.
  CHECK(n_parameters(CovarianceType::full, 3, 2) == 17);
  CHECK(n_parameters(CovarianceType::tied, 3, 2) == 11);
  CHECK(n_parameters(CovarianceType::diag, 3, 2) == 14);
  CHECK(n_parameters(CovarianceType::spherical, 3, 2) == 11);
  return check::finish("test_density");
}
