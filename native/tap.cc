// nanoshare_tap: the one piece of C++ in nanoshare. Two small Node-API classes:
//   Tap     - a Linux TAP device (IFF_TAP | IFF_NO_PI), non-blocking, read in batches from a
//             uv_poll_t on the main loop (no thread-pool read per frame), written synchronously.
//             Frames are read straight into a receive buffer that JavaScript owns and hands in
//             (setRxBuffer), at the offset JavaScript keeps in a shared Uint32Array; their lengths
//             go into another shared Uint32Array and the callback gets only the count. So a batch
//             crosses into JavaScript with no copy, no ArrayBuffer and no object made here.
//   HrTimer - a one-shot CLOCK_MONOTONIC timerfd on the main loop, for sub-millisecond deadlines.
// Each libuv handle lives on the heap and frees itself in its close callback, so a JS object
// can be collected (or closed from inside its own callback) while libuv still owns the handle.
#include <napi.h>
#include <uv.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <string>

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <unistd.h>

namespace {

constexpr uint32_t kMaxBatch = 64;               // frames per onFrames call; the rest wait a loop turn
constexpr size_t kMaxIfName = IFNAMSIZ - 1;      // 15 characters plus the NUL

std::string ErrnoName(int err) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  const char* name = strerrorname_np(err);
  if (name != nullptr) return name;
#endif
  return "ERRNO_" + std::to_string(err);
}

Napi::Error MakeError(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Value().Set("code", Napi::String::New(env, code));
  return e;
}

Napi::Error MakeErrnoError(Napi::Env env, int err, const std::string& what) {
  Napi::Error e = MakeError(env, ErrnoName(err), what + ": " + std::strerror(err));
  e.Value().Set("errno", Napi::Number::New(env, err));
  return e;
}

// In a libuv callback there is no JS caller to throw to: report as an uncaught exception.
void ReportUncaught(Napi::Env env, const Napi::Error& e) {
  napi_fatal_exception(env, e.Value());
}

void CloseAndFree(uv_poll_t* handle) {
  handle->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(handle),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
}

// Stop watching `fd`, free the poll handle (asynchronously, as libuv requires) and close the fd.
// Idempotent: both are reset, so a second call does nothing.
static void StopPollAndClose(uv_poll_t*& poll, int& fd) {
  if (poll != nullptr) {
    uv_poll_stop(poll);
    CloseAndFree(poll);
    poll = nullptr;
  }
  if (fd >= 0) {
    close(fd);
    fd = -1;
  }
}

// Opens /dev/net/tun and attaches it to TAP `name`; returns the fd or throws. Leaks nothing on error.
int OpenTap(Napi::Env env, const std::string& name, std::string* actual) {
  if (name.size() > kMaxIfName) {
    throw MakeError(env, "ENAMETOOLONG",
                    "TAP name \"" + name + "\" is too long: Linux allows at most " +
                        std::to_string(kMaxIfName) + " characters");
  }
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT || err == ENODEV || err == ENXIO) {
      throw MakeError(env, "ENOTUN",
                      "no /dev/net/tun: load the tun module, or in Docker pass --device /dev/net/tun");
    }
    if (err == EPERM || err == EACCES) {
      throw MakeError(env, "EPERM",
                      "cannot create TAP " + name +
                          ": permission denied: run as root or with --cap-add NET_ADMIN --device /dev/net/tun");
    }
    throw MakeErrnoError(env, err, "cannot open /dev/net/tun for TAP " + name);
  }
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    if (err == EPERM || err == EACCES) {
      // The device opened, so what is missing is the capability, not the device.
      throw MakeError(env, "EPERM",
                      "cannot create TAP " + name +
                          ": permission denied: it needs CAP_NET_ADMIN: run as root, or in Docker add --cap-add NET_ADMIN");
    }
    if (err == EBUSY) {
      throw MakeError(env, "EBUSY", "TAP " + name + " is busy: another process has it open");
    }
    if (err == EINVAL) {
      throw MakeErrnoError(env, err,
                           "cannot create TAP " + name + " (is it a non-TAP interface, or an invalid name?)");
    }
    throw MakeErrnoError(env, err, "cannot create TAP " + name);
  }
  actual->assign(ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ));
  return fd;
}

