// notes: a unikernel that keeps notes in a key-value store, after MirageOS's
// kv examples. Each run does what its arguments say — add a note, delete one,
// list them — and the notes are there on the next run: the store is the
// crash-safe log store on a block device, flushed before the run ends.

import { Console } from "@atoll/console";
import { arg, createUnikernel } from "@atoll/core";
import { KvRw } from "@atoll/kv";

const decoder = new TextDecoder();

/** Notes live at /notes/<number>, zero-padded so that the store lists them in order. */
const keyOf = (id: number) => `/notes/${String(id).padStart(8, "0")}`;

export const Notes = createUnikernel({
  name: "notes",
  description: "keeps notes on a block device across runs",
  needs: { console: Console, notes: KvRw },
  args: {
    add: arg.string({ optional: true, doc: "add a note with this text" }),
    delete: arg.int({ optional: true, min: 1, doc: "delete the note with this number" }),
    list: arg.bool({ doc: "list the notes (the default when nothing else is asked)" }),
  },
  async start({ console, notes }, args) {
    const entries = (await notes.exists("/notes")) ? await notes.list("/notes") : [];
    const ids = entries.map((e) => Number(e.name));
    if (args.add !== undefined) {
      const id = Math.max(0, ...ids) + 1;
      await notes.set(keyOf(id), args.add);
      await notes.flush();
      console.write(`added note ${id}\n`);
    }
    if (args.delete !== undefined) {
      if (!ids.includes(args.delete)) {
        console.write(`no note ${args.delete}\n`);
      } else {
        await notes.remove(keyOf(args.delete));
        await notes.flush();
        console.write(`deleted note ${args.delete}\n`);
      }
    }
    if (args.list || (args.add === undefined && args.delete === undefined)) {
      const current = (await notes.exists("/notes")) ? await notes.list("/notes") : [];
      if (current.length === 0) console.write("no notes\n");
      for (const entry of current) {
        const when = new Date(await notes.lastModified(entry.key))
          .toISOString()
          .slice(0, 16)
          .replace("T", " ");
        const text = decoder.decode(await notes.get(entry.key));
        console.write(`${String(Number(entry.name)).padStart(4)}  ${when}  ${text}\n`);
      }
    }
  },
});
