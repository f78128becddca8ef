// The in-memory index every store keeps: a tree of dictionaries whose leaves
// carry a driver's payload (the bytes, or where they are on the disk). It
// implements mirage-kv's rules once — which dictionaries a write creates, what
// a rename moves where, which errors come back — so every driver agrees.

import {
  DictionaryExpectedError,
  KeyNotFoundError,
  RenameSourcePrefixError,
  ValueExpectedError,
} from "./errors.js";
import { formatKey, isPrefix } from "./key.js";
import type { KvEntry } from "./signature.js";

export interface ValueNode<T> {
  readonly kind: "value";
  data: T;
}

export interface DictionaryNode<T> {
  readonly kind: "dictionary";
  readonly children: Map<string, Node<T>>;
  /**
   * Set for a dictionary that exists on its own (a directory entry in a tar
   * archive): its modification time. Implicit dictionaries disappear with
   * their last entry; explicit ones stay until removed.
   */
  explicit: number | undefined;
}

export type Node<T> = ValueNode<T> | DictionaryNode<T>;

const dictionary = <T>(explicit?: number): DictionaryNode<T> => ({
  kind: "dictionary",
  children: new Map(),
  explicit,
});

/** Where a rename moves its source, decided before anything changes. */
export interface RenamePlan {
  readonly from: readonly string[];
  readonly to: readonly string[];
  /** The source is already where it would go. */
  readonly noop: boolean;
}

export class KeyTree<T> {
  readonly root: DictionaryNode<T> = dictionary();

  /** The node at `segments`, or undefined (missing, or below a value). */
  find(segments: readonly string[]): Node<T> | undefined {
    let node: Node<T> = this.root;
    for (const s of segments) {
      if (node.kind !== "dictionary") return undefined;
      const next = node.children.get(s);
      if (next === undefined) return undefined;
      node = next;
    }
    return node;
  }

  /** The value at `segments`; ATOLL_KV_NOT_FOUND or ATOLL_KV_VALUE_EXPECTED otherwise. */
  value(segments: readonly string[]): ValueNode<T> {
    const node = this.find(segments);
    if (node === undefined) throw new KeyNotFoundError(formatKey(segments));
    if (node.kind !== "value") throw new ValueExpectedError(formatKey(segments));
    return node;
  }

  /** Throws what `set` would throw, changing nothing. */
  checkSet(segments: readonly string[]): void {
    if (segments.length === 0) throw new ValueExpectedError("/");
    let node: Node<T> = this.root;
    for (let i = 0; i < segments.length; i++) {
      if (node.kind === "value") throw new DictionaryExpectedError(formatKey(segments));
      const next: Node<T> | undefined = node.children.get(segments[i]!);
      if (next === undefined) return;
      node = next;
    }
    if (node.kind === "dictionary") throw new ValueExpectedError(formatKey(segments));
  }

  /** Binds `segments` to a value carrying `data`, creating dictionaries on the way. */
  set(segments: readonly string[], data: T): ValueNode<T> {
    this.checkSet(segments);
    const parent = this.#makeDictionaries(segments.slice(0, -1));
    const leaf: ValueNode<T> = { kind: "value", data };
    parent.children.set(segments.at(-1)!, leaf);
    return leaf;
  }

  /**
   * Records an explicit dictionary (a directory entry). Returns false, changing
   * nothing, when a value is in the way.
   */
  setDictionary(segments: readonly string[], mtime: number): boolean {
    let node: DictionaryNode<T> = this.root;
    for (const s of segments) {
      const next = node.children.get(s);
      if (next === undefined) {
        const created = dictionary<T>();
        node.children.set(s, created);
        node = created;
      } else if (next.kind === "value") {
        return false;
      } else {
        node = next;
      }
    }
    if (segments.length > 0) node.explicit = Math.max(node.explicit ?? 0, mtime);
    return true;
  }

  /** Removes whatever is at `segments` (the root: everything) and returns it. */
  remove(segments: readonly string[]): Node<T> | undefined {
    if (segments.length === 0) {
      const all = dictionary<T>();
      for (const [k, v] of this.root.children) all.children.set(k, v);
      this.root.children.clear();
      return all;
    }
    const path: DictionaryNode<T>[] = [this.root];
    let node: Node<T> = this.root;
    for (const s of segments.slice(0, -1)) {
      if (node.kind !== "dictionary") return undefined;
      const next: Node<T> | undefined = node.children.get(s);
      if (next === undefined || next.kind !== "dictionary") return undefined;
      path.push(next);
      node = next;
    }
    const parent = path.at(-1)!;
    const name = segments.at(-1)!;
    const removed = parent.children.get(name);
    if (removed === undefined) return undefined;
    parent.children.delete(name);
    // Implicit dictionaries exist only through their entries.
    for (let i = path.length - 1; i > 0; i--) {
      const d = path[i]!;
      if (d.children.size > 0 || d.explicit !== undefined) break;
      path[i - 1]!.children.delete(segments[i - 1]!);
    }
    return removed;
  }

