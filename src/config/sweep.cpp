#include "sweeplab/config/sweep.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <random>

#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/core/hash.hpp"
#include "sweeplab/core/text.hpp"

namespace sweeplab {
namespace {

// Characters kept in trial ids as they are; anything else becomes '_' (ids are directory names).
std::string id_safe(const std::string& text) {
  std::string out = text;
  for (char& c : out) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                      c == '-' || c == '+' || c == '_';
    if (!keep) c = '_';
  }
  return out;
}

// A value as shown in a message: a 20 000-entry list is cut, so the message stays one readable line.
std::string shortened(const std::string& text) {
  constexpr std::size_t kMax = 80;
  return text.size() <= kMax ? text : text.substr(0, kMax - 3) + "...";
}

[[noreturn]] void rethrow_with_source(const SweepSpec& sweep, const ValueError& error, const std::string& axis_source) {
  std::string where = axis_source;
  if (where.empty()) {
    const auto it = sweep.sources.find(error.key());
    where = it != sweep.sources.end() ? it->second : sweep.file;
  }
  throw UserError(where + ": " + error.key() + ": " + shortened(error.value()) + " " + error.requirement());
}

// The axes of the product: the grid's, the sample's, then the seeds as training.seed (innermost). leader[a] is the
// axis whose position axis a takes: itself, or for the sample's keys after the first, the first (they change
// together).
struct ProductAxes {
  std::vector<Axis> axes;
  std::vector<std::size_t> leader;
};

ProductAxes product_axes(const SweepSpec& sweep) {
  ProductAxes product;
  product.axes = sweep.axes;
  const std::size_t first_sampled = product.axes.size();
  product.axes.insert(product.axes.end(), sweep.sampled.begin(), sweep.sampled.end());
  if (!sweep.seeds.empty()) {
    const auto source = sweep.sources.find("sweep.seeds");
    Axis seeds{"training.seed", {}, source != sweep.sources.end() ? source->second : sweep.file};
    for (auto seed : sweep.seeds) seeds.values.emplace_back(seed);
    product.axes.push_back(std::move(seeds));
  }
  for (std::size_t a = 0; a < product.axes.size(); ++a) {
    const bool follows = a > first_sampled && a < first_sampled + sweep.sampled.size();
    product.leader.push_back(follows ? first_sampled : a);
  }
  return product;
}

// A uniform double in [0, 1) from 53 bits (the same on every platform, unlike std:: distributions).
double unit(std::mt19937_64& gen) { return double(gen() >> 11) * 0x1.0p-53; }


// Where the learning rate of the trials comes from: optimizer.lr (set explicitly, in a file or by -o, or
// swept) and optimizer.temperature.
struct LearningRateSources {
  bool lr_swept = false;
  std::string lr_set_at;           // where optimizer.lr was set explicitly ("" when it was not)
  std::string temperature_set_at;  // where optimizer.temperature was set or swept
};

LearningRateSources learning_rate_sources(const SweepSpec& sweep, const std::vector<Axis>& axes) {
  LearningRateSources sources;
  const auto source_of = [&](const std::string& key) {
    for (const auto& axis : axes) {
      if (axis.key == key) return axis.source;
    }
    const auto it = sweep.sources.find(key);
    return it != sweep.sources.end() ? it->second : std::string();
  };
  for (const auto& axis : axes) sources.lr_swept = sources.lr_swept || axis.key == "optimizer.lr";
  sources.lr_set_at = source_of("optimizer.lr");
  sources.temperature_set_at = source_of("optimizer.temperature");
  return sources;
}

// optimizer.temperature > 0: the learning rate is temperature x training.batch_size. An explicit
// optimizer.lr beside it is an error, unless it is that very value (a trial's own config.yaml, read back,
// holds both). A trial with temperature 0 keeps optimizer.lr as set (the base's, or its axis value).
void derive_learning_rate(const SweepSpec& sweep, const LearningRateSources& sources, Config& config) {
  const double temperature = config.optimizer.temperature;
  if (temperature > 0.0 && std::isfinite(temperature)) {  // not finite: validation says so
    const double lr = temperature * double(config.training.batch_size);
    if (!sources.lr_set_at.empty() && config.optimizer.lr != lr) {
      throw UserError(sources.lr_set_at + ": optimizer.lr and optimizer.temperature are both set; sweep one of them "
                      "(optimizer.temperature: " + (sources.temperature_set_at.empty() ? sweep.file : sources.temperature_set_at) +
                      "; with a temperature the learning rate is temperature x training.batch_size)");
    }
    config.optimizer.lr = lr;
  } else if (!sources.lr_swept) {
    config.optimizer.lr = sweep.base.optimizer.lr;  // a trial before may have derived it
  }
}

// Calls visit(config, index) for every trial in expansion order, after validating its config; index[a]
// is the position in axes[a] of the trial's value.
template <class Visit>
void for_each_trial(const SweepSpec& sweep, const ProductAxes& product, Visit visit) {
  const std::vector<Axis>& axes = product.axes;
  std::vector<const FieldSpec*> fields;
  for (const auto& axis : axes) fields.push_back(find_field(axis.key));
  const std::size_t total = count_trials(sweep);
  Config config = sweep.base;  // every axis is set for every trial, so one config serves them all
  std::vector<std::size_t> index(axes.size(), 0);  // an odometer: the last axis turns fastest
  const LearningRateSources lr_sources = learning_rate_sources(sweep, axes);
  // The seeds turn fastest (innermost): a trial that differs from the one before in its seed only needs no whole
  // validate(), only its training section's (100 000 seeds of one configuration load in a blink).
  const bool seeds_last = !axes.empty() && axes.back().key == "training.seed";
  std::size_t changed = 0;  // the first axis whose value changed since the trial before
  for (std::size_t n = 0; n < total; ++n) {
    for (std::size_t a = changed; a < axes.size(); ++a) fields[a]->set(config, axes[a].values[index[a]]);
    derive_learning_rate(sweep, lr_sources, config);
    try {
      if (n > 0 && seeds_last && changed == axes.size() - 1) {
        config.training.validate();
      } else {
        config.validate();
      }
    } catch (const ValueError& error) {
      std::string axis_source;
      for (const auto& axis : axes) {
        if (axis.key == error.key()) axis_source = axis.source;
      }
      rethrow_with_source(sweep, error, axis_source);
    }
    visit(config, index);
    for (std::size_t a = axes.size(); a-- > 0;) {
      if (product.leader[a] != a) continue;  // a sampled key moves with the sample's first
      changed = a;
      if (++index[a] < axes[a].values.size()) break;
      index[a] = 0;
    }
    for (std::size_t a = 0; a < axes.size(); ++a) index[a] = index[product.leader[a]];
  }
}

}  // namespace

