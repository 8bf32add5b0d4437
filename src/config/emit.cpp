#include "sweeplab/config/emit.hpp"

#include <yaml-cpp/yaml.h>

#include <iomanip>
#include <sstream>

#include "sweeplab/config/applies.hpp"
#include "sweeplab/config/loader.hpp"
#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/text.hpp"

namespace sweeplab {
namespace {

void emit_value(YAML::Emitter& out, const Value& value) {
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          out << v;
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          out << YAML::Flow << YAML::BeginSeq;
          for (const auto& item : v) out << item;
          out << YAML::EndSeq;
        } else if constexpr (std::is_same_v<T, std::vector<std::int64_t>> || std::is_same_v<T, std::vector<double>>) {
          out << YAML::Flow << YAML::BeginSeq;
          for (const auto& item : v) out << to_text(Value(item));
          out << YAML::EndSeq;
        } else {
          out << to_text(Value(v));
        }
      },
      value);
}

}  // namespace

std::string to_yaml(const SweepSpec& sweep, Keys keys) {
  static const Config defaults;
  YAML::Emitter out;
  out << YAML::BeginMap;
  std::string open_section;
  for (const auto& field : schema()) {
    // A key no trial reads is left out when it is at its default (it loads back as the default: the same trials);
    // set to something else, it stays, marked, as it is part of the trial ids.
    const bool applies = keys == Keys::All || key_applies(field.key, sweep);
    const Value value = field.get(sweep.base);
    if (!applies && to_text(value) == to_text(field.get(defaults))) continue;
    const auto dot = field.key.find('.');
    const std::string section = dot == std::string::npos ? "" : field.key.substr(0, dot);
    if (section != open_section) {
      if (!open_section.empty()) out << YAML::EndMap;
      if (!section.empty()) out << YAML::Key << section << YAML::Value << YAML::BeginMap;
      open_section = section;
    }
    out << YAML::Key << (section.empty() ? field.key : field.leaf()) << YAML::Value;
    emit_value(out, value);
    if (!applies) out << YAML::Comment("not used by these trials");
  }
  if (!open_section.empty()) out << YAML::EndMap;
  if (!sweep.axes.empty() || !sweep.seeds.empty() || sweep.prune != Prune::None || sweep.sample.n > 0 ||
      sweep.refine.on()) {
    out << YAML::Key << "sweep" << YAML::Value << YAML::BeginMap;
    if (!sweep.axes.empty()) {
      out << YAML::Key << "grid" << YAML::Value << YAML::BeginMap;
      for (const auto& axis : sweep.axes) {
        out << YAML::Key << axis.key << YAML::Value << YAML::Flow << YAML::BeginSeq;
        for (const auto& value : axis.values) emit_value(out, value);
        out << YAML::EndSeq;
      }
      out << YAML::EndMap;
    }
    if (sweep.sample.n > 0) {
      out << YAML::Key << "sample" << YAML::Value << YAML::BeginMap;
      out << YAML::Key << "n" << YAML::Value << sweep.sample.n;
      out << YAML::Key << "seed" << YAML::Value << sweep.sample.seed;
      out << YAML::Key << "keys" << YAML::Value << YAML::BeginMap;
      for (const auto& key : sweep.sample.keys) {
        out << YAML::Key << key.key << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key << key.distribution
            << YAML::Value << YAML::Flow << YAML::BeginSeq;
        if (key.distribution == "choice") {
          for (const auto& value : key.choices) emit_value(out, value);
        } else {
          emit_value(out, Value(key.low));
          emit_value(out, Value(key.high));
        }
        out << YAML::EndSeq << YAML::EndMap;
      }
      out << YAML::EndMap << YAML::EndMap;
    }
    if (!sweep.seeds.empty()) {
      out << YAML::Key << "seeds" << YAML::Value;
      emit_value(out, sweep.seeds);
    }
    if (sweep.prune == Prune::BelowDivergence) {
      out << YAML::Key << "prune" << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key << to_string(sweep.prune)
          << YAML::Value << sweep.prune_keep << YAML::EndMap;
    } else if (sweep.prune != Prune::None) {
      out << YAML::Key << "prune" << YAML::Value << to_string(sweep.prune);
    }
    if (sweep.refine.on()) {
      const Refine& refine = sweep.refine;
      out << YAML::Key << "refine" << YAML::Value << YAML::BeginMap;
      if (refine.boundary > 0.0) out << YAML::Key << "boundary" << YAML::Value << refine.boundary;
      if (!refine.metric.empty()) {
        out << YAML::Key << "best" << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key << "metric" << YAML::Value
            << refine.metric << YAML::Key << "ratio" << YAML::Value << refine.best_ratio << YAML::EndMap;
      }
      out << YAML::Key << "waves" << YAML::Value << refine.waves << YAML::EndMap;
    }
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

std::string to_yaml(const Config& config) {
  SweepSpec single;
  single.base = config;
  return to_yaml(single, Keys::All);
}

std::string keys_reference() {
  std::ostringstream out;
  for (const auto& field : schema()) {
    // "an integer >= 1", "a list of numbers, each in [0, 1)", "a number > 0 or .inf"
    std::string type = type_name(field.type);
    if (field.range) {
      const bool list = field.type == ValueType::IntList || field.type == ValueType::DoubleList;
      type += (list ? ", each " : " ") + field.range->text() + (field.range->infinity_ok ? " or .inf" : "");
    }
    out << field.key << "  (" << type << ", default " << to_text(field.get(Config{})) << ")\n"
        << "    " << field.doc << "\n";
  }
  out << "sweep.grid  (mapping of key -> list or generator)\n"
      << "    The swept axes; trials are their Cartesian product (at most " << kDefaultMaxTrials
      << " trials, with the seeds, unless raised). Values: a list\n"
      << "    [8, 16, 32] or a generator {pow2: [1, 6]} (2..64; exponents in [-62, 62], so {pow2: [-12, 12]} is\n"
      << "    2^-12..2^12), {logspace: [-4, -1, 7]}, {linspace: [0, 1, 5]} (n in [1, 10000]), {range: [8, 64, 8]}\n"
      << "    (stop excluded, at most 10000 values).\n"
      << "sweep.seeds  (a count in [1, 100000], or a list of distinct integers >= 0)\n"
      << "    Repeat every grid point with these training seeds; 3 means training.seed, +1, +2.\n"
      << "sweep.prune  (none, above_divergence or {below_divergence: K} with K >= 1, default none)\n"
      << "    Leave out learning rates beyond the divergence boundary of each line of trials (the same config but for\n"
      << "    the learning rate, optimizer.lr or optimizer.temperature); a line's trials run in waves, one learning\n"
      << "    rate at a time, and those left out are not run: summary.json says skipped and why.\n"
      << "    above_divergence: smallest learning rate first; once a trial diverges, the larger ones are skipped.\n"
      << "    {below_divergence: K}: largest learning rate first (diverged trials are results and the walk goes on);\n"
      << "    once K trials have completed, the smaller ones are skipped.\n"
      << "    A later run keeps them skipped while the trials that ruled them out stay as they are, and trains them\n"
      << "    when they do not (or with sweep.prune: none); --fresh decides again.\n"
      << "sweep.refine  ({boundary: R, best: {metric: M, ratio: R}, waves: N}, boundary or best or both, waves default "
      << kDefaultRefineWaves << ")\n"
      << "    After the grid, `run` adds learning rates where they matter, wave after wave, on each line of trials (the\n"
      << "    same config but for optimizer.lr or optimizer.temperature, a grid axis, and the seed): boundary: the\n"
      << "    geometric midpoint of the largest stable and the smallest diverged rate (diverged: any seed diverged)\n"
      << "    until their ratio is <= R; best: the midpoints between the best rate by M (final evaluation, mean over\n"
      << "    seeds) and its neighbours until both are within R. Midpoints have 4 significant digits; the new trials\n"
      << "    are ordinary trials. Not with sweep.prune, nor with submit.\n"
      << "extends  (name of another sweep)\n"
      << "    Start from that sweep and override it (deep merge; lists replace).\n";
  return out.str();
}

}  // namespace sweeplab
