// One tcpdump-like line per frame, for logs and debugging. Never throws.

export function describeFrame(frame: Uint8Array): string {
  return `${frame.length} bytes`;
}
