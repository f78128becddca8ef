// Signatures: a typed, versioned name for a kind of device. A signature is a
// value (carried at run time, compared by id) and a type (the device's shape).

/** The base every device shape extends. Devices carry no mandatory members. */
// biome-ignore lint/suspicious/noEmptyInterface: the common ancestor of all device shapes
export interface Device {}

/** A signature id is `namespace.name/major`, e.g. `atoll.netif/1`. */
export type SignatureId = `${string}/${number}`;

export interface Signature<Shape extends Device = Device, Id extends string = string> {
  readonly kind: "atoll.signature";
  readonly id: Id;
  /** The name part of the id (`atoll.netif`). */
  readonly name: string;
  /** The major version part of the id. */
  readonly version: number;
  /** Phantom: never present at run time, carries the shape for the type checker. */
  readonly __shape?: Shape;
}

export type ShapeOf<S> = S extends Signature<infer Shape, string> ? Shape : never;
export type IdOf<S> = S extends Signature<Device, infer Id> ? Id : never;

const idPattern = /^([a-z][a-z0-9-]*(?:\.[a-z][a-z0-9-]*)*)\/([1-9][0-9]*)$/;

/**
 * Declares a signature. Curried so the shape is given explicitly and the id is inferred as a literal:
 *
 * ```ts
 * export interface Console extends Device { write(text: string): void }
 * export const Console = signature<Console>()("atoll.console/1");
 * ```
 */
export function signature<Shape extends Device>() {
  return <const Id extends SignatureId>(id: Id): Signature<Shape, Id> => {
    const match = idPattern.exec(id);
    if (match === null) {
      throw new TypeError(
        `invalid signature id "${id}": expected namespace.name/major, e.g. "atoll.netif/1"`,
      );
    }
    return Object.freeze({
      kind: "atoll.signature",
      id,
      name: match[1]!,
      version: Number(match[2]),
    });
  };
}

export function isSignature(value: unknown): value is Signature {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as { kind?: unknown }).kind === "atoll.signature" &&
    typeof (value as { id?: unknown }).id === "string"
  );
}
