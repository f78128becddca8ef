import { VirtualTime } from "@atoll/clock";
import { isAtollError, seconds } from "@atoll/core";
import type { Flow } from "@atoll/tcpip";
import { describe, expect, it } from "vitest";
import { createFetch, type FetchHandler, serveHttp } from "../src/index.js";
import { memoryTcp } from "./support/flow-pair.js";
import { enc, latin1Bytes } from "./support/raw.js";

function setup(handler: FetchHandler, options: Parameters<typeof createFetch>[1] = {}) {
  const tcp = memoryTcp();
  const server = serveHttp(tcp, 80, handler);
  const fetch = createFetch({ tcp }, options);
  return { tcp, server, fetch };
}

/** A Tcp whose port 80 is served by a function of the raw connection. */
function rawServer(serve: (flow: Flow) => Promise<void>) {
  const tcp = memoryTcp();
  tcp.listen(80, (flow) => void serve(flow).catch(() => {}));
  return tcp;
}

describe("client", () => {
  it("fetches from the server and reuses one kept-alive connection", async () => {
    const { tcp, fetch, server } = setup(
      (request) => new Response(`you asked for ${new URL(request.url).pathname}`),
    );
    for (let i = 0; i < 5; i++) {
      const response = await fetch(`http://10.0.0.2/item/${i}`);
      expect(response.status).toBe(200);
      expect(response.url).toBe(`http://10.0.0.2/item/${i}`);
      expect(await response.text()).toBe(`you asked for /item/${i}`);
    }
    expect(tcp.connects).toBe(1);
    expect(fetch.stats).toMatchObject({ requests: 5, connects: 1, reused: 4, idleConnections: 1 });
    await fetch.close();
    await server.close();
  });

  it("sends bodies with Content-Length, streams with chunked, and gets them back", async () => {
    const seen: Array<string | null> = [];
    const { fetch } = setup(async (request) => {
      seen.push(request.headers.get("content-length") ?? request.headers.get("transfer-encoding"));
      return new Response(await request.text());
    });
    const bytes = await fetch("http://10.0.0.2/", { method: "POST", body: "hello" });
    expect(await bytes.text()).toBe("hello");
    const stream = new ReadableStream({
      async start(controller) {
        controller.enqueue(enc.encode("a"));
        await new Promise((r) => setTimeout(r, 2));
        controller.enqueue(enc.encode("bc"));
        controller.close();
      },
    });
    const streamed = await fetch("http://10.0.0.2/", {
      method: "PUT",
      body: stream,
      // @ts-expect-error: duplex is in the fetch standard, not yet in the DOM typings.
      duplex: "half",
    });
    expect(await streamed.text()).toBe("abc");
    const empty = await fetch("http://10.0.0.2/", { method: "POST" });
    expect(await empty.text()).toBe("");
    expect(seen).toEqual(["5", "chunked", "0"]);
  });

  it("limits connections per origin and queues the rest", async () => {
    let active = 0;
    let peak = 0;
    const { tcp, fetch } = setup(
      async () => {
        peak = Math.max(peak, ++active);
        await new Promise((r) => setTimeout(r, 2));
        active--;
        return new Response("ok");
      },
      { maxConnectionsPerOrigin: 3 },
    );
    const texts = await Promise.all(
      Array.from({ length: 20 }, () => fetch("http://10.0.0.2/").then((r) => r.text())),
    );
    expect(texts.every((t) => t === "ok")).toBe(true);
    expect(tcp.connects).toBe(3);
    expect(peak).toBe(3);
  });

  it("answers HEAD without a body and keeps the connection", async () => {
    const { tcp, fetch } = setup(() => new Response("twelve bytes"));
    const head = await fetch("http://10.0.0.2/", { method: "HEAD" });
    expect(head.headers.get("content-length")).toBe("12");
    expect(head.body).toBe(null);
    expect(await (await fetch("http://10.0.0.2/")).text()).toBe("twelve bytes");
    expect(tcp.connects).toBe(1);
  });

  it("follows redirects the way fetch does", async () => {
    const { fetch } = setup(async (request) => {
      const url = new URL(request.url);
      if (url.pathname === "/old") return Response.redirect("http://10.0.0.2/new", 301);
      if (url.pathname === "/post")
        return new Response(null, { status: 303, headers: { location: "/done" } });
      if (url.pathname === "/keep")
        return new Response(null, { status: 307, headers: { location: "/echo" } });
      return new Response(`${request.method} ${url.pathname} ${await request.text()}`);
    });
    const moved = await fetch("http://10.0.0.2/old");
    expect(moved.redirected).toBe(true);
    expect(moved.url).toBe("http://10.0.0.2/new");
    expect(await moved.text()).toBe("GET /new ");
    expect(await (await fetch("http://10.0.0.2/post", { method: "POST", body: "x" })).text()).toBe(
      "GET /done ",
    );
    expect(await (await fetch("http://10.0.0.2/keep", { method: "POST", body: "y" })).text()).toBe(
      "POST /echo y",
    );
    const manual = await fetch("http://10.0.0.2/old", { redirect: "manual" });
    expect(manual.status).toBe(301);
    await expect(fetch("http://10.0.0.2/old", { redirect: "error" })).rejects.toThrow(TypeError);
  });

  it("reads a response body only as fast as it is consumed", async () => {
    const total = 8 << 20;
    let produced = 0;
    const { fetch } = setup(
      () =>
        new Response(
          new ReadableStream({
            pull(controller) {
              if (produced >= total) return controller.close();
              produced += 64 * 1024;
              controller.enqueue(new Uint8Array(64 * 1024));
            },
          }),
        ),
    );
    const response = await fetch("http://10.0.0.2/");
    const reader = response.body!.getReader();
    await reader.read();
    for (let i = 0; i < 50; i++) await new Promise((r) => setTimeout(r, 0));
    // Both ends hold back: the producer is a few buffers ahead, not the whole body.
    expect(produced).toBeLessThan(1 << 20);
    let got = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      got += value.length;
    }
    expect(got + 64 * 1024).toBeGreaterThanOrEqual(total);
  });

  it("aborts a request and the connection under it", async () => {
    const { fetch } = setup(() => new Promise<Response>(() => {}));
    const controller = new AbortController();
    const pending = fetch("http://10.0.0.2/", { signal: controller.signal });
    setTimeout(() => controller.abort(), 2);
    await expect(pending).rejects.toMatchObject({ name: "AbortError" });
    expect(fetch.stats.connections).toBe(0);
  });

  it("retries an idempotent request once when a pooled connection was closed", async () => {
    let connections = 0;
    const tcp = rawServer(async (flow) => {
      connections++;
      // Answers one request per connection, keep-alive promised, then closes without saying so.
      await flow.read();
      await flow.write(enc.encode("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"));
      await flow.close();
    });
    const fetch = createFetch({ tcp });
    expect(await (await fetch("http://10.0.0.2/")).text()).toBe("ok");
    expect(await (await fetch("http://10.0.0.2/")).text()).toBe("ok");
    expect(connections).toBe(2);
  });

  it("skips 1xx responses and reads bodies delimited by close", async () => {
    const tcp = rawServer(async (flow) => {
      await flow.read();
      await flow.write(
        enc.encode(
          "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.0 200 OK\r\n\r\nuntil the end",
        ),
      );
      await flow.close();
    });
    const response = await createFetch({ tcp })("http://10.0.0.2/");
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("until the end");
  });

  it("rejects with a TypeError whose cause is typed for bad responses and bad URLs", async () => {
    const tcp = rawServer(async (flow) => {
      await flow.read();
      await flow.write(
        latin1Bytes("HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab"),
      );
      await flow.close();
    });
    const fetch = createFetch({ tcp });
    const bad = await fetch("http://10.0.0.2/").catch((e) => e);
    expect(bad).toBeInstanceOf(TypeError);
    expect(isAtollError(bad.cause, "ATOLL_HTTP_BAD_RESPONSE")).toBe(true);
    const dns = await fetch("http://example.com/").catch((e) => e);
    expect(isAtollError(dns.cause, "ATOLL_HTTP_UNSUPPORTED")).toBe(true);
    const tls = await fetch("https://10.0.0.2/").catch((e) => e);
    expect(isAtollError(tls.cause, "ATOLL_HTTP_UNSUPPORTED")).toBe(true);
    const refused = await fetch("http://10.0.0.2:81/").catch((e) => e);
    expect(isAtollError(refused.cause, "ATOLL_TCP_REFUSED")).toBe(true);
  });

  it("resolves names through the resolve option", async () => {
    const { fetch } = setup((r) => new Response(r.headers.get("host")), {
      resolve: (name) => (name === "site.test" ? "10.0.0.2" : "none"),
    });
    expect(await (await fetch("http://site.test/")).text()).toBe("site.test");
  });

  it("closes idle pooled connections after the idle timeout", async () => {
    const world = new VirtualTime();
    const { fetch } = setup(() => new Response("ok"), {
      time: world.timers,
      idleTimeoutNs: seconds(4),
    });
    await (await fetch("http://10.0.0.2/")).text();
    expect(fetch.stats.idleConnections).toBe(1);
    await world.advance(seconds(4));
    expect(fetch.stats).toMatchObject({ idleConnections: 0, connections: 0 });
  });

  it("times out a response head that never comes", async () => {
    const world = new VirtualTime();
    const { fetch } = setup(() => new Promise<Response>(() => {}), {
      time: world.timers,
      headersTimeoutNs: seconds(10),
    });
    const error = await world.run(fetch("http://10.0.0.2/").catch((e) => e));
    expect(isAtollError(error.cause, "ATOLL_HTTP_TIMEOUT")).toBe(true);
    expect(world.now()).toBe(seconds(10));
  });
});
