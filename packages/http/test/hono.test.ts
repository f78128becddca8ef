// A fetch-style framework runs unchanged: Hono's app.fetch is the handler.
import { Hono } from "hono";
import { streamText } from "hono/streaming";
import { describe, expect, it } from "vitest";
import { createFetch, serveHttp } from "../src/index.js";
import { memoryTcp } from "./support/flow-pair.js";
import { rawExchange } from "./support/raw.js";

function app() {
  const app = new Hono();
  app.use("*", async (c, next) => {
    await next();
    c.header("x-powered-by", "hono-on-atoll");
  });
  app.get("/", (c) => c.text("Hello from Hono"));
  app.get("/users/:id", (c) => c.json({ id: c.req.param("id"), q: c.req.query("q") ?? null }));
  app.post("/echo", async (c) =>
    c.json({ received: await c.req.json(), type: c.req.header("content-type") }),
  );
  app.get("/stream", (c) =>
    streamText(c, async (stream) => {
      for (let i = 0; i < 3; i++) {
        await stream.write(`line ${i}\n`);
        await stream.sleep(1);
      }
    }),
  );
  app.notFound((c) => c.text("nothing here", 404));
  return app;
}

describe("Hono app served by @atoll/http", () => {
  it("routes, parses JSON, streams, and 404s, reached with the Atoll client", async () => {
    const tcp = memoryTcp();
    const server = serveHttp(tcp, 8080, app().fetch);
    const fetch = createFetch({ tcp });
    const base = "http://10.0.0.2:8080";

    const root = await fetch(`${base}/`);
    expect(root.status).toBe(200);
    expect(root.headers.get("x-powered-by")).toBe("hono-on-atoll");
    expect(await root.text()).toBe("Hello from Hono");

    expect(await (await fetch(`${base}/users/42?q=atoll`)).json()).toEqual({
      id: "42",
      q: "atoll",
    });

    const posted = await fetch(`${base}/echo`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ hello: ["world", 1] }),
    });
    expect(await posted.json()).toEqual({
      received: { hello: ["world", 1] },
      type: "application/json",
    });

    const streamed = await fetch(`${base}/stream`);
    expect(await streamed.text()).toBe("line 0\nline 1\nline 2\n");

    const missing = await fetch(`${base}/nope`);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toBe("nothing here");

    expect(fetch.stats.connects).toBe(1);
    await fetch.close();
    await server.close();
    expect(server.stats.requests).toBe(5);
  });

  it("answers HEAD and streams chunked on the wire", async () => {
    const out = await rawExchange(
      app().fetch,
      "HEAD / HTTP/1.1\r\nHost: a\r\n\r\nGET /stream HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    const [head, stream] = out.split(/(?=HTTP\/1\.1 )/);
    // Hono answers HEAD with the GET headers and a null body: no length to announce, no body sent.
    expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*x-powered-by: hono-on-atoll\r\n\r\n$/);
    expect(head).not.toContain("content-length");
    expect(stream).toMatch(
      /^HTTP\/1\.1 200 OK\r\n[\s\S]*transfer-encoding: chunked\r\n[\s\S]*\r\n\r\n7\r\nline 0\n\r\n/,
    );
    expect(stream!.endsWith("0\r\n\r\n")).toBe(true);
  });
});
