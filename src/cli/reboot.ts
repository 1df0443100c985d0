// `nanoshare reboot NAME`: ask a running machine, over its control socket, to reboot one guest as
// the nanokernel does after a fault (its stack rebuilt from its config; the other guests never
// notice). For an operator, and for tests of the reboot path.
import { parseArgs } from 'node:util';
import { request, defaultControlPath } from '../host/control.js';
import { ConfigError } from '../board/config.js';
import { tapFromFlag } from './args.js';

export const REBOOT_USAGE = `Usage: nanoshare reboot NAME [--tap NAME | --control PATH]

Reboots guest NAME of a running machine: its queues are flushed, its stack is rebuilt from its
config and it boots again (announcing itself with a gratuitous ARP). A halted guest runs again.

  --tap NAME       the machine that runs on TAP NAME (default nstap0)
  --control PATH   the control socket (default $NANOSHARE_CONTROL or /run/nanoshare/<tap>.sock)
`;

const GUEST_NAME = /^[a-z][a-z0-9-]{0,15}$/;

export async function rebootCommand(argv: readonly string[]): Promise<number> {
  let values: { tap?: string; control?: string; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      options: { tap: { type: 'string' }, control: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: true,
    }));
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  if (values.help) {
    process.stdout.write(REBOOT_USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new ConfigError('reboot: expected one guest NAME');
  const name = positionals[0]!;
  if (!GUEST_NAME.test(name)) throw new ConfigError(`reboot: guest name ${JSON.stringify(name)}: 1 to 16 of a-z, 0-9, - starting with a letter`);
  const path = values.control ?? defaultControlPath(tapFromFlag(values.tap));
  let answer: { ok?: boolean; error?: string };
  try {
    answer = JSON.parse(await request(path, `reboot ${name}`)) as { ok?: boolean; error?: string };
  } catch (e) {
    process.stderr.write(`nanoshare reboot: ${e instanceof SyntaxError ? `the machine at ${path} answered something that is not JSON` : (e as Error).message}\n`);
    return 1;
  }
  if (answer.ok !== true) throw new ConfigError(`reboot: ${answer.error ?? 'refused'}`);
  process.stdout.write(`rebooted ${name}\n`);
  return 0;
}
