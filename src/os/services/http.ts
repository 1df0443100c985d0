// HTTP/1.1 (RFC 9110/9112) on TCP port 80 of the gpos: `/` a small HTML page, `/status` the
// guest's identity, uptime and counters as JSON. Keep-alive and pipelining (requests are parsed
// and answered in order from one buffer), 400 on a malformed request, 404 on an unknown path,
// 405 on any method but GET and HEAD, 431 when the header section passes maxHeaderBytes, 503
// when maxConnections are open, and idle connections closed after idleUs. Every limit bounds
// what a client can make us hold.
import type { TcpConnection, TcpLayer } from '../../net/index.js';
import type { GuestKernel } from '../kernel.js';

export const HTTP_PORT = 80;

export interface HttpOptions {
  /** Largest request line plus headers, default 8 KiB; more gets 431 and the connection closes. */
  maxHeaderBytes?: number;
  /** Largest request body we read past (Content-Length), default 64 KiB; more gets 413. */
  maxBodyBytes?: number;
  /** Open HTTP connections, default 64; beyond, 503 and close. */
  maxConnections?: number;
  /** A connection with no request for this long is closed, default 30 s. */
  idleUs?: number;
  /** Listen backlog (half-open connections), default 64. */
  backlog?: number;
}

export interface HttpCounters {
  connections: number;
  open: number;
  rejected: number;
  requests: number;
  idleClosed: number;
  responses: Record<string, number>;
}

type Status = 200 | 400 | 404 | 405 | 413 | 431 | 501 | 503;
const REASON: Record<Status, string> = {
  200: 'OK',
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'Content Too Large',
  431: 'Request Header Fields Too Large',
  501: 'Not Implemented',
  503: 'Service Unavailable',
};

/** A request parsed from the buffer, or why the bytes are not one. */
export type ParseResult =
  | { kind: 'incomplete' }
  | { kind: 'error'; status: 400 | 413 | 431 | 501; why: string }
  | { kind: 'request'; method: string; target: string; version: '1.0' | '1.1'; headers: Map<string, string>; bytes: number };

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const CRLFCRLF = [13, 10, 13, 10];

/** Find the end of the header section (index after CRLFCRLF) in `buf`, or -1. */
function headerEnd(buf: Uint8Array, from: number): number {
  outer: for (let i = Math.max(0, from); i + 4 <= buf.length; i++) {
    for (let k = 0; k < 4; k++) if (buf[i + k] !== CRLFCRLF[k]) continue outer;
    return i + 4;
  }
  return -1;
}

/** Parse one request at the start of `buf` (RFC 9112 2-6). Pure: no state, never throws. */
export function parseRequest(buf: Uint8Array, maxHeaderBytes: number, maxBodyBytes: number): ParseResult {
  // Tolerate empty lines before a request (RFC 9112 2.2).
  let start = 0;
  while (start + 1 < buf.length && buf[start] === 13 && buf[start + 1] === 10) start += 2;
  const end = headerEnd(buf, start);
  if (end < 0) {
    return buf.length - start > maxHeaderBytes ? { kind: 'error', status: 431, why: 'header section too large' } : { kind: 'incomplete' };
  }
  if (end - start > maxHeaderBytes) return { kind: 'error', status: 431, why: 'header section too large' };
  let text: string;
  try {
    text = new TextDecoder('latin1').decode(buf.subarray(start, end - 4));
  } catch {
    return { kind: 'error', status: 400, why: 'undecodable' };
  }
  const lines = text.split('\r\n');
  const reqLine = lines[0]!.split(' ');
  if (reqLine.length !== 3) return { kind: 'error', status: 400, why: 'request line' };
  const [method, target, proto] = reqLine as [string, string, string];
  if (!TOKEN.test(method)) return { kind: 'error', status: 400, why: 'method' };
  if (target.length === 0 || /[\x00-\x20\x7f]/.test(target)) return { kind: 'error', status: 400, why: 'target' };
  const vm = /^HTTP\/1\.([01])$/.exec(proto);
  if (vm === null) return { kind: 'error', status: 400, why: 'version' };
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) return { kind: 'error', status: 400, why: 'header line' };
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) return { kind: 'error', status: 400, why: 'header name' }; // no space before ':' (RFC 9112 5.1)
    const value = line.slice(colon + 1).trim();
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) return { kind: 'error', status: 400, why: 'header value' };
    const key = name.toLowerCase();
    const prev = headers.get(key);
    if (prev !== undefined && (key === 'content-length' || key === 'host')) return { kind: 'error', status: 400, why: `repeated ${key}` };
    headers.set(key, prev === undefined ? value : `${prev}, ${value}`);
  }
  const version = vm[1] === '1' ? '1.1' : '1.0';
  if (version === '1.1' && !headers.has('host')) return { kind: 'error', status: 400, why: 'no Host' }; // RFC 9112 3.2
  if (headers.has('transfer-encoding')) return { kind: 'error', status: 501, why: 'transfer-encoding' };
  let body = 0;
  const cl = headers.get('content-length');
  if (cl !== undefined) {
    if (!/^[0-9]{1,15}$/.test(cl)) return { kind: 'error', status: 400, why: 'content-length' };
    body = Number(cl);
    if (body > maxBodyBytes) return { kind: 'error', status: 413, why: 'body too large' };
  }
  if (buf.length < end + body) return { kind: 'incomplete' };
  return { kind: 'request', method, target, version, headers, bytes: end + body };
}