double four_significant_digits(double x) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4g", x);
  return std::strtod(text, nullptr);
}

std::vector<std::pair<std::string, Value>> swept_values(const CompactConfig& config, const std::vector<std::string>& keys) {
  std::vector<std::pair<std::string, Value>> values;
  for (const auto& key : keys) values.emplace_back(key, config.get(key));
  return values;
}

std::string make_trial_id(const CompactConfig& config, TrialHash hash, const std::vector<std::string>& swept_keys) {
  std::string readable;
  for (const auto& key : swept_keys) {
    const FieldSpec* field = find_field(key);
    if (!field) throw InternalError("make_trial_id: unknown key " + key);
    if (!readable.empty()) readable += "_";
    readable += field->id_label() + "=" + id_safe(to_short_text(config.get(key)));
  }
  return (readable.empty() ? std::string("trial") : readable) + "-" + hash.short_hex();
}

std::string to_string(Prune prune) {
  switch (prune) {
    case Prune::AboveDivergence:
      return "above_divergence";
    case Prune::BelowDivergence:
      return "below_divergence";
    case Prune::None:
      break;
  }
  return "none";
}

std::string prune_text(const SweepSpec& sweep) {
  if (sweep.prune != Prune::BelowDivergence) return to_string(sweep.prune);
  return "{" + to_string(sweep.prune) + ": " + std::to_string(sweep.prune_keep) + "}";
}

std::string prune_line(const CompactConfig& config) {
  static const std::size_t lr = field_index("optimizer.lr"), temperature = field_index("optimizer.temperature");
  return config.without(lr).without(temperature).canonical_text();
}

std::string refine_line(const CompactConfig& config) {
  static const std::size_t lr = field_index("optimizer.lr"), temperature = field_index("optimizer.temperature"),
                           seed = field_index("training.seed");
  return config.without(lr).without(temperature).without(seed).canonical_text();
}

std::string refine_text(const Refine& refine) {
  std::vector<std::string> parts;
  if (refine.boundary > 0.0) parts.push_back("boundary: " + format_double_short(refine.boundary, 6));
  if (!refine.metric.empty()) {
    parts.push_back("best: {metric: " + refine.metric + ", ratio: " + format_double_short(refine.best_ratio, 6) + "}");
  }
  parts.push_back("waves: " + std::to_string(refine.waves));
  return "{" + join(parts, ", ") + "}";
}

std::string refined_summary(const SweepSpec& sweep) {
  if (sweep.refined.empty()) return "";
  std::int64_t waves = 0;
  for (const auto& point : sweep.refined) waves = std::max(waves, point.wave);
  const std::size_t n = sweep.refined.size();
  return std::to_string(n) + " trial" + (n == 1 ? "" : "s") + " added by sweep.refine in " + std::to_string(waves) +
         " wave" + (waves == 1 ? "" : "s");
}

