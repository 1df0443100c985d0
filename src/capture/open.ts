// Open a capture at a path: the format from the extension (`.pcapng` or `-` for pcapng, else
// classic pcap), one file, a rotating set, or stdout, with the header written at once.
import { Capture, formatOf, type CaptureOptions } from './capture.js';
import { FileSink, type CaptureSink } from './file-sink.js';
import { RotatingFileSink, type RotationOptions } from './rotating-sink.js';

export interface OpenCaptureOptions extends Omit<CaptureOptions, 'format'> {
  /** Rotate when a file would grow past `maxBytes` (not for stdout). */
  rotation?: RotationOptions;
  /** Called once with the first write error of a single file or stream (disk full, reader gone). */
  onError?: (err: Error) => void;
}

export function openCapture(path: string, opts: OpenCaptureOptions): { capture: Capture; sink: CaptureSink } {
  const capture = new Capture({ ...opts, format: formatOf(path) });
  const sink = opts.rotation ? new RotatingFileSink(path, capture.header, opts.rotation) : new FileSink(path, capture.header, { onError: opts.onError });
  capture.attach(sink);
  return { capture, sink };
}
