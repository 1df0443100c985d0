// tshark as the independent check of every pcapng the tests write: each frame's interface,
// comment, direction, and whether Wireshark's dissectors found it malformed or raised an
// expert error. Tests that need it skip with a reason on a laptop without it; with
// NANOSHARE_REQUIRE_NET=1 (CI, which installs it) its absence is a failure.
import { execFileSync, spawnSync } from 'node:child_process';
import { requireNet, which } from './lab.js';

export interface TsharkFrame {
  iface: string;
  comment: string;
  /** 1 inbound, 2 outbound, 0 unknown (epb_flags direction bits). */
  dir: number;
  malformed: boolean;
  /** Expert infos at error severity or above (Wireshark's PI_ERROR). */
  expertErrors: number;
}

const PI_ERROR = 0x00800000;

/** True to skip (reason printed); throws when CI requires tshark and it is missing. */
export function skipWithoutTshark(): boolean {
  if (which('tshark')) return false;
  const reason = 'needs tshark (apt-get install tshark)';
  if (requireNet) throw new Error(`NANOSHARE_REQUIRE_NET=1 but ${reason}`);
  process.stderr.write(`skipping tshark check: ${reason}\n`);
  return true;
}

/**
 * Every frame of a capture file as tshark dissects it. tshark fails on a file whose last block
 * is cut; with `allowCut` that one failure is accepted (and required to be the cut) and the
 * frames before it returned.
 */
export function tsharkFrames(path: string, opts: { allowCut?: boolean } = {}): TsharkFrame[] {
  const args = ['-n', '-r', path, '-T', 'fields', '-E', 'separator=|', '-e', 'frame.interface_name', '-e', 'frame.comment', '-e', 'frame.packet_flags_direction', '-e', '_ws.malformed', '-e', '_ws.expert.severity'];
  const r = spawnSync('tshark', args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0 && !(opts.allowCut && /cut short in the middle of a packet|appears to have been cut short/.test(r.stderr))) {
    throw new Error(`tshark -r ${path} failed (${r.status}): ${r.stderr}`);
  }
  const out = r.stdout;
  return out
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const [iface = '', comment = '', dir = '', malformed = '', sev = ''] = l.split('|');
      return {
        iface,
        comment,
        dir: dir === '' ? 0 : Number(dir) & 3,
        malformed: malformed !== '',
        expertErrors: sev.split(',').filter((s) => s !== '' && Number(s) >= PI_ERROR).length,
      };
    });
}

/** The interface names a pcapng file describes, in order (capinfos reads the IDBs). */
export function tsharkInterfaces(path: string): string[] {
  const out = execFileSync('capinfos', [path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return [...out.matchAll(/^Interface #\d+ info:\n\s+Name = (.*)$/gm)].map((m) => m[1]!.trim());
}
