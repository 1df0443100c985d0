// cli/: the `nanoshare` command. Config (schema, defaults, clear errors naming the field), host
// network setup with iproute2, boot, signals, stats. It may import every layer; nothing imports it.
// Each command's module is imported when that command runs: `run` does not load `top`'s screen
// code, and `stats` does not load the machine.
import { readFileSync } from 'node:fs';
import { ConfigError, SchemaErrorsNotLoaded } from '../board/config.js';
import { configFromArgs, RUN_USAGE } from './args.js';

const USAGE = `Usage: nanoshare <command> [options]

Commands:
  run      run the machine (as root, or with CAP_NET_ADMIN and /dev/net/tun)
  stats    print a running machine's counters
  top      a live view of a running machine (per guest, switch, drops)
  reboot   reboot one guest of a running machine

Run \`nanoshare <command> --help\` for its options.
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/**
 * `f()`, and if the compiled schema check refused the config, `f()` again once the module that
 * says why is loaded (TypeBox: a valid config never loads it), so the error names the field.
 */
async function explained<T>(f: () => T | Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (!(e instanceof SchemaErrorsNotLoaded)) throw e;
    await import('../board/schema-errors.js');
    return f();
  }
}

/** Entry point; resolves with the exit code. Bad input is exit code 2 with one line, never a stack trace. */
export async function main(argv: readonly string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'run': {
        const cfg = await explained(() => configFromArgs(rest));
        if (cfg === 'help') {
          process.stdout.write(RUN_USAGE);
          return 0;
        }
        return await (await import('./run.js')).runMachine(cfg);
      }
      case 'stats':
        return await explained(async () => (await import('./stats.js')).statsCommand(rest));
      case 'top':
        return await explained(async () => (await import('./top.js')).topCommand(rest));
      case 'reboot':
        return await explained(async () => (await import('./reboot.js')).rebootCommand(rest));
      case '--version':
      case '-v':
        process.stdout.write(`nanoshare ${version()}\n`);
        return 0;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return cmd === undefined ? 2 : 0;
      default:
        throw new ConfigError(`unknown command ${JSON.stringify(cmd)} (known: run, stats, top, reboot)`);
    }
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`nanoshare: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}
