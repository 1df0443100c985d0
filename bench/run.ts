// `npm run bench [-- NAME]`: the benchmarks, each printed as a table with its peer measured in
// the same run. Names: echo (per-frame cost, no privileges), cpu (scheduler and shared NIC under load, root),
// floor (nanoshare beside a C TAP responder and the kernel, root; not in the default set: it takes minutes),
// tcp (HTTP req/s and bulk TCP both ways, gpos beside the kernel behind a veth, root; not in the default set),
// demux (frames/s through the switch alone for 2, 16 and 256 guests, no privileges),
// vxlan (echo RTT and rate through the VXLAN link against the TAP link and a kernel vxlan, root; not in the default set).
// Arguments starting with `--` go to the named benchmarks (`npm run bench -- floor --json`).
import { benchCpu } from './cpu.js';
import { benchDemux } from './demux.js';
import { benchEcho } from './echo.js';
import { benchFloor } from './floor.js';
import { benchTcp } from './tcp.js';
import { benchVxlan } from './vxlan.js';

const benches: Record<string, (flags: readonly string[]) => Promise<number>> = { echo: benchEcho, cpu: benchCpu, floor: benchFloor, tcp: benchTcp, demux: benchDemux, vxlan: benchVxlan };
const byDefault = ['echo', 'cpu'];

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  // A flag's value follows it (`--rounds 3`) unless given as `--rounds=3`.
  const names: string[] = [];
  const flags: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith('--')) {
      flags.push(a);
      if (!a.includes('=') && a !== '--json' && i + 1 < args.length) flags.push(args[++i]!);
    } else names.push(a);
  }
  for (const n of names) if (!(n in benches)) {
    process.stderr.write(`bench: unknown benchmark ${JSON.stringify(n)} (known: ${Object.keys(benches).join(', ')})\n`);
    return 2;
  }
  let code = 0;
  for (const n of names.length > 0 ? names : byDefault) code = Math.max(code, await benches[n]!(flags));
  return code;
}

main().then((c) => (process.exitCode = c), (e: Error) => {
  process.stderr.write(`bench: ${e.stack ?? e.message}\n`);
  process.exitCode = 1;
});
