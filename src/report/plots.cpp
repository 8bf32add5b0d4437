// The plot registry: what `report --plots` and `report --list-plots` name, in the order the report shows them.
#include "figure.hpp"

namespace sweeplab::report_detail {

const std::vector<PlotKind>& plot_registry() {
  static const std::vector<PlotKind> registry = {
      {{"loss_curves", "test and train accuracy (loss for regression) against epoch, step or samples: a panel per learning rate (per η/B in a temperature sweep), batch size as colour"}, &loss_curves},
      {{"heatmap_batch", "final test accuracy (loss for regression) over batch size (or another swept number) by learning rate"}, &heatmap_batch},
      {{"heatmap_temperature", "the same over batch size by temperature η/B, in bins of log2(η/B)"}, &heatmap_temperature},
      {{"loss_vs_samples", "train loss against samples seen, coloured by temperature η/B, a figure per value of the other swept keys"}, &loss_vs_samples},
      {{"steps_to_target", "steps and samples to the first target against batch size, with the critical-batch-size fit where the lr was tuned or scaled (by the swept keys where the batch size is not swept)"},
       &steps_to_target},
      {{"noise_scale", "the gradient noise scale B_simple (metrics.noise_scale) against samples seen, a line per batch size"},
       &noise_scale},
  };
  return registry;
}

}  // namespace sweeplab::report_detail

namespace sweeplab {

std::vector<PlotInfo> plot_kinds() {
  std::vector<PlotInfo> kinds;
  for (const auto& kind : report_detail::plot_registry()) kinds.push_back(kind.info);
  return kinds;
}

}  // namespace sweeplab
