// The byte rings: whatever the interleaving of pushes and drains, entries
// arrive whole and in order; whatever a corrupt peer writes, the reader stays
// inside the ring, reports the violation and resynchronises.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RING_HEADER_BYTES, RingWord } from "../src/abi.js";
import { CopyingRingConsumer, RingConsumer, RingProducer } from "../src/ring.js";

const place = (capacity: number) => [64, capacity] as const;
const memory = (capacity: number) => new SharedArrayBuffer(64 + RING_HEADER_BYTES + capacity + 64);

describe("rings", () => {
  it("deliver every pushed entry whole and in order, across wrap-arounds", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.constant("drain" as const)), {
          maxLength: 200,
        }),
        fc.boolean(),
        (ops, copy) => {
          const mem = memory(1024);
          const producer = new RingProducer(mem, place(1024));
          const consumer = copy
            ? new CopyingRingConsumer(mem, place(1024), 1024)
            : new RingConsumer(mem, place(1024), 1024);
          const sent: number[][] = [];
          const received: number[][] = [];
          const drain = () => consumer.drain((e) => void received.push([...e]));
          for (const op of ops) {
            if (op === "drain") drain();
            else if (producer.push(op.subarray(0, 5), op.subarray(5))) sent.push([...op]);
            else {
              drain();
              expect(producer.push(op)).toBe(true);
              sent.push([...op]);
            }
          }
          drain();
          expect(received).toEqual(sent);
          expect(consumer.errors).toBe(0);
          expect(producer.empty).toBe(true);
        },
      ),
      { seed: 7, numRuns: 300 },
    );
  });

  it("refuse entries larger than half the ring, and report when full", () => {
    const mem = memory(256);
    const producer = new RingProducer(mem, place(256));
    expect(producer.maxPayload).toBe(124);
    expect(producer.push(new Uint8Array(125))).toBe(false);
    expect(producer.push(new Uint8Array(124))).toBe(true);
    expect(producer.free()).toBe(128);
    expect(producer.push(new Uint8Array(124))).toBe(true);
    expect(producer.push(new Uint8Array(1))).toBe(false);
    expect(producer.free()).toBe(0);
  });

  it("survive any corruption of the shared words and data, staying in bounds", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(64 + RING_HEADER_BYTES + 512 + 63), fc.integer()), {
          minLength: 1,
          maxLength: 20,
        }),
        fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 10 }),
        (writes, entries) => {
          const mem = memory(512);
          const producer = new RingProducer(mem, place(512));
          for (const e of entries) producer.push(e);
          const view = new DataView(mem);
          for (const [offset, value] of writes) view.setInt32(offset & ~3, value, true);
          const consumer = new CopyingRingConsumer(mem, place(512), 200);
          const before = new Uint8Array(mem.slice(0, 64));
          for (let round = 0; round < 3; round++)
            consumer.drain((entry) => {
              expect(entry.length).toBeLessThanOrEqual(200);
            });
          // The reader wrote only its own counter.
          expect(new Uint8Array(mem.slice(0, 64))).toEqual(before);
          const head = new Int32Array(mem)[(64 >> 2) + RingWord.head]!;
          const tail = new Int32Array(mem)[(64 >> 2) + RingWord.tail]!;
          if (consumer.errors > 0) expect(head).toBe(tail);
        },
      ),
      { seed: 11, numRuns: 500 },
    );
  });

  it("names the violation: an oversized entry, an impossible counter", () => {
    const mem = memory(256);
    const words = new Int32Array(mem);
    const consumer = new CopyingRingConsumer(mem, place(256), 100);
    new Uint32Array(mem)[(64 + RING_HEADER_BYTES) >> 2] = 5000;
    words[(64 >> 2) + RingWord.tail] = 8;
    expect(consumer.drain(() => {})).toBe(0);
    expect(consumer.lastError).toBe("entry of 5000 bytes");
    words[(64 >> 2) + RingWord.tail] = 8 + 4096;
    consumer.drain(() => {});
    expect(consumer.lastError).toMatch(/impossible producer counter/);
    expect(consumer.errors).toBe(2);
  });
});
