// Loads a model file (written by Python's GaussianMixture.save or gaussmix::save_model) and
// prints, for each row of a CSV of samples, the most probable component and the log-density:
//   predict_model model.safetensors X.csv
// Output: a header line "label,log_density", then one line per row, values with 17 digits.

#include <gaussmix/gaussmix.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

/// Rows of comma-separated numbers, all of the same length.
gaussmix::Matrix<double> read_csv(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::vector<std::vector<double>> rows;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::vector<double> row;
    std::stringstream cells(line);
    std::string cell;
    while (std::getline(cells, cell, ',')) row.push_back(std::stod(cell));
    if (!rows.empty() && row.size() != rows[0].size()) throw std::runtime_error(path + ": rows of different lengths");
    rows.push_back(row);
  }
  if (rows.empty()) throw std::runtime_error(path + " has no rows");
  gaussmix::Matrix<double> X(rows.size(), rows[0].size());
  for (std::size_t i = 0; i < rows.size(); ++i)
    for (std::size_t j = 0; j < rows[i].size(); ++j) X(i, j) = rows[i][j];
  return X;
}

template <typename Scalar>
void predict(const std::string& model_path, const gaussmix::Matrix<double>& X) {
  const auto saved = gaussmix::load_model<Scalar>(model_path);
  const gaussmix::Matrix<Scalar> data = X.cast<Scalar>();
  const auto labels = saved.model.predict(data);
  const auto log_density = saved.model.score_samples(data);
  std::cerr << "loaded a " << gaussmix::to_string(saved.model.covariance_type()) << " model with "
            << saved.model.n_components() << " components on " << saved.model.n_features()
            << " features, written by gaussmix " << saved.metadata.library_version << "\n";
  std::printf("label,log_density\n");
  for (gaussmix::Index i = 0; i < data.rows(); ++i)
    std::printf("%lld,%.17g\n", static_cast<long long>(labels[i]), static_cast<double>(log_density[i]));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: predict_model model.safetensors X.csv\n";
    return 2;
  }
  try {
    const auto X = read_csv(argv[2]);
    if (gaussmix::model_file_dtype(argv[1]) == "float32")
      predict<float>(argv[1], X);
    else
      predict<double>(argv[1], X);
  } catch (const std::exception& error) {
    std::cerr << "predict_model: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
