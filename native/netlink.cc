// The host's links through rtnetlink, in this process's network namespace: what `ip` sends, with
// no fork and exec of `ip` on the way to the first reply (issue 8). Each call is one request and
// its answer on a fresh NETLINK_ROUTE socket (blocking, with a 5 s receive timeout: the kernel
// answers at once, a timeout means something is badly wrong); LinkMonitor is one socket on the
// main loop that calls back once per batch of link events, as `ip monitor link` would print them.
//   linkKind(name)                      the link's kind as `ip -d link show` names it (IFLA_INFO_KIND:
//                                       "bridge", "tun", "veth"...), "" for one without (a physical
//                                       NIC, lo), null when there is no such link
//   linkMaster(name)                    the name of the link's master ("" for none), null as above
//   linkSet(name, mtu, master, up)      `ip link set dev NAME [mtu N] [master M] [up]` as one
//                                       RTM_NEWLINK (the kernel sets the MTU, then the master, then
//                                       the flags); mtu 0 and master "" leave those alone
//   addrReplace(name, addr, prefixLen)  `ip addr replace A/P dev NAME` for an IPv4 address (u32)
// A refusal throws an Error whose code is the errno's name and whose message is what `ip` would
// print: the kernel's extended ack message if it gave one ("Error: ..."), else "RTNETLINK
// answers: <strerror>".
#include <napi.h>
#include <uv.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common.h"

namespace nanoshare {
namespace {

// One request under construction: a header, a fixed part, then attributes (NLA alignment kept).
struct Request {
  alignas(NLMSG_ALIGNTO) uint8_t buf[512];
  nlmsghdr* hdr() { return reinterpret_cast<nlmsghdr*>(buf); }

  Request(uint16_t type, uint16_t flags, const void* body, size_t bodyLen) {
    std::memset(buf, 0, sizeof buf);
    hdr()->nlmsg_type = type;
    hdr()->nlmsg_flags = NLM_F_REQUEST | flags;
    hdr()->nlmsg_len = NLMSG_LENGTH(bodyLen);
    std::memcpy(NLMSG_DATA(hdr()), body, bodyLen);
  }

  // Throws (a caller's bug, never the wire's) when the attribute does not fit.
  void Attr(Napi::Env env, uint16_t type, const void* data, size_t len) {
    size_t at = NLMSG_ALIGN(hdr()->nlmsg_len);
    if (at + RTA_ALIGN(RTA_LENGTH(len)) > sizeof buf) throw Napi::RangeError::New(env, "netlink request too long");
    auto* rta = reinterpret_cast<rtattr*>(buf + at);
    rta->rta_type = type;
    rta->rta_len = static_cast<uint16_t>(RTA_LENGTH(len));
    std::memcpy(RTA_DATA(rta), data, len);
    hdr()->nlmsg_len = static_cast<uint32_t>(at + RTA_ALIGN(RTA_LENGTH(len)));
  }
  void AttrU32(Napi::Env env, uint16_t type, uint32_t v) { Attr(env, type, &v, sizeof v); }
  void AttrName(Napi::Env env, uint16_t type, const std::string& s) { Attr(env, type, s.c_str(), s.size() + 1); }
};

// A NETLINK_ROUTE socket for one request; closed on scope exit.
class Rtnl {
 public:
  explicit Rtnl(Napi::Env env) : env_(env) {
    fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd_ < 0) throw MakeErrnoError(env, errno, "cannot open a netlink socket");
    int one = 1;
    // Ask for the kernel's own words on a refusal, and do not echo the request back with them.
    setsockopt(fd_, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
    setsockopt(fd_, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~Rtnl() { close(fd_); }
  Rtnl(const Rtnl&) = delete;
  Rtnl& operator=(const Rtnl&) = delete;

  // Sends `req` and reads its answer. Returns 0 with the answer's first message in `reply` (a
  // GET), 0 for a positive ack, or the errno of a refusal with the kernel's message in `why`.
  int Exchange(Request& req, std::string* reply, std::string* why) {
    req.hdr()->nlmsg_seq = 1;
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (sendto(fd_, req.buf, req.hdr()->nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0) {
      throw MakeErrnoError(env_, errno, "netlink send");
    }
    for (;;) {
      // Sized as iproute2 sizes it: peek at the datagram's whole length first, so an answer of
      // any size (a link with many alternative names runs to tens of KiB) is read whole.
      ssize_t n = recv(fd_, nullptr, 0, MSG_PEEK | MSG_TRUNC);
      if (n >= 0) {
        buf_.resize(static_cast<size_t>(n) > buf_.size() ? static_cast<size_t>(n) : buf_.size());
        n = recv(fd_, buf_.data(), buf_.size(), 0);
      }
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          throw MakeError(env_, "ETIMEDOUT", "the kernel did not answer a netlink request within 5 s");
        }
        throw MakeErrnoError(env_, errno, "netlink receive");
      }
      int len = static_cast<int>(n);
      for (auto* h = reinterpret_cast<nlmsghdr*>(buf_.data()); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
        if (h->nlmsg_seq != 1) continue;
        if (h->nlmsg_type == NLMSG_ERROR) {
          if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) return EPROTO;
          auto* e = static_cast<nlmsgerr*>(NLMSG_DATA(h));
          if (e->error != 0) *why = ExtAckMessage(h, e);
          return -e->error;
        }
        if (reply != nullptr) {
          reply->assign(reinterpret_cast<const char*>(h), h->nlmsg_len);
          return 0;
        }
      }
    }
  }

