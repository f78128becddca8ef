// __NAME__: the application, a functor over the devices it needs. It needs a
// TCP/IP Stack and nothing else, so it runs unchanged on the host's sockets
// (src/main.ts), on Atoll's own TCP/IP sealed in an image (src/image.ts), and
// on a memory switch under virtual time (test/unikernel.test.ts).

import { arg, createUnikernel } from "@atoll/core";
import { type Flow, Stack } from "@atoll/tcpip";

export const __Name__ = createUnikernel({
  name: "__NAME__",
  description: "greets every TCP connection, then echoes what it is sent",
  needs: { stack: Stack },
  args: {
    port: arg.port({ default: 8080, doc: "the TCP port to serve" }),
    greeting: arg.string({ default: "hello", doc: "the first line sent to every client" }),
  },
  async start({ stack }, { port, greeting }, { log }) {
    const flows = new Set<Flow>();
    const serve = async (flow: Flow) => {
      flows.add(flow);
      try {
        await flow.write(new TextEncoder().encode(`${greeting}\n`));
        for (let chunk = await flow.read(); chunk !== null; chunk = await flow.read())
          await flow.write(chunk);
        await flow.close();
      } catch (error) {
        log.debug("connection ended", { error });
        flow.abort();
      } finally {
        flows.delete(flow);
      }
    };
    stack.tcp.listen(port, (flow) => void serve(flow));
    log.info("listening", { port, address: stack.ipv4.config().address });
    // Keep serving until stopped; then stop listening and close what is open.
    return () => {
      stack.tcp.unlisten(port);
      for (const flow of flows) flow.abort();
    };
  },
});
