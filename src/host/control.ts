// The running machine's control socket: a Unix socket (default /run/nanoshare/<tap>.sock) that
// answers one request per connection: `stats\n` gets the counters as one line of JSON,
// `reset-lateness\n` starts a new window for the rtos task's lateness, `ping\n` says it is alive,
// `reboot NAME\n` reboots one guest, `gc\n` runs a full garbage collection (only in a process
// started with --expose-gc: the soak reads the RSS after one, so garbage is not taken for a leak). `nanoshare stats` and `nanoshare reboot` are its clients.
//
// The path is someone else's choice too: only a path that is a socket is ever replaced or removed
// (anything else there is an error, exit 2), the socket is created without world access (0600,
// its directory 0700 when we create it), and on exit we remove it only if it is still the socket
// we made (same inode), not one another machine put there since.
import { createServer, createConnection } from 'node:net';
import { closeSync, mkdirSync, lstatSync, openSync, readSync, unlinkSync, renameSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';

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
  /** A full garbage collection; false when the process has no `gc` (not started with --expose-gc). */
  gc?(): boolean;
}

/** The names of the requests, for the error that lists them. */
const KNOWN = 'stats, ping, reset-lateness, reboot NAME, gc';

/** The control path cannot be used: something that is not a socket is there. Exit 2. */
export class ControlPathError extends Error {}

/** A served control socket. */
export interface ControlServer {
  readonly path: string;
  /** Stop serving and remove the socket if it is still ours. Idempotent. */
  close(): void;
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ControlPathError(`--control ${path}: ${(e as Error).message}`);
  }
}

function kindOf(st: Stats): string {
  if (st.isFile()) return 'a regular file';
  if (st.isDirectory()) return 'a directory';
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isFIFO()) return 'a FIFO';
  return 'not a socket';
}

/** Throws ControlPathError unless `path` is absent or a socket (checked before any host change). */
export function checkControlPath(path: string): void {
  const st = lstatOrUndefined(path);
  if (st && !st.isSocket()) throw new ControlPathError(`--control ${path}: ${kindOf(st)} is there, not a socket; refusing to replace it (remove it or choose another path)`);
}

/** Serve requests at `path`. A stale socket from a dead process is replaced; anything else there is a ControlPathError. */
export async function serveControl(path: string, handlers: ControlHandlers): Promise<ControlServer> {
  try {
    // mode applies to the directories created here only; an existing directory is left as it is.
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new ControlPathError(`--control ${path}: cannot create its directory: ${(e as Error).message}`);
  }
  checkControlPath(path);
  if (lstatOrUndefined(path) && (await answers(path))) throw new Error(`control socket ${path} is in use by another nanoshare (choose another with --control)`);
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
      } else if (cmd === 'gc' && handlers.gc) {
        sock.end(handlers.gc() ? '{"ok":true}\n' : '{"error":"no gc: the machine was not started with node --expose-gc"}\n');
      } else sock.end(JSON.stringify({ error: `unknown request ${JSON.stringify(cmd)} (known: ${KNOWN})` }) + '\n');
    });
  });
  // Bound under a private name, then renamed into place: libuv unlinks the name it bound on close,
  // whatever is there by then, so that name must never be `path`; and the rename replaces a stale
  // socket in one step. bind() creates the file with the process umask: 0600 from the start.
  const bound = join(dirname(path), `.${basename(path)}.${process.pid}.${randomHex(4)}`);
  const umask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(bound, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } finally {
    process.umask(umask);
  }
  server.unref();
  try {
    // Checked again just before the rename: only a socket is ever replaced.
    checkControlPath(path);
    renameSync(bound, path);
  } catch (e) {
    server.close();
    throw e instanceof ControlPathError ? e : new ControlPathError(`--control ${path}: ${(e as Error).message}`);
  }
  const ino = lstatSync(path).ino;
  let closed = false;
  return {
    path,
    close: () => {
      if (closed) return;
      closed = true;
      server.close();
      const st = lstatOrUndefinedQuiet(path);
      if (st?.isSocket() && st.ino === ino) unlinkSync(path);
    },
  };
}

function lstatOrUndefinedQuiet(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
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

/**
 * `n` random bytes in hex, from the kernel's generator (/dev/urandom, as node:crypto's own
 * randomBytes uses): loading node:crypto for this alone cost ~5 ms of every boot.
 */
function randomHex(n: number): string {
  const b = Buffer.alloc(n);
  const fd = openSync('/dev/urandom', 'r');
  try {
    for (let got = 0; got < n; ) got += readSync(fd, b, got, n - got, null);
  } finally {
    closeSync(fd);
  }
  return b.toString('hex');
}
