// The Console signature: a byte stream out (text is UTF-8) and a byte stream in.

import { type Device, signature } from "@atoll/core";

export interface Console extends Device {
  /** Writes text (encoded as UTF-8) or bytes. Never blocks; output is buffered by the driver. */
  write(data: string | Uint8Array): void;
  /** Resolves once everything written so far has been handed to the host. */
  flush(): Promise<void>;
  /**
   * Input as chunks of bytes. One reader at a time: iterating while another
   * iteration is active throws. Ends when the host's input ends or the device disconnects.
   */
  input(): AsyncIterable<Uint8Array>;
}
export const Console = signature<Console>()("atoll.console/1");
