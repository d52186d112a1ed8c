// Learning-rate schedules: linear warmup, then constant, linear decay or cosine decay to lr * min_lr_ratio.
// A pure function of the step, so a resumed run follows exactly the same curve.
#pragma once
#include <array>

#include "core/enum_names.h"

namespace strata {

enum class LrScheduleKind { Constant, Linear, Cosine };
constexpr std::array<EnumName<LrScheduleKind>, 3> enum_names(LrScheduleKind) {
  return {{{LrScheduleKind::Constant, "constant"},
           {LrScheduleKind::Linear, "linear"},
           {LrScheduleKind::Cosine, "cosine"}}};
}

struct LrSchedule {
  LrScheduleKind kind = LrScheduleKind::Cosine;
  double lr = 3e-4;
  int warmup_steps = 0;
  int total_steps = 1;
  double min_lr_ratio = 0.1;
  // Learning rate of optimizer step `step` (0-based).
  double at(int step) const;
};

}  // namespace strata
