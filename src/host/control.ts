// The running machine's control socket: a Unix socket (default /run/nanoshare/<tap>.sock) that
// answers one request per connection: `stats\n` gets the counters as one line of JSON,
// `reset-lateness\n` starts a new window for the rtos task's lateness, `ping\n` says it is alive,
// `reboot NAME\n` reboots one guest. `nanoshare stats` and `nanoshare reboot` are its clients.
import { createServer, createConnection, type Server } from 'node:net';
import { mkdirSync, rmSync, existsSync } from 'node:fs';
import { dirname } from 'node:path';

export const CONTROL_DIR = '/run/nanoshare';

/** NANOSHARE_CONTROL if set (the Docker image sets it, so its HEALTHCHECK finds the machine whatever --tap says), else one socket per TAP. */
export function defaultControlPath(tap: string): string {
  return process.env.NANOSHARE_CONTROL || `${CONTROL_DIR}/${tap}.sock`;
}

export interface ControlHandlers {
  stats(): unknown;
  /** Start a new lateness window for the rtos control task. */
  resetLateness(): void;
  /** Reboot one guest as after a fault; false when there is no guest of that name. */
  reboot?(name: string): boolean;
}

/** The names of the requests, for the error that lists them. */
const KNOWN = 'stats, ping, reset-lateness, reboot NAME';

/** Serve requests at `path`. A stale socket file from a dead process is replaced. */
export async function serveControl(path: string, handlers: ControlHandlers): Promise<Server> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  if (existsSync(path)) {
    if (await answers(path)) throw new Error(`control socket ${path} is in use by another nanoshare (choose another with --control)`);
    rmSync(path, { force: true });
  }
  const server = createServer((sock) => {
    let buf = '';
    sock.setEncoding('utf8');
    sock.setTimeout(2000, () => sock.destroy());
    sock.on('error', () => sock.destroy());
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > 256) return void sock.end('{"error":"request too long"}\n');
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const cmd = buf.slice(0, nl).trim();
      if (cmd === 'stats') sock.end(JSON.stringify(handlers.stats()) + '\n');
      else if (cmd === 'ping') sock.end('{"ok":true}\n');
      else if (cmd === 'reset-lateness') {
        handlers.resetLateness();
        sock.end('{"ok":true}\n');
      } else if (cmd.startsWith('reboot ') && handlers.reboot) {
        const name = cmd.slice('reboot '.length).trim();
        sock.end(JSON.stringify(handlers.reboot(name) ? { ok: true } : { error: `no guest named ${JSON.stringify(name)}` }) + '\n');
      } else sock.end(JSON.stringify({ error: `unknown request ${JSON.stringify(cmd)} (known: ${KNOWN})` }) + '\n');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.unref();
  return server;
}

export function closeControl(server: Server, path: string): void {
  server.close();
  rmSync(path, { force: true });
}

/** Send one request, resolve with the reply text. */
export function request(path: string, cmd: string, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    let out = '';
    sock.setEncoding('utf8');
    sock.setTimeout(timeoutMs, () => {
      sock.destroy();
      reject(new Error(`control socket ${path}: no answer in ${timeoutMs} ms`));
    });
    sock.on('connect', () => sock.write(`${cmd}\n`));
    sock.on('data', (d: string) => (out += d));
    sock.on('end', () => resolve(out));
    sock.on('error', (e: NodeJS.ErrnoException) => {
      const why = e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? 'no machine is running there' : e.message;
      reject(new Error(`control socket ${path}: ${why}`));
    });
  });
}

async function answers(path: string): Promise<boolean> {
  try {
    await request(path, 'ping', 500);
    return true;
  } catch {
    return false;
  }
}