 private:
  // NLMSGERR_ATTR_MSG from the TLVs after the error (NETLINK_CAP_ACK: no request echoed between).
  static std::string ExtAckMessage(nlmsghdr* h, nlmsgerr* e) {
    if (!(h->nlmsg_flags & NLM_F_ACK_TLVS)) return "";
    auto* at = reinterpret_cast<uint8_t*>(e) + sizeof(nlmsgerr);
    int left = static_cast<int>(h->nlmsg_len) - static_cast<int>(NLMSG_LENGTH(sizeof(nlmsgerr)));
    for (auto* rta = reinterpret_cast<rtattr*>(at); RTA_OK(rta, left); rta = RTA_NEXT(rta, left)) {
      if (rta->rta_type == NLMSGERR_ATTR_MSG && RTA_PAYLOAD(rta) > 0) {
        return std::string(static_cast<const char*>(RTA_DATA(rta)), strnlen(static_cast<const char*>(RTA_DATA(rta)), RTA_PAYLOAD(rta)));
      }
    }
    return "";
  }

  Napi::Env env_;
  int fd_;
  std::vector<uint8_t> buf_ = std::vector<uint8_t>(8192);
};

// The error `ip` would print for a refused change: the kernel's message, else RTNETLINK's errno.
Napi::Error Refused(Napi::Env env, int err, const std::string& why) {
  // ip adds the period only where the kernel's message has none.
  std::string text = why.empty() ? std::string("RTNETLINK answers: ") + std::strerror(err) : "Error: " + why + (why.back() == '.' ? "" : ".");
  Napi::Error e = MakeError(env, ErrnoName(err), text);
  e.Value().Set("errno", Napi::Number::New(env, err));
  return e;
}

std::string NameArg(const Napi::CallbackInfo& info, size_t i, const char* usage) {
  if (info.Length() <= i || !info[i].IsString()) throw Napi::TypeError::New(info.Env(), usage);
  std::string s = info[i].As<Napi::String>().Utf8Value();
  if (s.empty() || s.size() >= IFNAMSIZ || s.find('\0') != std::string::npos) {
    throw MakeError(info.Env(), "EINVAL", std::string("\"") + s + "\" is not a valid interface name");
  }
  return s;
}

// A whole-number argument in [lo, hi], or a RangeError naming it (no silent wrap of 2^32 + n, -1, NaN).
uint32_t U32Arg(const Napi::CallbackInfo& info, size_t i, const char* what, double lo, double hi) {
  double v = info[i].As<Napi::Number>().DoubleValue();
  if (!(v >= lo && v <= hi) || v != static_cast<double>(static_cast<uint32_t>(v))) {
    throw Napi::RangeError::New(info.Env(), std::string(what) + " must be a whole number from " + std::to_string(static_cast<uint64_t>(lo)) + " to " + std::to_string(static_cast<uint64_t>(hi)));
  }
  return static_cast<uint32_t>(v);
}

// RTM_GETLINK for `name`: false when there is no such link, else its answer in `reply` (checked
// to be a link message with room for its fixed part).
bool GetLink(Napi::Env env, const std::string& name, std::string* reply) {
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  Request req(RTM_GETLINK, 0, &ifi, sizeof ifi);
  req.AttrName(env, IFLA_IFNAME, name);
  req.AttrU32(env, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  Rtnl nl(env);
  std::string why;
  int err = nl.Exchange(req, reply, &why);
  if (err == ENODEV) return false;
  if (err != 0) throw Refused(env, err, why);
  auto* h = reinterpret_cast<const nlmsghdr*>(reply->data());
  if (reply->size() < sizeof(nlmsghdr) || h->nlmsg_type != RTM_NEWLINK || h->nlmsg_len < NLMSG_LENGTH(sizeof(ifinfomsg))) {
    throw MakeError(env, "EPROTO", "link " + name + ": the kernel's answer is not a link");
  }
  return true;
}

// Calls fn(rta) for each top-level attribute of a GetLink answer until it returns true.
template <typename Fn>
void EachLinkAttr(const std::string& reply, Fn fn) {
  auto* h = reinterpret_cast<const nlmsghdr*>(reply.data());
  int left = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(sizeof(ifinfomsg)));
  auto* rta = reinterpret_cast<const rtattr*>(static_cast<const uint8_t*>(NLMSG_DATA(h)) + NLMSG_ALIGN(sizeof(ifinfomsg)));
  for (; RTA_OK(rta, left); rta = RTA_NEXT(rta, left)) {
    if (fn(rta)) return;
  }
}

Napi::Value LinkKind(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = NameArg(info, 0, "linkKind(name: string)");
  std::string reply;
  if (!GetLink(env, name, &reply)) return env.Null();
  std::string kind;
  EachLinkAttr(reply, [&](const rtattr* rta) {
    if (rta->rta_type != IFLA_LINKINFO) return false;
    int inner = static_cast<int>(RTA_PAYLOAD(rta));
    for (auto* i = static_cast<const rtattr*>(RTA_DATA(rta)); RTA_OK(i, inner); i = RTA_NEXT(i, inner)) {
      if (i->rta_type == IFLA_INFO_KIND) {
        const char* s = static_cast<const char*>(RTA_DATA(i));
        kind.assign(s, strnlen(s, RTA_PAYLOAD(i)));
      }
    }
    return true;
  });
  return Napi::String::New(env, kind);
}

// linkMaster(name): the name of the link's master ("" for none), null when there is no such link.
Napi::Value LinkMaster(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = NameArg(info, 0, "linkMaster(name: string)");
  std::string reply;
  if (!GetLink(env, name, &reply)) return env.Null();
  uint32_t index = 0;
  EachLinkAttr(reply, [&](const rtattr* rta) {
    if (rta->rta_type != IFLA_MASTER || RTA_PAYLOAD(rta) < sizeof index) return false;
    std::memcpy(&index, RTA_DATA(rta), sizeof index);
    return true;
  });
  char master[IF_NAMESIZE] = {0};
  if (index != 0 && if_indextoname(index, master) == nullptr) return Napi::String::New(env, "");
  return Napi::String::New(env, master);
}

Napi::Value LinkSet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage = "linkSet(name: string, mtu: number, master: string, up: boolean)";
  std::string name = NameArg(info, 0, usage);
  if (info.Length() < 4 || !info[1].IsNumber() || !info[2].IsString() || !info[3].IsBoolean()) throw Napi::TypeError::New(env, usage);
  uint32_t mtu = U32Arg(info, 1, "linkSet: mtu", 0, 0xffffffff);
  std::string master = info[2].As<Napi::String>().Utf8Value();
  bool up = info[3].As<Napi::Boolean>().Value();
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  if (up) {
    ifi.ifi_flags = IFF_UP;
    ifi.ifi_change = IFF_UP;
  }
  Request req(RTM_NEWLINK, NLM_F_ACK, &ifi, sizeof ifi);
  req.AttrName(env, IFLA_IFNAME, name);
  if (mtu != 0) req.AttrU32(env, IFLA_MTU, mtu);
  if (!master.empty()) {
    unsigned index = if_nametoindex(master.c_str());
    if (index == 0) throw MakeError(env, "ENODEV", "Cannot find device \"" + master + "\"");
    req.AttrU32(env, IFLA_MASTER, index);
  }
  Rtnl nl(env);
  std::string why;
  int err = nl.Exchange(req, nullptr, &why);
  if (err == ENODEV && why.empty()) throw MakeError(env, "ENODEV", "Cannot find device \"" + name + "\"");
  if (err != 0) throw Refused(env, err, why);
  return env.Undefined();
}

Napi::Value AddrReplace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage = "addrReplace(name: string, addr: number, prefixLen: number)";
  std::string name = NameArg(info, 0, usage);
  if (info.Length() < 3 || !info[1].IsNumber() || !info[2].IsNumber()) throw Napi::TypeError::New(env, usage);
  uint32_t host = U32Arg(info, 1, "addrReplace: addr", 0, 0xffffffff);
  uint32_t addr = htonl(host);
  uint32_t prefix = U32Arg(info, 2, "addrReplace: prefixLen", 0, 32);
  unsigned index = if_nametoindex(name.c_str());
  if (index == 0) throw MakeError(env, "ENODEV", "Cannot find device \"" + name + "\"");
  ifaddrmsg ifa{};
  ifa.ifa_family = AF_INET;
  ifa.ifa_prefixlen = static_cast<uint8_t>(prefix);
  // ip's default_scope: host for the loopback net, else global.
  ifa.ifa_scope = (host >> 24) == 127 ? RT_SCOPE_HOST : RT_SCOPE_UNIVERSE;
  ifa.ifa_index = index;
  Request req(RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, &ifa, sizeof ifa);
  req.Attr(env, IFA_LOCAL, &addr, sizeof addr);
  req.Attr(env, IFA_ADDRESS, &addr, sizeof addr);
  Rtnl nl(env);
  std::string why;
  int err = nl.Exchange(req, nullptr, &why);
  if (err != 0) throw Refused(env, err, why);
  return env.Undefined();
}

