// Fits a Gaussian mixture to data drawn from a known three-component mixture and prints the
// parameters it recovers, using only the gaussmix C++ library.

#include <gaussmix/gaussmix.hpp>

#include <iostream>

int main() {
  using gaussmix::CovarianceType;

  // The mixture to recover: three 2-D components.
  gaussmix::Vector<double> weights(3);
  weights << 0.5, 0.3, 0.2;
  gaussmix::Matrix<double> means(3, 2);
  means << 0.0, 0.0, 6.0, 3.0, -3.0, 7.0;
  gaussmix::Matrix<double> covariances(6, 2);
  covariances << 1.0, 0.5, 0.5, 1.5,   //
      0.6, -0.2, -0.2, 0.4,            //
      1.2, 0.0, 0.0, 0.3;
  const auto truth = gaussmix::Model<double>::from_covariances(CovarianceType::full, weights, means, covariances);
  const auto data = truth.sample(100000, /*seed=*/1);

  gaussmix::FitOptions options;
  options.n_components = 3;
  options.covariance_type = CovarianceType::full;
  options.n_init = 2;
  options.seed = 42;
  try {
    const auto result = gaussmix::fit<double>(data.X, options);
    const auto& model = result.model;
    std::cout << "gaussmix " << GAUSSMIX_VERSION << ": fitted " << model.n_components() << " components to "
              << data.X.rows() << " samples in " << result.n_iter << " iterations (converged: " << std::boolalpha
              << result.converged << ")\n"
              << "mean log-likelihood " << result.lower_bound << ", BIC " << model.bic(data.X) << "\n";
    for (gaussmix::Index k = 0; k < model.n_components(); ++k) {
      std::cout << "component " << k << ": weight " << model.weights()[k] << "  mean [" << model.means().row(k)
                << "]\n  covariance\n"
                << model.covariances().middleRows(k * 2, 2) << "\n";
    }
  } catch (const std::exception& error) {
    std::cerr << "fit failed: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