  /** Decides where `source` goes, with mirage-kv's rules and errors; changes nothing. */
  planRename(source: readonly string[], dest: readonly string[]): RenamePlan {
    const src = formatKey(source);
    if (source.length === 0) throw new RenameSourcePrefixError(src, formatKey(dest));
    const node = this.find(source);
    if (node === undefined) throw new KeyNotFoundError(src);
    const target = this.find(dest);
    let to: readonly string[] = dest;
    if (target?.kind === "dictionary") to = [...dest, source.at(-1)!];
    else if (target?.kind === "value" && node.kind === "dictionary") {
      throw new DictionaryExpectedError(formatKey(dest));
    }
    if (node.kind === "dictionary" && isPrefix(source, to)) {
      throw new RenameSourcePrefixError(src, formatKey(dest));
    }
    const noop = to.length === source.length && isPrefix(source, to);
    if (!noop) {
      // Every dictionary on the way to `to` must exist, or be creatable once the source is gone.
      let walk: Node<T> = this.root;
      for (let i = 0; i < to.length - 1; i++) {
        if (i + 1 === source.length && isPrefix(source, to)) break; // the source goes away first
        const next: Node<T> | undefined =
          walk.kind === "dictionary" ? walk.children.get(to[i]!) : undefined;
        if (next === undefined) break;
        if (next.kind === "value") throw new DictionaryExpectedError(formatKey(to));
        walk = next;
      }
    }
    return { from: source, to, noop };
  }

  /** Carries out a plan from `planRename`: the source replaces whatever is at the destination. */
  move(plan: RenamePlan): void {
    if (plan.noop) return;
    const node = this.remove(plan.from);
    if (node === undefined) throw new KeyNotFoundError(formatKey(plan.from));
    this.remove(plan.to);
    const parent = this.#makeDictionaries(plan.to.slice(0, -1));
    parent.children.set(plan.to.at(-1)!, node);
  }

  /** The entries of the dictionary at `segments`, sorted by name. */
  list(segments: readonly string[]): KvEntry[] {
    const node = this.find(segments);
    if (node === undefined) throw new KeyNotFoundError(formatKey(segments));
    if (node.kind !== "dictionary") throw new DictionaryExpectedError(formatKey(segments));
    return [...node.children.keys()].sort(compareNames).map((name) => ({
      key: formatKey([...segments, name]),
      name,
      kind: node.children.get(name)!.kind,
    }));
  }

  /** Every value at or below `segments`, with its full key segments. */
  *values(segments: readonly string[] = []): Generator<[string[], ValueNode<T>]> {
    const start = this.find(segments);
    if (start === undefined) return;
    const stack: Array<[string[], Node<T>]> = [[[...segments], start]];
    while (stack.length > 0) {
      const [path, node] = stack.pop()!;
      if (node.kind === "value") yield [path, node];
      else for (const [name, child] of node.children) stack.push([[...path, name], child]);
    }
  }

  /** Every explicit dictionary at or below `segments`. */
  *explicitDictionaries(segments: readonly string[] = []): Generator<[string[], number]> {
    const start = this.find(segments);
    if (start === undefined || start.kind !== "dictionary") return;
    const stack: Array<[string[], DictionaryNode<T>]> = [[[...segments], start]];
    while (stack.length > 0) {
      const [path, node] = stack.pop()!;
      if (node.explicit !== undefined && path.length > 0) yield [path, node.explicit];
      for (const [name, child] of node.children) {
        if (child.kind === "dictionary") stack.push([[...path, name], child]);
      }
    }
  }

  #makeDictionaries(segments: readonly string[]): DictionaryNode<T> {
    let node: DictionaryNode<T> = this.root;
    for (const s of segments) {
      const next = node.children.get(s);
      if (next === undefined) {
        const created = dictionary<T>();
        node.children.set(s, created);
        node = created;
      } else if (next.kind === "value") {
        throw new DictionaryExpectedError(formatKey(segments));
      } else {
        node = next;
      }
    }
    return node;
  }
}

/** Names sort by code point (UTF-16 order agrees with byte order for the BMP; this is exact). */
export function compareNames(a: string, b: string): number {
  if (a === b) return 0;
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done) return y.done ? 0 : -1;
    if (y.done) return 1;
    const cx = x.value.codePointAt(0)!;
    const cy = y.value.codePointAt(0)!;
    if (cx !== cy) return cx - cy;
  }
}