std::vector<TrialSpec> refined_trials(const SweepSpec& sweep, const std::vector<TrialSpec>& trials,
                                      const std::vector<RefinedPoint>& points) {
  static const std::size_t lr = field_index("optimizer.lr"), temperature = field_index("optimizer.temperature"),
                           batch = field_index("training.batch_size");
  const std::size_t field = field_index(sweep.refine.key);
  const std::vector<std::string> keys = swept_keys(sweep);
  std::vector<TrialSpec> made;
  for (const auto& point : points) {
    // A point's base may be one made here (an earlier point of the same call).
    const std::size_t known = trials.size();
    const TrialSpec& base = point.base < known ? trials.at(point.base) : made.at(point.base - known);
    TrialSpec trial;
    trial.config = base.config;
    trial.config.set(field, Value(point.eta));
    if (field == temperature) {
      trial.config.set(lr, Value(point.eta * double(std::get<std::int64_t>(trial.config.get(batch)))));
    }
    try {
      trial.config.expand().validate();
    } catch (const ValueError& error) {
      rethrow_with_source(sweep, error, sweep.refine.source);
    }
    trial.hash = trial.config.hash();
    trial.id = make_trial_id(trial.config, trial.hash, keys);
    made.push_back(std::move(trial));
  }
  return made;
}

std::vector<Axis> draw_sample(const Sample& sample) {
  std::vector<Axis> axes;
  for (const auto& key : sample.keys) axes.push_back(Axis{key.key, {}, sample.source});
  std::mt19937_64 gen(sample.seed);
  for (std::int64_t point = 0; point < sample.n; ++point) {
    for (std::size_t k = 0; k < sample.keys.size(); ++k) {
      const SampledKey& key = sample.keys[k];
      Value value;
      if (key.distribution == "choice") {
        const std::uint64_t size = key.choices.size();
        const std::uint64_t limit = std::uint64_t(-1) - std::uint64_t(-1) % size;  // no modulo bias
        std::uint64_t draw = gen();
        while (draw >= limit) draw = gen();
        value = key.choices[std::size_t(draw % size)];
      } else {
        const double u = unit(gen);
        const double x = key.distribution == "log_uniform"
                             ? std::exp(std::log(key.low) + u * (std::log(key.high) - std::log(key.low)))
                             : key.low + u * (key.high - key.low);
        value = four_significant_digits(x);
      }
      axes[k].values.push_back(std::move(value));
    }
  }
  return axes;
}

std::vector<std::string> swept_keys(const SweepSpec& sweep) {
  std::vector<std::string> keys;
  for (const auto& axis : sweep.axes) keys.push_back(axis.key);
  for (const auto& axis : sweep.sampled) keys.push_back(axis.key);
  if (!sweep.seeds.empty()) keys.push_back("training.seed");
  return keys;
}

std::size_t count_trials(const SweepSpec& sweep) {
  constexpr std::size_t kMax = std::numeric_limits<std::size_t>::max();
  std::size_t total = 1;
  auto times = [&](std::size_t n) { total = n != 0 && total > kMax / n ? kMax : total * n; };
  for (const auto& axis : sweep.axes) times(axis.values.size());
  if (!sweep.sampled.empty()) times(std::size_t(sweep.sample.n));
  if (!sweep.seeds.empty()) times(sweep.seeds.size());
  return total;
}

std::vector<TrialSpec> expand(const SweepSpec& sweep) {
  const ProductAxes product = product_axes(sweep);
  const std::vector<Axis>& axes = product.axes;
  std::vector<TrialSpec> trials;
  trials.reserve(count_trials(sweep));
  // Each trial is the base with its axis values and its learning rate set: a few entries, not a whole Config.
  const CompactConfig base = CompactConfig::of(sweep.base);
  std::vector<std::size_t> fields;
  std::vector<std::string> keys;
  std::vector<std::vector<std::uint32_t>> entries;  // each axis value interned once
  for (const auto& axis : axes) {
    fields.push_back(field_index(axis.key));
    keys.push_back(axis.key);
    entries.emplace_back();
    for (const auto& value : axis.values) entries.back().push_back(CompactConfig::intern_value(fields.back(), value));
  }
  const std::size_t lr_field = field_index("optimizer.lr");
  std::vector<std::size_t> varying = fields;
  varying.push_back(lr_field);  // derived from optimizer.temperature x training.batch_size, where there is one
  CanonicalHasher hasher(base, varying);
  for_each_trial(sweep, product, [&](const Config& config, const std::vector<std::size_t>& index) {
    TrialSpec trial;
    trial.config = base;
    for (std::size_t a = 0; a < axes.size(); ++a) trial.config.set_entry(fields[a], entries[a][index[a]]);
    // A learning rate derived from optimizer.temperature; otherwise it is the base's or its axis value already.
    if (config.optimizer.temperature > 0.0) trial.config.set(lr_field, config.optimizer.lr);
    trial.hash = hasher.hash(trial.config);
    trial.id = make_trial_id(trial.config, trial.hash, keys);
    trials.push_back(std::move(trial));
  });
  auto refined = refined_trials(sweep, trials, sweep.refined);
  trials.insert(trials.end(), std::make_move_iterator(refined.begin()), std::make_move_iterator(refined.end()));
  return trials;
}

void validate_trials(const SweepSpec& sweep) {
  for_each_trial(sweep, product_axes(sweep), [](const Config&, const std::vector<std::size_t>&) {});
}

}  // namespace sweeplab
