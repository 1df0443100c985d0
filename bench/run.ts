// `npm run bench [-- NAME]`: the benchmarks, each printed as a table with its peer measured in
// the same run. Names: echo (per-frame cost, no privileges), cpu (scheduler and shared NIC under load, root).
import { benchCpu } from './cpu.js';
import { benchEcho } from './echo.js';

const benches: Record<string, () => Promise<number>> = { echo: benchEcho, cpu: benchCpu };

async function main(): Promise<number> {
  const names = process.argv.slice(2);
  for (const n of names) if (!(n in benches)) {
    process.stderr.write(`bench: unknown benchmark ${JSON.stringify(n)} (known: ${Object.keys(benches).join(', ')})\n`);
    return 2;
  }
  let code = 0;
  for (const n of names.length > 0 ? names : Object.keys(benches)) code = Math.max(code, await benches[n]!());
  return code;
}

main().then((c) => (process.exitCode = c), (e: Error) => {
  process.stderr.write(`bench: ${e.stack ?? e.message}\n`);
  process.exitCode = 1;
});
