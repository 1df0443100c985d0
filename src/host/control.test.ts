// The control socket's path is someone else's choice: only a socket there is ever replaced or
// removed, the socket is 0600 and a directory we create is 0700, and on close we remove the
// socket only if it is still ours.
import { mkdtempSync, rmSync, writeFileSync, readFileSync, statSync, mkdirSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ControlPathError, checkControlPath, request, serveControl } from './control.js';

const handlers = { stats: () => ({ ok: 1 }), resetLateness: () => undefined };
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nanoshare-host-ctl-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('control socket path safety', () => {
  it('a regular file at the path is a ControlPathError and is left untouched', async () => {
    const p = join(dir, 'ctl.sock');
    writeFileSync(p, 'precious');
    expect(() => checkControlPath(p)).toThrow(ControlPathError);
    await expect(serveControl(p, handlers)).rejects.toThrow(/regular file is there, not a socket/);
    expect(readFileSync(p, 'utf8')).toBe('precious');
  });

  it('a directory at the path is refused too', async () => {
    const p = join(dir, 'ctl.sock');
    mkdirSync(p);
    await expect(serveControl(p, handlers)).rejects.toBeInstanceOf(ControlPathError);
    expect(statSync(p).isDirectory()).toBe(true);
  });

  it('creates the socket 0600 and its directory 0700, answers, and removes the socket on close', async () => {
    const p = join(dir, 'sub', 'ctl.sock');
    const c = await serveControl(p, handlers);
    try {
      expect(statSync(join(dir, 'sub')).mode & 0o777).toBe(0o700);
      expect(statSync(p).isSocket()).toBe(true);
      expect(statSync(p).mode & 0o777).toBe(0o600);
      expect(JSON.parse(await request(p, 'stats'))).toEqual({ ok: 1 });
    } finally {
      c.close();
    }
    expect(existsSync(p)).toBe(false);
  });

  it('a stale socket (nobody answers) is replaced', async () => {
    const p = join(dir, 'ctl.sock');
    // A process that bound the socket and died without removing it.
    execFileSync('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', p]);
    expect(statSync(p).isSocket()).toBe(true);
    const c = await serveControl(p, handlers);
    expect(JSON.parse(await request(p, 'ping'))).toEqual({ ok: true });
    c.close();
    expect(existsSync(p)).toBe(false);
  });

  it('a socket another machine answers on is not taken over', async () => {
    const p = join(dir, 'ctl.sock');
    const first = await serveControl(p, handlers);
    try {
      await expect(serveControl(p, handlers)).rejects.toThrow(/in use by another nanoshare/);
      expect(JSON.parse(await request(p, 'ping'))).toEqual({ ok: true });
    } finally {
      first.close();
    }
  });

  it('close leaves alone whatever replaced our socket', async () => {
    const p = join(dir, 'ctl.sock');
    const c = await serveControl(p, handlers);
    rmSync(p);
    writeFileSync(p, 'not ours');
    c.close();
    expect(readFileSync(p, 'utf8')).toBe('not ours');
  });
});

describe('control requests', () => {
  it('gc runs the handler and says whether a collection ran; without the handler it is an unknown request', async () => {
    let calls = 0;
    let exposed = true;
    const p = join(dir, 'gc.sock');
    const c = await serveControl(p, { ...handlers, gc: () => (calls++, exposed) });
    try {
      expect(JSON.parse(await request(p, 'gc'))).toEqual({ ok: true });
      exposed = false;
      expect(JSON.parse(await request(p, 'gc')).error).toMatch(/--expose-gc/);
      expect(calls).toBe(2);
    } finally {
      c.close();
    }
    const q = join(dir, 'nogc.sock');
    const d = await serveControl(q, handlers);
    try {
      expect(JSON.parse(await request(q, 'gc')).error).toMatch(/unknown request "gc"/);
    } finally {
      d.close();
    }
  });
});
