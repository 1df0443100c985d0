import { describe, expect, it } from 'vitest';
import { parseRequest } from './http.js';

const p = (s: string, maxHeader = 8192, maxBody = 1024) => parseRequest(new TextEncoder().encode(s), maxHeader, maxBody);

describe('parseRequest', () => {
  it('reads method, target, version, headers (names folded to lower case) and the length consumed', () => {
    const s = 'GET /status?x=1 HTTP/1.1\r\nHost: g\r\nX-A: 1\r\nx-a: 2\r\n\r\nGET / HTTP/1.1\r\n';
    const r = p(s);
    expect(r).toMatchObject({ kind: 'request', method: 'GET', target: '/status?x=1', version: '1.1' });
    if (r.kind !== 'request') throw new Error();
    expect(r.headers.get('x-a')).toBe('1, 2');
    expect(r.bytes).toBe(s.indexOf('GET /', 5));
  });

  it('waits for the rest of a request and for a Content-Length body', () => {
    expect(p('GET / HTTP/1.1\r\nHost: g\r\n')).toEqual({ kind: 'incomplete' });
    expect(p('POST / HTTP/1.1\r\nHost: g\r\nContent-Length: 5\r\n\r\nabc')).toEqual({ kind: 'incomplete' });
    expect(p('POST / HTTP/1.1\r\nHost: g\r\nContent-Length: 5\r\n\r\nabcde')).toMatchObject({ kind: 'request', bytes: 52 });
  });

  it('accepts HTTP/1.0 without Host, refuses HTTP/1.1 without it', () => {
    expect(p('GET / HTTP/1.0\r\n\r\n')).toMatchObject({ kind: 'request', version: '1.0' });
    expect(p('GET / HTTP/1.1\r\n\r\n')).toMatchObject({ kind: 'error', status: 400 });
  });

  it('400 on malformed request lines and headers', () => {
    for (const s of [
      'GET /\r\n\r\n',
      'GET  / HTTP/1.1\r\nHost: g\r\n\r\n',
      'G(T / HTTP/1.1\r\nHost: g\r\n\r\n',
      'GET / HTTP/2.0\r\nHost: g\r\n\r\n',
      'GET / HTTP/1.1\r\nHost g\r\n\r\n',
      'GET / HTTP/1.1\r\nHost : g\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: g\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: g\r\nContent-Length: -1\r\n\r\n',
    ]) {
      expect(p(s), JSON.stringify(s)).toMatchObject({ kind: 'error', status: 400 });
    }
  });

  it('431 past maxHeaderBytes, even before the end of the headers; 413 for a large body; 501 for Transfer-Encoding', () => {
    expect(p(`GET / HTTP/1.1\r\nHost: g\r\nX: ${'a'.repeat(200)}`, 100)).toMatchObject({ kind: 'error', status: 431 });
    expect(p(`GET / HTTP/1.1\r\nHost: g\r\nX: ${'a'.repeat(200)}\r\n\r\n`, 100)).toMatchObject({ kind: 'error', status: 431 });
    expect(p('POST / HTTP/1.1\r\nHost: g\r\nContent-Length: 5000\r\n\r\n')).toMatchObject({ kind: 'error', status: 413 });
    expect(p('POST / HTTP/1.1\r\nHost: g\r\nTransfer-Encoding: chunked\r\n\r\n')).toMatchObject({ kind: 'error', status: 501 });
  });
});