interface HttpConn {
  tcp: TcpConnection;
  buf: Uint8Array;
  len: number;
  /** Response bytes the send buffer could not take yet. */
  out: Uint8Array[];
  closeAfter: boolean;
  lastActive: number;
  /** Inside serve(): a flush must not start another parse of the same buffer. */
  serving: boolean;
}

export class HttpService {
  readonly counters: HttpCounters = { connections: 0, open: 0, rejected: 0, requests: 0, idleClosed: 0, responses: {} };
  private readonly conns = new Set<HttpConn>();
  private readonly o: Required<HttpOptions>;
  private readonly enc = new TextEncoder();

  constructor(
    private readonly kernel: GuestKernel,
    tcp: TcpLayer,
    /** The /status document (identity, uptime, counters), built on each request. */
    private readonly status: () => unknown,
    /** Shown on `/`. */
    private readonly title: string,
    opts: HttpOptions = {},
    port = HTTP_PORT,
  ) {
    this.o = { maxHeaderBytes: 8192, maxBodyBytes: 65536, maxConnections: 64, idleUs: 30_000_000, backlog: 64, ...opts };
    tcp.listen(port, { backlog: this.o.backlog, onAccept: (c) => this.accept(c) });
    const sweep = Math.max(1000, Math.floor(this.o.idleUs / 4));
    kernel.every(sweep, kernel.now() + sweep, () => this.closeIdle());
  }

  private accept(tcp: TcpConnection): void {
    if (this.conns.size >= this.o.maxConnections) {
      this.counters.rejected++;
      this.count(503);
      tcp.send(this.response(503, 'text/plain', this.enc.encode('too many connections\n'), true, false));
      tcp.close();
      return;
    }
    const c: HttpConn = { tcp, buf: new Uint8Array(1024), len: 0, out: [], closeAfter: false, lastActive: this.kernel.now(), serving: false };
    this.conns.add(c);
    this.counters.connections++;
    this.counters.open = this.conns.size;
    tcp.handler = {
      onData: (_t, d) => this.onData(c, d),
      onEnd: () => {
        if (c.out.length === 0) tcp.close();
        else c.closeAfter = true;
      },
      onWritable: () => this.flush(c),
      onClose: () => {
        this.conns.delete(c);
        this.counters.open = this.conns.size;
      },
    };
  }

  private onData(c: HttpConn, d: Uint8Array): void {
    c.lastActive = this.kernel.now();
    if (c.closeAfter) return; // we are finishing this connection: ignore what follows
    const limit = this.o.maxHeaderBytes + this.o.maxBodyBytes + 4;
    if (c.len + d.length > c.buf.length) {
      const grown = new Uint8Array(Math.min(Math.max(c.buf.length * 2, c.len + d.length), limit + d.length));
      grown.set(c.buf.subarray(0, c.len));
      c.buf = grown;
    }
    c.buf.set(d, c.len);
    c.len += d.length;
    this.serve(c);
  }

