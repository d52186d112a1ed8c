// The emulated device's runtime: memory (device allocations are lazily mapped host pages; fresh arena ranges are
// poisoned by the backend), streams as FIFO task queues run lazily by whoever synchronizes (so host code that reads
// a result before synchronizing sees stale memory, as on a GPU), events as recorded generations, and the sticky
// launch error. One emulated device; its state is process-wide like a CUDA context, behind one lock.
#include <sys/mman.h>

#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "backend/cuda/emulation/emu_launch.h"
#include "backend/cuda/emulation/include/cuda_runtime.h"

namespace strata::cuda_emu {

struct EmuEvent;

namespace {

// A stream's entries: work, an event record (sets the event's completed generation) or a wait for an event (the
// record of generation `generation`, queued on `wait_stream`: where the event was recorded when the wait was queued).
struct Entry {
  std::function<void()> work;
  EmuEvent* record = nullptr;
  EmuEvent* wait = nullptr;
  EmuStream* wait_stream = nullptr;
  uint64_t generation = 0;
};

}  // namespace

struct EmuStream {
  std::deque<Entry> queue;
};
struct EmuEvent {
  uint64_t recorded = 0, completed = 0;  // generations: records queued, records executed
  EmuStream* stream = nullptr;           // where the newest record was queued
};

namespace {

constexpr size_t kTotalDeviceBytes = size_t{8} << 30;  // what cudaMemGetInfo reports: an 8 GiB device
constexpr int kMultiprocessors = 4;                    // few SMs: grid-stride loops run more than one pass

struct Device {
  std::recursive_mutex mu;  // held while anything runs: one kernel or copy at a time, like a single queue
  EmuStream legacy;         // stream 0
  std::set<EmuStream*> streams{&legacy};
  std::map<void*, size_t> allocations;  // cudaMalloc'd ranges
  size_t allocated = 0;
  cudaError_t last_error = cudaSuccess;  // reported (and cleared) by cudaGetLastError and the next sync
  std::string last_message;
};

Device& device() {
  static Device d;  // the emulated GPU: process-wide, as a CUDA context is
  return d;
}

EmuStream* resolve(cudaStream_t s) {
  return s ? s : &device().legacy;
}

void set_error(cudaError_t e, const std::string& message) {
  Device& d = device();
  if (d.last_error == cudaSuccess) {
    d.last_error = e;
    d.last_message = message;
  }
}

cudaError_t take_error() {
  Device& d = device();
  const cudaError_t e = d.last_error;
  d.last_error = cudaSuccess;
  return e;
}

void run_front(EmuStream& s);

// Whether `stream` still holds the record of `event`'s generation `g` (false once a destroyed stream is gone).
bool record_pending(EmuStream* stream, const EmuEvent& event, uint64_t g) {
  if (!stream || !device().streams.count(stream)) return false;
  for (const Entry& x : stream->queue)
    if (x.record == &event && x.generation == g) return true;
  return false;
}

// Runs `stream` (where the event's record of generation `g` was queued) until that very record has run: a newer
// record of the same event on another stream does not complete it (`completed` is only the newest generation run).
void run_until(EmuEvent& event, uint64_t g, EmuStream* stream) {
  if (g == 0 || !record_pending(stream, event, g)) return;
  for (bool done = false; !done;) {  // FIFO: run up to and including that record
    const Entry& front = stream->queue.front();
    done = front.record == &event && front.generation == g;
    run_front(*stream);
  }
}

void run_front(EmuStream& s) {
  Entry e = std::move(s.queue.front());
  s.queue.pop_front();
  if (e.wait) {
    run_until(*e.wait, e.generation, e.wait_stream);
  } else if (e.record) {
    e.record->completed = std::max(e.record->completed, e.generation);
  } else if (e.work) {
    try {
      e.work();
    } catch (const std::exception& ex) {
      set_error(cudaErrorLaunchFailure, ex.what());
    }
  }
}

void drain(EmuStream& s) {
  while (!s.queue.empty()) run_front(s);
}

void drain_all() {
  Device& d = device();
  for (bool busy = true; busy;) {
    busy = false;
    for (EmuStream* s : d.streams)
      if (!s->queue.empty()) {
        drain(*s);
        busy = true;
      }
  }
}

}  // namespace

// ---- Launches and host work ------------------------------------------------------------------------------------

void fail_launch(const char* name, const std::string& why) {
  std::lock_guard lock(device().mu);
  set_error(cudaErrorInvalidConfiguration, std::string("kernel ") + name + " " + why);
}

void enqueue_launch(const char* name, dim3 grid, dim3 block, size_t smem, void* stream, std::function<void()> body) {
  const std::string problem = launch_config_problem(grid, block);
  if (!problem.empty()) return fail_launch(name, problem);
  LaunchSpec spec{name, grid, block, smem, std::move(body)};
  enqueue(stream, [spec = std::move(spec)] { run_launch(spec); });
}

void enqueue(void* stream, std::function<void()> work) {
  std::lock_guard lock(device().mu);
  Entry e;
  e.work = std::move(work);
  resolve(static_cast<cudaStream_t>(stream))->queue.push_back(std::move(e));
}

void poison(void* p, size_t bytes) {
  std::memset(p, 0xFF, bytes);
}

// ---- Runtime API ---------------------------------------------------------------------------------------------

const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorInvalidConfiguration:
    case cudaErrorLaunchFailure: {
      // The detail of the newest failure (kept until the next one), e.g. a barrier only part of a block reached.
      static thread_local std::string text;
      std::lock_guard lock(device().mu);
      text =
          std::string(e == cudaErrorLaunchFailure ? "unspecified launch failure" : "invalid configuration argument") +
          (device().last_message.empty() ? "" : " (emulation: " + device().last_message + ")");
      return text.c_str();
    }
  }
  return "unknown error";
}

