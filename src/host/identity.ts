// The host's identity for derived guest MACs (board/mac.ts): /etc/machine-id (stable across
// reboots, different per installed system) and the host name (different per container even
// when containers share an image's machine-id). Read once at start; missing parts are skipped.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/** "MACHINE-ID/HOSTNAME" from what this host has; the empty parts left out. */
export function hostMachineId(machineIdFile = '/etc/machine-id'): string {
  let id = '';
  try {
    id = readFileSync(machineIdFile, 'utf8').trim();
  } catch {
    // No machine-id (a minimal container): the host name alone.
  }
  return [id, hostname()].filter((x) => x !== '').join('/') || 'nanoshare';
}