  /** Answer every complete request in the buffer, in order (pipelining). */
  private serve(c: HttpConn): void {
    if (c.serving) return;
    c.serving = true;
    let off = 0;
    while (!c.closeAfter && c.out.length === 0) {
      const r = parseRequest(c.buf.subarray(off, c.len), this.o.maxHeaderBytes, this.o.maxBodyBytes);
      if (r.kind === 'incomplete') break;
      this.counters.requests++;
      if (r.kind === 'error') {
        this.reply(c, r.status, 'text/plain', this.enc.encode(`${REASON[r.status]}: ${r.why}\n`), true, false);
        off = c.len;
        break;
      }
      off += r.bytes;
      const conn = (r.headers.get('connection') ?? '').toLowerCase();
      const keep = r.version === '1.1' ? !/\bclose\b/.test(conn) : /\bkeep-alive\b/.test(conn);
      this.route(c, r.method, r.target, !keep);
    }
    if (off > 0) {
      c.buf.copyWithin(0, off, c.len);
      c.len -= off;
    }
    c.serving = false;
    if (c.out.length > 0) c.tcp.pause(); // back-pressure: read no more until the replies are out
  }

  private route(c: HttpConn, method: string, target: string, close: boolean): void {
    const head = method === 'HEAD';
    if (method !== 'GET' && !head) {
      return this.reply(c, 405, 'text/plain', this.enc.encode(`method ${method} not allowed\n`), close, false, 'Allow: GET, HEAD\r\n');
    }
    const path = target.split('?')[0];
    if (path === '/') return this.reply(c, 200, 'text/html; charset=utf-8', this.enc.encode(this.page()), close, head);
    if (path === '/status') return this.reply(c, 200, 'application/json', this.enc.encode(JSON.stringify(this.status()) + '\n'), close, head);
    return this.reply(c, 404, 'text/plain', this.enc.encode(`no ${path}\n`), close, head);
  }

  private page(): string {
    const t = this.title.replace(/[<>&"]/g, (ch) => `&#${ch.charCodeAt(0)};`);
    return `<!doctype html>\n<html><head><meta charset="utf-8"><title>${t}</title></head>\n<body><h1>${t}</h1>\n<p>A general-purpose guest of nanoshare, sharing one processor and one NIC with a real-time OS.</p>\n<p><a href="/status">/status</a>: identity, uptime and counters (JSON).</p>\n</body></html>\n`;
  }

  private response(status: Status, type: string, body: Uint8Array, close: boolean, head: boolean, extra = ''): Uint8Array {
    const h = this.enc.encode(
      `HTTP/1.1 ${status} ${REASON[status]}\r\nServer: nanoshare\r\nContent-Type: ${type}\r\nContent-Length: ${body.length}\r\n${extra}${close ? 'Connection: close\r\n' : ''}\r\n`,
    );
    if (head) return h;
    const out = new Uint8Array(h.length + body.length);
    out.set(h);
    out.set(body, h.length);
    return out;
  }

  private reply(c: HttpConn, status: Status, type: string, body: Uint8Array, close: boolean, head: boolean, extra = ''): void {
    this.count(status);
    c.out.push(this.response(status, type, body, close, head, extra));
    if (close) c.closeAfter = true;
    this.flush(c);
  }

  private count(status: Status): void {
    this.counters.responses[status] = (this.counters.responses[status] ?? 0) + 1;
  }

  /** Write queued replies; when all are out, close if asked, else read (and serve) again. */
  private flush(c: HttpConn): void {
    while (c.out.length > 0) {
      const b = c.out[0]!;
      const n = c.tcp.send(b);
      if (n < b.length) {
        c.out[0] = b.subarray(n);
        return;
      }
      c.out.shift();
    }
    if (c.closeAfter) return c.tcp.close();
    c.tcp.resume();
    if (c.len > 0) this.serve(c);
  }

  private closeIdle(): void {
    const now = this.kernel.now();
    for (const c of [...this.conns]) {
      if (now - c.lastActive >= this.o.idleUs) {
        this.counters.idleClosed++;
        this.conns.delete(c);
        this.counters.open = this.conns.size;
        c.tcp.close();
      }
    }
  }
}
