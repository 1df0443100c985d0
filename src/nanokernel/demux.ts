// RX demultiplexing by destination MAC: unicast to its owner, broadcast to every port, multicast
// to the ports subscribed to the group, unknown unicast dropped (and counted by the caller).
import { MAC_BROADCAST, isMulticastMac, readMac, type Mac } from '../wire/address.js';
import type { Port } from './port.js';

export type DemuxDrop = 'unknown-unicast' | 'no-subscriber';

export class RxDemux {
  private readonly byMac = new Map<Mac, Port>();
  private readonly byGroup = new Map<Mac, Port[]>();
  private all: Port[] = [];

  add(port: Port): void {
    if (this.byMac.has(port.mac)) throw new Error(`MAC of ${port.name} is already on the switch`);
    this.byMac.set(port.mac, port);
    this.all = [...this.all, port];
  }

  /** The port that owns a unicast MAC. */
  owner(mac: Mac): Port | undefined {
    return this.byMac.get(mac);
  }

  subscribe(port: Port, group: Mac): void {
    if (port.groups.has(group)) return;
    port.groups.add(group);
    this.byGroup.set(group, [...(this.byGroup.get(group) ?? []), port]);
  }

  unsubscribe(port: Port, group: Mac): void {
    if (!port.groups.delete(group)) return;
    const rest = (this.byGroup.get(group) ?? []).filter((p) => p !== port);
    if (rest.length > 0) this.byGroup.set(group, rest);
    else this.byGroup.delete(group);
  }

  /** Where a frame goes, by its destination MAC. The caller guarantees >= 6 bytes. */
  route(frame: Uint8Array): Port | readonly Port[] | DemuxDrop {
    const dst = readMac(frame, 0);
    if (dst === MAC_BROADCAST) return this.all;
    if (isMulticastMac(dst)) return this.byGroup.get(dst) ?? 'no-subscriber';
    return this.byMac.get(dst) ?? 'unknown-unicast';
  }
}
