// The grokking study's algorithmic tasks: (a + b), (a - b), (a * b^-1) mod p and composition in S5.
#include <algorithm>
#include <array>
#include <map>

#include "random.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/tasks/tasks.hpp"

namespace sweeplab {
namespace {

using Permutation = std::array<int, 5>;

// The 120 permutations of {0, .., 4} in lexicographic order: index 0 is the identity (0 1 2 3 4), index 119 is
// (4 3 2 1 0). A permutation p maps i to p[i].
const std::vector<Permutation>& permutations() {
  static const std::vector<Permutation> all = [] {
    std::vector<Permutation> list;
    Permutation p = {0, 1, 2, 3, 4};
    do list.push_back(p);
    while (std::next_permutation(p.begin(), p.end()));
    return list;
  }();
  return all;
}

// Composition a o b: apply b first, then a: (a o b)[i] = a[b[i]]. Returns the index of the result.
std::int64_t compose(std::int64_t a, std::int64_t b) {
  static const std::map<Permutation, std::int64_t> index = [] {
    std::map<Permutation, std::int64_t> out;
    for (std::size_t i = 0; i < permutations().size(); ++i) out[permutations()[i]] = std::int64_t(i);
    return out;
  }();
  const Permutation& pa = permutations()[std::size_t(a)];
  const Permutation& pb = permutations()[std::size_t(b)];
  Permutation result{};
  for (int i = 0; i < 5; ++i) result[std::size_t(i)] = pa[std::size_t(pb[std::size_t(i)])];
  return index.at(result);
}

// b^(p-2) mod p: b's inverse for a prime p (Fermat).
std::int64_t inverse_mod(std::int64_t b, std::int64_t p) {
  std::int64_t result = 1, base = b % p;
  for (std::int64_t e = p - 2; e > 0; e >>= 1) {
    if (e & 1) result = result * base % p;
    base = base * base % p;
  }
  return result;
}

}  // namespace

TaskData make_algorithmic_task(const TaskConfig& task) {
  const bool permutation = task.name == "permutation";
  const std::int64_t p = permutation ? 120 : task.modulus;
  const bool division = task.name == "x_div_y";
  if (!permutation && task.name != "x_plus_y" && task.name != "x_minus_y" && !division) {
    throw InternalError("make_algorithmic_task: not an algorithmic task: " + task.name);
  }
  // Every pair in a fixed order (a major, b minor; division leaves out b = 0), then shuffled by data_seed.
  struct Pair {
    std::int64_t a, b, result;
  };
  std::vector<Pair> pairs;
  pairs.reserve(std::size_t(task.pair_count()));
  for (std::int64_t a = 0; a < p; ++a) {
    for (std::int64_t b = division ? 1 : 0; b < p; ++b) {
      std::int64_t result = 0;
      if (permutation)
        result = compose(a, b);
      else if (task.name == "x_plus_y")
        result = (a + b) % p;
      else if (task.name == "x_minus_y")
        result = ((a - b) % p + p) % p;
      else
        result = a * inverse_mod(b, p) % p;
      pairs.push_back({a, b, result});
    }
  }
  if (std::int64_t(pairs.size()) != task.pair_count()) throw InternalError("make_algorithmic_task: pair count");
  const auto order = tasks::shuffled_indices(std::int64_t(pairs.size()), std::uint64_t(task.data_seed));

  TaskData data;
  data.loss = LossKind::Multiclass;
  data.inputs = 2;
  data.vocabulary = 2 * p;  // a's tokens 0..p-1, b's tokens p..2p-1
  data.outputs = p;
  data.n_train = task.train_samples();
  data.n_test = std::int64_t(pairs.size()) - data.n_train;
  for (std::size_t i = 0; i < order.size(); ++i) {
    const Pair& pair = pairs[std::size_t(order[i])];
    const bool train = std::int64_t(i) < data.n_train;
    auto& x = train ? data.x_train : data.x_test;
    auto& y = train ? data.y_train : data.y_test;
    x.push_back(float(pair.a));
    x.push_back(float(p + pair.b));
    y.push_back(float(pair.result));
  }
  return data;
}

}  // namespace sweeplab
