// capture/: pcap and pcapng encoding, one reader for both, the sinks that write them (a file,
// rotating files, stdout for a live Wireshark), and capture as a wrapper fed (frame, decision)
// from around the switch's ports and the link. Capture never changes, holds or delays a frame.
// The encoders and the reader are pure; only the sinks touch Node's I/O. It may import wire/
// and link/'s interface.
export * from './pcap.js';
export * from './pcapng.js';
export * from './reader.js';
export * from './capture.js';
export * from './file-sink.js';
export * from './rotating-sink.js';
export * from './open.js';
