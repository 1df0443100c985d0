// Stable derived MACs: a guest without a configured MAC gets one derived from the machine's
// identity (machineId: /etc/machine-id and the host name by default, plus the link) and the
// guest's name, so two machines started with default settings on one LAN do not collide, and a
// machine keeps its MACs across restarts. Pure: the identity is given, hashing is FNV-1a (64 bit).
import type { Mac } from '../wire/address.js';

/** The MACs of the default guests when no identity is known (library use, tests, capture replay): 02:4e:53:00:00:0a, :0b, ... */
export const FIXED_MAC_BASE: Mac = 0x02_4e_53_00_00_0a;

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK64 = (1n << 64n) - 1n;

/** FNV-1a over the UTF-8 bytes of `text`, 64 bits. */
export function fnv1a64(text: string): bigint {
  let h = FNV_OFFSET;
  for (const b of new TextEncoder().encode(text)) h = ((h ^ BigInt(b)) * FNV_PRIME) & MASK64;
  return h;
}

/**
 * The MAC of guest `guest` on the machine `identity`: the top 48 bits of FNV-1a 64 over
 * "nanoshare-mac\0IDENTITY\0GUEST", with the first octet's locally administered bit set and its
 * group bit cleared (IEEE 802: a unicast address no vendor assigns). Never all zeros.
 */
export function deriveGuestMac(identity: string, guest: string): Mac {
  const h = fnv1a64(`nanoshare-mac\0${identity}\0${guest}`) >> 16n;
  const first = (Number(h >> 40n) & 0xfc) | 0x02;
  return first * 0x100_0000_0000 + Number(h & 0xff_ffff_ffffn);
}