uint64_t MonotonicNowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

bool IsU32Array(Napi::Value v, size_t minLength) {
  return v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_uint32_array &&
         v.As<Napi::TypedArray>().ElementLength() >= minLength;
}

// ---------------------------------------------------------------------------------------------

class Tap : public Napi::ObjectWrap<Tap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Tap",
                       {
                           InstanceAccessor<&Tap::GetName>("name"),
                           InstanceMethod<&Tap::Write>("write"),
                           InstanceMethod<&Tap::WriteBatch>("writeBatch"),
                           InstanceMethod<&Tap::SetRxBuffer>("setRxBuffer"),
                           InstanceMethod<&Tap::Close>("close"),
                       });
  }

  explicit Tap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Tap>(info), ctx_(info.Env(), "nanoshare:tap") {
    Napi::Env env = info.Env();
    const char* usage =
        "new Tap(name: string, onFrames: (count: number) => void, onError: (err) => void, "
        "rxLengths: Uint32Array(64), rxState: Uint32Array(1), readMax: number)";
    if (info.Length() < 6 || !info[0].IsString() || !info[1].IsFunction() || !info[2].IsFunction() ||
        !IsU32Array(info[3], kMaxBatch) || !IsU32Array(info[4], 1) || !info[5].IsNumber()) {
      throw Napi::TypeError::New(env, usage);
    }
    double readMax = info[5].As<Napi::Number>().DoubleValue();
    if (!(readMax >= 14 && readMax <= 65536 + 64)) throw Napi::RangeError::New(env, "Tap: readMax out of range");
    readMax_ = static_cast<size_t>(readMax);
    fd_ = OpenTap(env, info[0].As<Napi::String>().Utf8Value(), &name_);

    uv_loop_t* loop = nullptr;
    int rc = napi_get_uv_event_loop(env, &loop) == napi_ok ? 0 : UV_EINVAL;
    poll_ = new uv_poll_t;
    if (rc == 0) rc = uv_poll_init(loop, poll_, fd_);
    if (rc == 0) {
      poll_->data = this;
      rc = uv_poll_start(poll_, UV_READABLE, OnReadable);
      if (rc != 0) CloseAndFree(poll_);
    } else {
      delete poll_;
    }
    if (rc != 0) {
      poll_ = nullptr;
      close(fd_);
      fd_ = -1;
      throw MakeError(env, "EUV", std::string("cannot poll TAP ") + name_ + ": " + uv_strerror(rc));
    }
    onFrames_ = Napi::Persistent(info[1].As<Napi::Function>());
    onError_ = Napi::Persistent(info[2].As<Napi::Function>());
    Napi::Uint32Array lengths = info[3].As<Napi::Uint32Array>();
    Napi::Uint32Array state = info[4].As<Napi::Uint32Array>();
    lengthsRef_ = Napi::Persistent(lengths);
    stateRef_ = Napi::Persistent(state);
    lengths_ = lengths.Data();
    state_ = state.Data();
    Ref();  // an open Tap stays alive (and keeps the loop alive) until close()
  }

  // Only reached once unreferenced (after close) or at environment teardown: no Ref/Unref here.
  ~Tap() override {
    referenced_ = false;
    Release();
  }

 private:
  Napi::Value GetName(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), name_); }

  // Returns 1 written, 0 dropped (queue full, device down, closed); throws on anything unexpected.
  int WriteOne(Napi::Env env, Napi::Value v) {
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      throw Napi::TypeError::New(env, "Tap.write: frame must be a Uint8Array");
    }
    if (fd_ < 0) return 0;
    Napi::Uint8Array frame = v.As<Napi::Uint8Array>();
    for (;;) {
      ssize_t n = write(fd_, frame.Data(), frame.ByteLength());
      if (n >= 0) return static_cast<size_t>(n) == frame.ByteLength() ? 1 : 0;
      int err = errno;
      if (err == EINTR) continue;
      // EIO: the interface is down (tun_get_user), which is ordinary before the host ups it.
      if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS || err == EIO) return 0;
      throw MakeErrnoError(env, err, "write to TAP " + name_);
    }
  }

  Napi::Value Write(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), WriteOne(info.Env(), info[0]) == 1);
  }

  // Writes frames in order and stops at the first one the kernel does not take; returns how many went.
  Napi::Value WriteBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsArray()) throw Napi::TypeError::New(env, "Tap.writeBatch: frames must be an array");
    Napi::Array frames = info[0].As<Napi::Array>();
    uint32_t written = 0;
    for (uint32_t i = 0, n = frames.Length(); i < n; i++) {
      if (WriteOne(env, frames.Get(i)) == 0) break;
      written++;
    }
    return Napi::Number::New(env, written);
  }

  // setRxBuffer(buf: Uint8Array): where the next frames are read, from byte rxState[0] on. The
  // buffer is JavaScript's; holding a reference keeps its (non-moving) backing store alive here.
  Napi::Value SetRxBuffer(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      throw Napi::TypeError::New(env, "Tap.setRxBuffer: buf must be a Uint8Array");
    }
    Napi::Uint8Array buf = info[0].As<Napi::Uint8Array>();
    rxRef_ = Napi::Persistent(buf);
    rx_ = buf.Data();
    rxLen_ = buf.ByteLength();
    return env.Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Release();
    return info.Env().Undefined();
  }

  void Release() {
    StopPollAndClose(poll_, fd_);
    if (!rxRef_.IsEmpty()) rxRef_.Reset();
    if (!lengthsRef_.IsEmpty()) lengthsRef_.Reset();
    if (!stateRef_.IsEmpty()) stateRef_.Reset();
    rx_ = nullptr;
    rxLen_ = 0;
    if (!onFrames_.IsEmpty()) onFrames_.Reset();
    if (!onError_.IsEmpty()) onError_.Reset();
    if (referenced_) {
      referenced_ = false;
      Unref();
    }
  }

  static void OnReadable(uv_poll_t* handle, int status, int /*events*/) {
    Tap* self = static_cast<Tap*>(handle->data);
    if (self != nullptr) self->Drain(status);
  }

  void Drain(int status) {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Napi::Object receiver = Value();  // a local handle keeps the object alive if a callback closes it
    int readErr = 0;
    if (status < 0) {
      readErr = -status;  // libuv status is a negated errno on Linux
    }
    // Each frame is read in place at rxState[0] (8-byte aligned steps) while a whole frame of
    // readMax bytes still fits; JavaScript moves on past what it was given and swaps in a fresh
    // buffer when this one is full, so a frame it was handed is never written again. A frame
    // longer than readMax - 1 arrives cut to readMax bytes, which the NIC counts as oversize.
    uint32_t count = 0;
    size_t off = state_[0];
    while (readErr == 0 && count < kMaxBatch && rx_ != nullptr && off <= rxLen_ && rxLen_ - off >= readMax_) {
      ssize_t n = read(fd_, rx_ + off, readMax_);
      if (n > 0) {
        lengths_[count++] = static_cast<uint32_t>(n);
        off += (static_cast<size_t>(n) + 7) & ~static_cast<size_t>(7);
      } else if (n == 0) {
        break;
      } else if (errno == EINTR) {
        continue;
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        break;
      } else {
        readErr = errno;
      }
    }
    try {
      if (count > 0 && !onFrames_.IsEmpty()) {
        onFrames_.MakeCallback(receiver, {Napi::Number::New(env, count)}, ctx_);
      }
      if (readErr != 0 && fd_ >= 0) {
        // A device that went away (deleted: EBADF; detached: EBADFD) stays unreadable: stop polling
        // instead of spinning. The Tap then no longer holds the loop; close() is still the owner's job.
        bool gone = readErr == EBADF || readErr == EBADFD || readErr == EIO || readErr == ENODEV || readErr == ENXIO ||
                    readErr == EINVAL || readErr == EFAULT;
        if (gone && poll_ != nullptr) uv_poll_stop(poll_);
        Napi::Error e = MakeErrnoError(env, readErr, "read from TAP " + name_ + (gone ? " (receive stopped)" : ""));
        if (!onError_.IsEmpty()) onError_.MakeCallback(receiver, {e.Value()}, ctx_);
      }
    } catch (const Napi::Error& e) {
      ReportUncaught(env, e);
    }
  }

  Napi::AsyncContext ctx_;
  std::string name_;
  int fd_ = -1;
  uv_poll_t* poll_ = nullptr;
  bool referenced_ = true;
  Napi::FunctionReference onFrames_;
  Napi::FunctionReference onError_;
  Napi::Reference<Napi::Uint32Array> lengthsRef_;
  Napi::Reference<Napi::Uint32Array> stateRef_;
  Napi::Reference<Napi::Uint8Array> rxRef_;
  uint32_t* lengths_ = nullptr;  // [kMaxBatch]: lengths of the frames of one callback
  uint32_t* state_ = nullptr;    // [0]: byte offset in the receive buffer where the next frame goes
  uint8_t* rx_ = nullptr;
  size_t rxLen_ = 0;
  size_t readMax_ = 0;
};