cudaError_t cudaGetLastError() {
  std::lock_guard lock(device().mu);
  return take_error();
}

cudaError_t cudaGetDeviceCount(int* n) {
  *n = 1;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int dev) {
  return dev == 0 ? cudaSuccess : cudaErrorInvalidDevice;
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int dev) {
  if (dev != 0) return cudaErrorInvalidDevice;
  switch (attr) {
    case cudaDevAttrMaxThreadsPerBlock: *value = 1024; return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = 48 * 1024; return cudaSuccess;
    case cudaDevAttrMultiProcessorCount: *value = kMultiprocessors; return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = 227 * 1024; return cudaSuccess;
  }
  return cudaErrorInvalidValue;
}

cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  std::lock_guard lock(device().mu);
  *total_bytes = kTotalDeviceBytes;
  *free_bytes = kTotalDeviceBytes - std::min(kTotalDeviceBytes, device().allocated);
  return cudaSuccess;
}

cudaError_t cudaMalloc(void** p, size_t bytes) {
  std::lock_guard lock(device().mu);
  Device& d = device();
  if (bytes == 0 || d.allocated + bytes > kTotalDeviceBytes) return cudaErrorMemoryAllocation;
  // Lazily mapped: an arena of gigabytes costs only the pages the run touches.
  void* m = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) return cudaErrorMemoryAllocation;
  d.allocations[m] = bytes;
  d.allocated += bytes;
  *p = m;
  return cudaSuccess;
}

cudaError_t cudaFree(void* p) {
  if (!p) return cudaSuccess;
  std::lock_guard lock(device().mu);
  drain_all();  // cudaFree waits for the device
  Device& d = device();
  const auto it = d.allocations.find(p);
  if (it == d.allocations.end()) return cudaErrorInvalidValue;
  ::munmap(p, it->second);
  d.allocated -= it->second;
  d.allocations.erase(it);
  return cudaSuccess;
}

cudaError_t cudaHostAlloc(void** p, size_t bytes, unsigned) {
  *p = std::aligned_alloc(4096, (bytes + 4095) / 4096 * 4096);
  if (!*p) return cudaErrorMemoryAllocation;
  poison(*p, bytes);
  return cudaSuccess;
}
cudaError_t cudaMallocHost(void** p, size_t bytes) {
  return cudaHostAlloc(p, bytes, 0);
}
cudaError_t cudaFreeHost(void* p) {
  std::lock_guard lock(device().mu);
  drain_all();  // queued copies may still read or write it
  std::free(p);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind, cudaStream_t stream) {
  if (bytes && (!dst || !src)) return cudaErrorInvalidValue;
  enqueue(stream, [dst, src, bytes] { std::memmove(dst, src, bytes); });
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t stream) {
  if (bytes && !p) return cudaErrorInvalidValue;
  enqueue(stream, [p, value, bytes] { std::memset(p, value, bytes); });
  return cudaSuccess;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned) {
  std::lock_guard lock(device().mu);
  *s = new EmuStream;
  device().streams.insert(*s);
  return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t s) {
  std::lock_guard lock(device().mu);
  if (!s || !device().streams.count(s)) return cudaErrorInvalidValue;
  drain(*s);  // queued work still completes, as on a GPU
  device().streams.erase(s);
  delete s;
  return take_error();
}

cudaError_t cudaStreamSynchronize(cudaStream_t s) {
  std::lock_guard lock(device().mu);
  drain(*resolve(s));
  return take_error();
}

cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned) {
  if (!e) return cudaErrorInvalidValue;
  std::lock_guard lock(device().mu);
  Entry entry;
  entry.wait = e;
  entry.generation = e->recorded;  // the newest record at the time of the call (none: no wait)
  entry.wait_stream = e->stream;   // a later record on another stream must not stand in for this one
  resolve(s)->queue.push_back(std::move(entry));
  return cudaSuccess;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned) {
  *e = new EmuEvent;
  return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t e) {
  std::lock_guard lock(device().mu);
  // Entries that still name the event complete first (cudaEventDestroy may be called while it is pending).
  for (EmuStream* s : device().streams)
    for (const Entry& x : s->queue)
      if (x.record == e || x.wait == e) {
        drain_all();
        break;
      }
  delete e;
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
  if (!e) return cudaErrorInvalidValue;
  std::lock_guard lock(device().mu);
  Entry entry;
  entry.record = e;
  entry.generation = ++e->recorded;
  e->stream = resolve(s);
  e->stream->queue.push_back(std::move(entry));
  return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t e) {
  std::lock_guard lock(device().mu);
  run_until(*e, e->recorded, e->stream);
  return take_error();
}

// Not ready while the event's record has not run; each query runs one entry of its stream, so a polling loop
// still makes progress on this device that only works when asked.
cudaError_t cudaEventQuery(cudaEvent_t e) {
  std::lock_guard lock(device().mu);
  if (e->completed >= e->recorded) return take_error();
  if (e->stream && !e->stream->queue.empty()) run_front(*e->stream);
  return cudaErrorNotReady;
}

cudaError_t cudaDeviceSynchronize() {
  std::lock_guard lock(device().mu);
  drain_all();
  return take_error();
}

}  // namespace strata::cuda_emu
