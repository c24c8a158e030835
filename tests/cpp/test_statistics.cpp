// The E-step's blocked, shifted statistics against a naive two-pass computation, merging, and
// the M-step's parameters.

#include "check.hpp"
#include "testdata.hpp"

using namespace gaussmix;

int main() {
  for (auto type : {CovarianceType::full, CovarianceType::tied, CovarianceType::diag, CovarianceType::spherical}) {
    const Model<double> model = testdata::three_blobs(type);
    const Sample<double> drawn = model.sample(3000, 7);
    const Matrix<double>& X = drawn.X;
    Vector<double> weight = Vector<double>::LinSpaced(X.rows(), 0.5, 2.0);

    const SufficientStatistics stats = expectation_step(model, X, weight);

    // Naive: responsibilities first, then plain sums about each mean.
    const Matrix<double> resp = model.predict_proba(X);
    const Index K = 3, D = 2;
    for (Index k = 0; k < K; ++k) {
      const Vector<double> wr = resp.col(k).cwiseProduct(weight);
      CHECK_CLOSE(stats.resp_sum[k], wr.sum(), 1e-12);
      const Matrix<double> centered = X.rowwise() - model.means().row(k);
      const Eigen::RowVectorXd first = wr.transpose() * centered;
      CHECK((stats.first.row(k) - first).norm() <= 1e-9 * (1.0 + first.norm()));
      const Eigen::MatrixXd second = centered.transpose() * wr.asDiagonal() * centered;
      if (type == CovarianceType::full)
        CHECK((stats.second.middleRows(k * D, D) - second).norm() <= 1e-9 * second.norm());
      if (type == CovarianceType::diag || type == CovarianceType::spherical)
        CHECK((stats.second.row(k).transpose() - second.diagonal()).norm() <= 1e-9 * second.norm());
    }
    CHECK_CLOSE(stats.weight_sum, weight.sum(), 1e-12);
    CHECK_CLOSE(stats.mean_log_likelihood(), model.score(X, weight), 1e-12);

    // Two halves merged equal the whole.
    SufficientStatistics head = expectation_step(model, X.topRows(1000), weight.head(1000));
    head.merge(expectation_step(model, X.bottomRows(2000), weight.tail(2000)));
    CHECK((head.second - stats.second).norm() <= 1e-10 * stats.second.norm());
    CHECK_CLOSE(head.log_likelihood_sum, stats.log_likelihood_sum, 1e-12);

    // M-step: means are the responsibility-weighted averages.
    const Model<double> next = maximization_step<double>(stats, 1e-6);
    for (Index k = 0; k < K; ++k) {
      const Vector<double> wr = resp.col(k).cwiseProduct(weight);
      const Eigen::RowVectorXd mean = (wr.transpose() * X) / wr.sum();
      CHECK((next.means().row(k) - mean).norm() <= 1e-9 * mean.norm());
    }
    CHECK_CLOSE(next.weights().sum(), 1.0, 1e-12);
  }
  // Statistics about different shifts refuse to merge.
  const auto a = expectation_step(testdata::three_blobs(), testdata::three_blobs().sample(10, 1).X);
  SufficientStatistics b = a;
  b.shift(0, 0) += 1.0;
  CHECK_THROWS(InvalidArgument, b.merge(a));
  return check::finish("test_statistics");
}