// ---------------------------------------------------------------------------------------------

class HrTimer : public Napi::ObjectWrap<HrTimer> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "HrTimer",
                       {
                           InstanceMethod<&HrTimer::Arm>("arm"),
                           InstanceMethod<&HrTimer::ArmUs>("armUs"),
                           InstanceMethod<&HrTimer::Disarm>("disarm"),
                           InstanceMethod<&HrTimer::Close>("close"),
                       });
  }

  explicit HrTimer(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<HrTimer>(info), ctx_(info.Env(), "nanoshare:hrtimer") {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsFunction()) {
      throw Napi::TypeError::New(env, "new HrTimer(callback: () => void)");
    }
    fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (fd_ < 0) throw MakeErrnoError(env, errno, "timerfd_create");

    uv_loop_t* loop = nullptr;
    int rc = napi_get_uv_event_loop(env, &loop) == napi_ok ? 0 : UV_EINVAL;
    poll_ = new uv_poll_t;
    if (rc == 0) rc = uv_poll_init(loop, poll_, fd_);
    if (rc == 0) {
      poll_->data = this;
      rc = uv_poll_start(poll_, UV_READABLE, OnExpired);
      if (rc == 0) {
        uv_unref(reinterpret_cast<uv_handle_t*>(poll_));  // a disarmed timer does not hold the loop
      } else {
        CloseAndFree(poll_);
      }
    } else {
      delete poll_;
    }
    if (rc != 0) {
      poll_ = nullptr;
      close(fd_);
      fd_ = -1;
      throw MakeError(env, "EUV", std::string("cannot poll timerfd: ") + uv_strerror(rc));
    }
    callback_ = Napi::Persistent(info[0].As<Napi::Function>());
  }

  // Only reached when disarmed or at environment teardown: no Ref/Unref here.
  ~HrTimer() override {
    tearingDown_ = true;
    Release();
  }

 private:
  // arm(deadlineNs: bigint): absolute CLOCK_MONOTONIC (process.hrtime.bigint()); replaces any earlier deadline.
  Napi::Value Arm(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsBigInt()) throw Napi::TypeError::New(env, "HrTimer.arm: deadlineNs must be a bigint");
    bool lossless = false;
    int64_t deadline = info[0].As<Napi::BigInt>().Int64Value(&lossless);
    if (!lossless && deadline > 0) deadline = INT64_MAX;
    return ArmAt(env, deadline);
  }

  // armUs(deadlineUs: number): the same deadline as absolute CLOCK_MONOTONIC microseconds in a
  // double, so the clock's hot path allocates no BigInt per re-arm (a double holds microseconds
  // exactly for 285 years of uptime).
  Napi::Value ArmUs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "HrTimer.armUs: deadlineUs must be a number");
    double us = info[0].As<Napi::Number>().DoubleValue();
    int64_t deadline;
    if (!(us > 0)) {
      deadline = 1;  // NaN or in the past: fire now
    } else if (us >= 9.2e15) {
      deadline = INT64_MAX;
    } else {
      deadline = static_cast<int64_t>(std::ceil(us * 1000.0));
    }
    return ArmAt(env, deadline);
  }

  Napi::Value ArmAt(Napi::Env env, int64_t deadline) {
    if (fd_ < 0) throw MakeError(env, "ECLOSED", "HrTimer.arm: the timer is closed");
    if (deadline <= 0) deadline = 1;  // an all-zero it_value would disarm instead of firing now
    struct itimerspec spec;
    std::memset(&spec, 0, sizeof spec);
    spec.it_value.tv_sec = static_cast<time_t>(deadline / 1000000000);
    spec.it_value.tv_nsec = static_cast<long>(deadline % 1000000000);
    if (timerfd_settime(fd_, TFD_TIMER_ABSTIME, &spec, nullptr) < 0) {
      throw MakeErrnoError(env, errno, "timerfd_settime");
    }
    deadline_ = static_cast<uint64_t>(deadline);
    SetArmed(true);
    return env.Undefined();
  }

  Napi::Value Disarm(const Napi::CallbackInfo& info) {
    if (fd_ >= 0) {
      struct itimerspec spec;
      std::memset(&spec, 0, sizeof spec);
      timerfd_settime(fd_, 0, &spec, nullptr);
    }
    SetArmed(false);
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Release();
    return info.Env().Undefined();
  }

  // Armed: the handle holds the loop and the JS object stays alive. Disarmed: neither.
  void SetArmed(bool armed) {
    if (armed == armed_) return;
    armed_ = armed;
    if (poll_ != nullptr) {
      if (armed) {
        uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
      } else {
        uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
      }
    }
    if (tearingDown_) return;
    if (armed) {
      Ref();
    } else {
      Unref();
    }
  }

  void Release() {
    SetArmed(false);
    StopPollAndClose(poll_, fd_);
    if (!callback_.IsEmpty()) callback_.Reset();
  }

  static void OnExpired(uv_poll_t* handle, int /*status*/, int /*events*/) {
    HrTimer* self = static_cast<HrTimer*>(handle->data);
    if (self != nullptr) self->Expired();
  }

  void Expired() {
    uint64_t expirations = 0;
    ssize_t n = read(fd_, &expirations, sizeof expirations);
    if (n != static_cast<ssize_t>(sizeof expirations)) return;  // EAGAIN: re-armed or disarmed meanwhile
    // A stale readiness from before a re-arm must not fire the new, later deadline early.
    if (!armed_ || MonotonicNowNs() < deadline_) return;
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Napi::Object receiver = Value();  // a local handle keeps the object alive past SetArmed's Unref
    SetArmed(false);
    try {
      if (!callback_.IsEmpty()) callback_.MakeCallback(receiver, {}, ctx_);
    } catch (const Napi::Error& e) {
      ReportUncaught(env, e);
    }
  }

  Napi::AsyncContext ctx_;
  int fd_ = -1;
  uv_poll_t* poll_ = nullptr;
  bool armed_ = false;
  bool tearingDown_ = false;
  uint64_t deadline_ = 0;
  Napi::FunctionReference callback_;
};

Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  exports.Set("Tap", Tap::Init(env));
  exports.Set("HrTimer", HrTimer::Init(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(nanoshare_tap, InitModule)
