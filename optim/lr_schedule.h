// Learning-rate schedules: linear warmup, then constant, linear decay or cosine decay to lr * min_lr_ratio.
// A pure function of the step, so a resumed run follows exactly the same curve.
#pragma once
#include <string>

namespace strata {

struct LrSchedule {
  std::string kind = "cosine";  // constant | linear | cosine
  double lr = 3e-4;
  int warmup_steps = 0;
  int total_steps = 1;
  double min_lr_ratio = 0.1;
  // Learning rate of optimizer step `step` (0-based).
  double at(int step) const;
};

}  // namespace strata
