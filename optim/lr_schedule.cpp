// LrSchedule::at: warmup ramps linearly from lr/warmup to lr; decay runs over the remaining steps.
#include "optim/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace strata {

double LrSchedule::at(int step) const {
  if (step < warmup_steps) return lr * (double)(step + 1) / warmup_steps;
  if (kind == LrScheduleKind::Constant) return lr;
  const int decay_steps = std::max(1, total_steps - warmup_steps);
  const double progress = std::clamp((double)(step - warmup_steps) / decay_steps, 0.0, 1.0);
  const double min_lr = lr * min_lr_ratio;
  if (kind == LrScheduleKind::Linear) return lr - (lr - min_lr) * progress;
  return min_lr + (lr - min_lr) * 0.5 * (1.0 + std::cos(M_PI * progress));  // cosine
}

}  // namespace strata
