// Sanitizer builds only (STRATA_SANITIZE): the emulation's fibers then use Boost.Context's ucontext implementation,
// whose AddressSanitizer stack-switch annotations we need, but Debian's libboost_context is built for fcontext and
// lacks the one out-of-line function that implementation declares: each thread's current activation record.
#include <boost/context/fiber.hpp>

namespace boost::context::detail {

fiber_activation_record*& fiber_activation_record::current() noexcept {
  // Until a fiber runs, a thread's current record is the record of its own (main) context, made on first use.
  thread_local fiber_activation_record thread_context;
  thread_local fiber_activation_record* running = &thread_context;
  return running;
}

}  // namespace boost::context::detail
