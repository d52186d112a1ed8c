// How OpenMP threads wait at the end of a parallel region. libgomp's default spins for ~300,000 iterations, which
// on a shared machine burns the core a descheduled team mate needs; a passive wait (sleep at once) degrades gracefully.
#pragma once

namespace strata {

// Unless the user chose (OMP_WAIT_POLICY or GOMP_SPINCOUNT set), re-executes this program once with
// OMP_WAIT_POLICY=PASSIVE: libgomp reads it only when it loads, before main. Returns if exec fails.
void adopt_openmp_wait_policy(char** argv);

inline constexpr const char* kStrataWaitPolicy = "PASSIVE";

}  // namespace strata
