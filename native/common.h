// Helpers the addon's classes share (tap.cc: Tap, HrTimer; netlink.cc: the host's links).
#pragma once
#include <napi.h>
#include <uv.h>

#include <cstring>
#include <string>

#include <unistd.h>

namespace nanoshare {

inline std::string ErrnoName(int err) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  const char* name = strerrorname_np(err);
  if (name != nullptr) return name;
#endif
  return "ERRNO_" + std::to_string(err);
}

inline Napi::Error MakeError(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Value().Set("code", Napi::String::New(env, code));
  return e;
}

inline Napi::Error MakeErrnoError(Napi::Env env, int err, const std::string& what) {
  Napi::Error e = MakeError(env, ErrnoName(err), what + ": " + std::strerror(err));
  e.Value().Set("errno", Napi::Number::New(env, err));
  return e;
}

// In a libuv callback there is no JS caller to throw to: report as an uncaught exception.
inline void ReportUncaught(Napi::Env env, const Napi::Error& e) {
  napi_fatal_exception(env, e.Value());
}

inline void CloseAndFree(uv_poll_t* handle) {
  handle->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(handle),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
}

// Stop watching `fd`, free the poll handle (asynchronously, as libuv requires) and close the fd.
// Idempotent: both are reset, so a second call does nothing.
inline void StopPollAndClose(uv_poll_t*& poll, int& fd) {
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

// Polls `fd` for reading on the environment's loop: `cb` gets the handle, whose data is `data`. An
// `unref`ed handle does not hold the loop. On failure `fd` is closed and set to -1, and an EUV
// error naming `what` is thrown.
inline uv_poll_t* StartPoll(Napi::Env env, int& fd, void* data, uv_poll_cb cb, bool unref, const std::string& what) {
  uv_loop_t* loop = nullptr;
  int rc = napi_get_uv_event_loop(env, &loop) == napi_ok ? 0 : UV_EINVAL;
  auto* poll = new uv_poll_t;
  if (rc == 0) rc = uv_poll_init(loop, poll, fd);
  if (rc == 0) {
    poll->data = data;
    rc = uv_poll_start(poll, UV_READABLE, cb);
    if (rc == 0) {
      if (unref) uv_unref(reinterpret_cast<uv_handle_t*>(poll));
      return poll;
    }
    CloseAndFree(poll);
  } else {
    delete poll;
  }
  close(fd);
  fd = -1;
  throw MakeError(env, "EUV", "cannot poll " + what + ": " + uv_strerror(rc));
}

// netlink.cc: linkKind, linkSet, addrReplace and the LinkMonitor class, onto the addon's exports.
void InitNetlink(Napi::Env env, Napi::Object exports);

}  // namespace nanoshare
