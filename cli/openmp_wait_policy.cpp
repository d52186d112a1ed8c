// adopt_openmp_wait_policy: setenv + execv("/proc/self/exe"); a marker variable makes sure it happens once, so a
// failing exec or a user who unsets the variable can never loop.
#include "cli/openmp_wait_policy.h"

#include <unistd.h>

#include <cstdlib>

namespace strata {

void adopt_openmp_wait_policy(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT") || std::getenv("STRATA_OPENMP_ADOPTED"))
    return;
  if (setenv("OMP_WAIT_POLICY", kStrataWaitPolicy, 1) != 0 || setenv("STRATA_OPENMP_ADOPTED", "1", 1) != 0) return;
  execv("/proc/self/exe", argv);  // returns only on failure: carry on with libgomp's default
  unsetenv("OMP_WAIT_POLICY");
}

}  // namespace strata
