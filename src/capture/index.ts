// capture/: pcap encoding and the sinks that write it (a file, or stdout for a live Wireshark).
// Capture wraps a link; it never changes a frame. The encoder is pure; only the file sink
// touches Node's I/O. It may import wire/ and link/'s interface.
export * from './pcap.js';
export * from './capture-link.js';
export * from './file-sink.js';
