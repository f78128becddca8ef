// echo: a TCP and UDP echo server (RFC 862) over any Stack. It needs a Stack
// and nothing else, so it runs unchanged on Atoll's direct stack or on the
// host's sockets; which one is decided where it is applied (main.ts, tests).

import { arg, createUnikernel } from "@atoll/core";
import { type Flow, Stack } from "@atoll/tcpip";

export const Echo = createUnikernel({
  name: "echo",
  description: "echoes TCP streams and UDP datagrams back to their sender",
  needs: { stack: Stack },
  args: {
    port: arg.port({ default: 7, doc: "the TCP and UDP port to echo on" }),
  },
  async start({ stack }, { port }, { log }) {
    const flows = new Set<Flow>();
    const serve = async (flow: Flow) => {
      flows.add(flow);
      try {
        for (;;) {
          const chunk = await flow.read();
          if (chunk === null) break;
          await flow.write(chunk);
        }
        await flow.close();
      } catch (error) {
        log.debug("connection ended", {
          remote: `${flow.remoteAddress}:${flow.remotePort}`,
          error,
        });
        flow.abort();
      } finally {
        flows.delete(flow);
      }
    };
    stack.tcp.listen(port, (flow) => void serve(flow));
    stack.udp.listen(port, (datagram) => {
      // The datagram's bytes are only valid during this call: copy before sending back.
      stack.udp
        .send(datagram.srcAddress, datagram.srcPort, datagram.data.slice(), { srcPort: port })
        .catch((error: unknown) => log.debug("UDP reply failed", { error }));
    });
    log.info("echoing", { port, address: stack.ipv4.config().address });
    // With --ipv4=dhcp the address comes from a lease: say when it is renewed, changes or goes.
    const unwatch = stack.ipv4.onChange(({ address }, lease) =>
      log.info(lease === undefined ? "address changed" : "lease", {
        address,
        ...(lease === undefined
          ? {}
          : { server: lease.server, leaseSeconds: lease.leaseTimeNs / 1e9 }),
      }),
    );
    return () => {
      unwatch();
      stack.tcp.unlisten(port);
      stack.udp.unlisten(port);
      for (const flow of flows) flow.abort();
    };
  },
});
