/*
 * The floor for `npm run bench -- floor`: the least a user-space TAP appliance can do to answer.
 * One address, one MAC; ARP requests for the address and ICMP echo requests to it are answered
 * in place (the request's bytes become the reply); everything else is ignored. One blocking read
 * and one write per frame on its own TAP, no batching, no allocation. The bench compiles it with
 * the machine's `cc` and runs it in its lab namespace beside nanoshare:
 *
 *   responder TAP IPV4 MAC [BRIDGE]     (with BRIDGE: joins it and sets the TAP up itself, so
 *                                        "exec to first reply" counts what a real appliance does)
 *
 * It prints "ready TAP" on stdout once the TAP is up, and exits on SIGTERM/SIGINT.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

enum {
  ETH_DST = 0, ETH_SRC = 6, ETH_TYPE = 12, ETH_LEN = 14,
  ARP_OP = ETH_LEN + 6, ARP_SHA = ETH_LEN + 8, ARP_SPA = ETH_LEN + 14, ARP_THA = ETH_LEN + 18, ARP_TPA = ETH_LEN + 24,
  ARP_END = ETH_LEN + 28,
  IP_VHL = ETH_LEN, IP_PROTO = ETH_LEN + 9, IP_SRC = ETH_LEN + 12, IP_DST = ETH_LEN + 16,
};

static void die(const char *what) {
  fprintf(stderr, "responder: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void stop(int sig) {
  (void)sig;
  _exit(0);
}

/* RFC 1624 incremental update: the checksum after one 16-bit word changed from `from` to `to`. */
static uint16_t csum_update(uint16_t csum, uint16_t from, uint16_t to) {
  uint32_t s = (uint16_t)~csum + (uint16_t)~from + to;
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return (uint16_t)~s;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: responder TAP IPV4 MAC [BRIDGE]\n");
    return 2;
  }
  uint8_t ip[4], mac[6];
  if (inet_pton(AF_INET, argv[2], ip) != 1) return fprintf(stderr, "responder: bad IPv4 %s\n", argv[2]), 2;
  if (sscanf(argv[3], "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2], &mac[3], &mac[4], &mac[5]) != 6)
    return fprintf(stderr, "responder: bad MAC %s\n", argv[3]), 2;
  signal(SIGTERM, stop);
  signal(SIGINT, stop);

  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) die("open /dev/net/tun");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  strncpy(ifr.ifr_name, argv[1], IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) die("TUNSETIFF");

  int s = socket(AF_INET, SOCK_DGRAM, 0);
  if (s < 0) die("socket");
  if (argc > 4) {
    struct ifreq br;
    memset(&br, 0, sizeof br);
    strncpy(br.ifr_name, argv[4], IFNAMSIZ - 1);
    br.ifr_ifindex = (int)if_nametoindex(argv[1]);
    if (ioctl(s, SIOCBRADDIF, &br) < 0) die("SIOCBRADDIF");
  }
  struct ifreq up;
  memset(&up, 0, sizeof up);
  strncpy(up.ifr_name, argv[1], IFNAMSIZ - 1);
  if (ioctl(s, SIOCGIFFLAGS, &up) < 0) die("SIOCGIFFLAGS");
  up.ifr_flags |= IFF_UP;
  if (ioctl(s, SIOCSIFFLAGS, &up) < 0) die("SIOCSIFFLAGS");
  close(s);
  printf("ready %s\n", argv[1]);
  fflush(stdout);

  static uint8_t f[65536];
  for (;;) {
    ssize_t n = read(fd, f, sizeof f);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("read");
    }
    uint16_t type = (uint16_t)(f[ETH_TYPE] << 8 | f[ETH_TYPE + 1]);
    if (type == 0x0806 && n >= ARP_END && f[ARP_OP] == 0 && f[ARP_OP + 1] == 1 && memcmp(f + ARP_TPA, ip, 4) == 0) {
      memcpy(f + ETH_DST, f + ARP_SHA, 6);
      memcpy(f + ETH_SRC, mac, 6);
      f[ARP_OP + 1] = 2;
      memcpy(f + ARP_THA, f + ARP_SHA, 10); /* THA+TPA := SHA+SPA */
      memcpy(f + ARP_SHA, mac, 6);
      memcpy(f + ARP_SPA, ip, 4);
    } else if (type == 0x0800 && n >= ETH_LEN + 20 && f[IP_PROTO] == 1 && memcmp(f + IP_DST, ip, 4) == 0) {
      size_t ihl = (size_t)(f[IP_VHL] & 0x0f) * 4;
      uint8_t *icmp = f + ETH_LEN + ihl;
      if (ihl < 20 || (ssize_t)(ETH_LEN + ihl + 8) > n || icmp[0] != 8 || icmp[1] != 0) continue;
      memcpy(f + ETH_DST, f + ETH_SRC, 6);
      memcpy(f + ETH_SRC, mac, 6);
      memcpy(f + IP_DST, f + IP_SRC, 4); /* the IP checksum is unchanged by swapping src and dst */
      memcpy(f + IP_SRC, ip, 4);
      icmp[0] = 0;
      uint16_t c = (uint16_t)(icmp[2] << 8 | icmp[3]);
      c = csum_update(c, 0x0800, 0x0000);
      icmp[2] = (uint8_t)(c >> 8);
      icmp[3] = (uint8_t)c;
    } else {
      continue;
    }
    if (write(fd, f, (size_t)n) < 0 && errno != EAGAIN && errno != EIO) die("write");
  }
}
