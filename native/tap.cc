// nanoshare_tap: the one piece of C++ in nanoshare (with netlink.cc: the host's links through
// rtnetlink). Here, two small Node-API classes:
//   Tap     - a Linux TAP device (IFF_TAP | IFF_NO_PI), non-blocking, read in batches from a
//             uv_poll_t on the main loop (no thread-pool read per frame), written synchronously.
//             Frames are read straight into a receive buffer that JavaScript owns and hands in
//             (setRxBuffer), at the offset JavaScript keeps in a shared Uint32Array; their lengths
//             go into another shared Uint32Array and the callback gets only the count. So a batch
//             crosses into JavaScript with no copy, no ArrayBuffer and no object made here.
//             Opened with vnetHdr, every frame carries a struct virtio_net_hdr (IFF_VNET_HDR), so
//             writeGso can hand the kernel one TCP super-segment for it to cut at gso_size (TSO:
//             one write for up to 64 KiB instead of one per 1.5 KiB frame). Reads never carry GSO
//             or partial checksums: the offloads are cleared at open (TUNSETOFFLOAD 0), so the
//             kernel finishes frames first.
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
#include <sys/uio.h>
#include <unistd.h>

#include "common.h"

namespace {

using nanoshare::MakeErrnoError;
using nanoshare::MakeError;
using nanoshare::ReportUncaught;
using nanoshare::StartPoll;
using nanoshare::StopPollAndClose;

constexpr uint32_t kMaxBatch = 64;               // frames per onFrames call; the rest wait a loop turn
constexpr size_t kMaxIfName = IFNAMSIZ - 1;      // 15 characters plus the NUL

// struct virtio_net_hdr (linux/virtio_net.h), little-endian as TAP uses it on little-endian hosts
// (TUNSETVNETLE is not needed there; on big-endian hosts vnetHdr is refused).
constexpr size_t kVnetHdrLen = 10;
constexpr uint8_t kVnetNeedsCsum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
constexpr uint8_t kVnetGsoTcpv4 = 1;   // VIRTIO_NET_HDR_GSO_TCPV4
constexpr uint32_t kMaxGsoSegments = 64;  // TSO_MAX_SEGMENTS in src/link/tso.ts

void PutLe16(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}

// Opens /dev/net/tun and attaches it to TAP `name`; returns the fd or throws. Leaks nothing on error.
int OpenTap(Napi::Env env, const std::string& name, bool vnetHdr, std::string* actual) {
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
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnetHdr ? IFF_VNET_HDR : 0);
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
  // A persistent TAP keeps the offloads its last owner asked for (QEMU sets CSUM and TSO): then
  // the kernel would hand us partial checksums and GSO frames, which this reader does not take.
  // No offloads: every frame read is whole and checksummed. (Writes may still carry GSO.)
  if (ioctl(fd, TUNSETOFFLOAD, 0UL) < 0) {
    int err = errno;
    close(fd);
    throw MakeErrnoError(env, err, "cannot clear the offloads of TAP " + name);
  }
  int hdrLen = static_cast<int>(kVnetHdrLen);
  if (vnetHdr && ioctl(fd, TUNSETVNETHDRSZ, &hdrLen) < 0) {
    int err = errno;
    close(fd);
    throw MakeErrnoError(env, err, "cannot set the virtio-net header size of TAP " + name);
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
                           InstanceAccessor<&Tap::GetVnetHdr>("vnetHdr"),
                           InstanceMethod<&Tap::WriteGso>("writeGso"),
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
        "rxLengths: Uint32Array(64), rxState: Uint32Array(1), readMax: number, vnetHdr?: boolean)";
    if (info.Length() < 6 || !info[0].IsString() || !info[1].IsFunction() || !info[2].IsFunction() ||
        !IsU32Array(info[3], kMaxBatch) || !IsU32Array(info[4], 1) || !info[5].IsNumber()) {
      throw Napi::TypeError::New(env, usage);
    }
    double readMax = info[5].As<Napi::Number>().DoubleValue();
    if (!(readMax >= 14 && readMax <= 65536 + 64)) throw Napi::RangeError::New(env, "Tap: readMax out of range");
    readMax_ = static_cast<size_t>(readMax);
    vnetHdr_ = info.Length() > 6 && info[6].ToBoolean().Value();
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
    vnetHdr_ = false;  // the header's fields would need TUNSETVNETBE; keep big-endian hosts on plain frames
#endif
    fd_ = OpenTap(env, info[0].As<Napi::String>().Utf8Value(), vnetHdr_, &name_);

    poll_ = StartPoll(env, fd_, this, OnReadable, /*unref=*/false, std::string("TAP ") + name_);
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
  Napi::Value GetVnetHdr(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), vnetHdr_); }

  // One write of `len` bytes at `data`, behind `hdr` when the TAP carries virtio-net headers.
  // Returns 1 written, 0 dropped (queue full, device down, closed); throws on anything unexpected.
  int WriteRaw(Napi::Env env, const uint8_t* hdr, const uint8_t* data, size_t len) {
    struct iovec iov[2] = {{const_cast<uint8_t*>(hdr), kVnetHdrLen}, {const_cast<uint8_t*>(data), len}};
    return vnetHdr_ ? WriteIov(env, iov, 2, kVnetHdrLen + len) : WriteIov(env, iov + 1, 1, len);
  }

  // One writev of iov[0..n), `want` bytes in all: 1 written whole, 0 dropped, throws otherwise.
  int WriteIov(Napi::Env env, const struct iovec* iov, int n, size_t want) {
    if (fd_ < 0) return 0;
    for (;;) {
      ssize_t w = writev(fd_, iov, n);
      if (w >= 0) return static_cast<size_t>(w) == want ? 1 : 0;
      int err = errno;
      if (err == EINTR) continue;
      // EIO: the interface is down (tun_get_user), which is ordinary before the host ups it.
      if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS || err == EIO) return 0;
      throw MakeErrnoError(env, err, "write to TAP " + name_);
    }
  }

  // writeGso(head, hdrLen, segments, count, gsoSize): one IPv4 TCP super-segment, written with one
  // writev and no copy: head[0..hdrLen) are the headers (Ethernet to TCP options) of the first
  // segment with the IPv4 total length and header checksum of the whole and the TCP checksum
  // field holding the pseudo-header sum; then the payload of each of segments[0..count) (its
  // bytes past hdrLen). The kernel cuts it into segments of gsoSize payload bytes, each with its
  // own sequence number, IPv4 ident and checksums (tcp_gso_segment). Needs vnetHdr.
  Napi::Value WriteGso(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const char* usage = "Tap.writeGso(head: Uint8Array, hdrLen: number, segments: Uint8Array[], count: number, gsoSize: number)";
    if (!vnetHdr_) throw MakeError(env, "EINVAL", "Tap.writeGso: TAP " + name_ + " was opened without vnetHdr");
    if (info.Length() < 5 || !info[0].IsTypedArray() ||
        info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array || !info[1].IsNumber() ||
        !info[2].IsArray() || !info[3].IsNumber() || !info[4].IsNumber()) {
      throw Napi::TypeError::New(env, usage);
    }
    Napi::Uint8Array head = info[0].As<Napi::Uint8Array>();
    uint32_t hdrLen = info[1].As<Napi::Number>().Uint32Value();
    Napi::Array segments = info[2].As<Napi::Array>();
    uint32_t count = info[3].As<Napi::Number>().Uint32Value();
    uint32_t gsoSize = info[4].As<Napi::Number>().Uint32Value();
    constexpr uint32_t kCsumStart = 14 + 20;  // Ethernet, then an IPv4 header without options
    if (hdrLen < kCsumStart + 20 || hdrLen > head.ByteLength() || count < 1 || count > kMaxGsoSegments ||
        count > segments.Length() || gsoSize == 0 || gsoSize > 0xffff) {
      throw Napi::RangeError::New(env, "Tap.writeGso: hdrLen, count or gsoSize out of range");
    }
    uint8_t hdr[kVnetHdrLen];
    hdr[0] = kVnetNeedsCsum;
    hdr[1] = kVnetGsoTcpv4;
    PutLe16(hdr + 2, hdrLen);
    PutLe16(hdr + 4, gsoSize);
    PutLe16(hdr + 6, kCsumStart);
    PutLe16(hdr + 8, 16);  // offsetof(struct tcphdr, check)
    struct iovec iov[kMaxGsoSegments + 2];
    iov[0] = {hdr, kVnetHdrLen};
    iov[1] = {head.Data(), hdrLen};
    size_t want = kVnetHdrLen + hdrLen;
    for (uint32_t i = 0; i < count; i++) {
      Napi::Value v = segments.Get(i);
      if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
          v.As<Napi::Uint8Array>().ByteLength() <= hdrLen) {
        throw Napi::TypeError::New(env, "Tap.writeGso: segments[" + std::to_string(i) + "] is not a Uint8Array longer than hdrLen");
      }
      Napi::Uint8Array seg = v.As<Napi::Uint8Array>();
      iov[i + 2] = {seg.Data() + hdrLen, seg.ByteLength() - hdrLen};
      want += seg.ByteLength() - hdrLen;
    }
    return Napi::Boolean::New(env, WriteIov(env, iov, static_cast<int>(count) + 2, want) == 1);
  }

  // Returns 1 written, 0 dropped (queue full, device down, closed); throws on anything unexpected.
  int WriteOne(Napi::Env env, Napi::Value v) {
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      throw Napi::TypeError::New(env, "Tap.write: frame must be a Uint8Array");
    }
    Napi::Uint8Array frame = v.As<Napi::Uint8Array>();
    static const uint8_t kPlain[kVnetHdrLen] = {0};  // no offload: the frame is complete
    return WriteRaw(env, kPlain, frame.Data(), frame.ByteLength());
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
      ssize_t n;
      if (vnetHdr_) {
        // The header is dropped: without TUNSETOFFLOAD the kernel never sends GSO frames or
        // partial checksums to a TAP, so it says nothing the frame does not.
        uint8_t hdr[kVnetHdrLen];
        struct iovec iov[2] = {{hdr, kVnetHdrLen}, {rx_ + off, readMax_}};
        n = readv(fd_, iov, 2);
        // A header and no frame (never seen) counts as no frame: the poll fires again if more wait.
        if (n >= 0) n = n > static_cast<ssize_t>(kVnetHdrLen) ? n - static_cast<ssize_t>(kVnetHdrLen) : 0;
      } else {
        n = read(fd_, rx_ + off, readMax_);
      }
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
  bool vnetHdr_ = false;
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

    poll_ = StartPoll(env, fd_, this, OnExpired, /*unref=*/true, "timerfd");  // a disarmed timer does not hold the loop
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
  nanoshare::InitNetlink(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(nanoshare_tap, InitModule)