// ---------------------------------------------------------------------------------------------

// new LinkMonitor(onEvents: () => void): a netlink socket in RTNLGRP_LINK on the main loop; the
// callback runs once per readable turn, after every queued message was read (a burst of link
// changes is one call). Unreferenced: it never keeps the process alive. close() is idempotent.
class LinkMonitor : public Napi::ObjectWrap<LinkMonitor> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "LinkMonitor", {InstanceMethod<&LinkMonitor::Close>("close")});
  }

  explicit LinkMonitor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<LinkMonitor>(info), ctx_(info.Env(), "nanoshare:linkmonitor") {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsFunction()) throw Napi::TypeError::New(env, "new LinkMonitor(onEvents: () => void)");
    fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd_ < 0) throw MakeErrnoError(env, errno, "cannot open a netlink socket");
    sockaddr_nl local{};
    local.nl_family = AF_NETLINK;
    local.nl_groups = RTMGRP_LINK;
    if (bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) < 0) {
      int err = errno;
      close(fd_);
      fd_ = -1;
      throw MakeErrnoError(env, err, "cannot listen for link events");
    }
    poll_ = StartPoll(env, fd_, this, OnReadable, /*unref=*/true, "the link events");  // never holds the loop
    callback_ = Napi::Persistent(info[0].As<Napi::Function>());
    Ref();  // an open monitor stays alive (its handle does not hold the loop) until close()
  }

  ~LinkMonitor() override { Release(false); }

 private:
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Release(true);
    return info.Env().Undefined();
  }

  void Release(bool unref) {
    StopPollAndClose(poll_, fd_);
    if (!callback_.IsEmpty()) callback_.Reset();
    if (unref && referenced_) {
      referenced_ = false;
      Unref();
    }
  }

  static void OnReadable(uv_poll_t* handle, int /*status*/, int /*events*/) {
    auto* self = static_cast<LinkMonitor*>(handle->data);
    if (self != nullptr) self->Drain();
  }

  void Drain() {
    uint8_t buf[8192];
    bool any = false;
    for (;;) {
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        any = true;
        continue;
      }
      // ENOBUFS: events were lost while we were busy; what is asked after this call sees the present.
      if (n < 0 && errno == ENOBUFS) {
        any = true;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      break;
    }
    if (!any || callback_.IsEmpty()) return;
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Napi::Object receiver = Value();
    try {
      callback_.MakeCallback(receiver, {}, ctx_);
    } catch (const Napi::Error& e) {
      ReportUncaught(env, e);
    }
  }

  Napi::AsyncContext ctx_;
  int fd_ = -1;
  uv_poll_t* poll_ = nullptr;
  bool referenced_ = true;
  Napi::FunctionReference callback_;
};

}  // namespace

void InitNetlink(Napi::Env env, Napi::Object exports) {
  exports.Set("linkKind", Napi::Function::New(env, LinkKind, "linkKind"));
  exports.Set("linkMaster", Napi::Function::New(env, LinkMaster, "linkMaster"));
  exports.Set("linkSet", Napi::Function::New(env, LinkSet, "linkSet"));
  exports.Set("addrReplace", Napi::Function::New(env, AddrReplace, "addrReplace"));
  exports.Set("LinkMonitor", LinkMonitor::Init(env));
}

}  // namespace nanoshare
