// Key-value errors, each with a stable code, after mirage-kv's error and
// write_error variants plus what a store over a disk can run into.

import { AtollError, type AtollErrorOptions } from "@atoll/core";

abstract class KeyError extends AtollError {
  readonly key: string;
  constructor(code: string, key: string, message: string) {
    super(code, message);
    this.key = key;
  }
}

/** A key is malformed: an empty segment, `.` or `..`, a NUL, or not a string. */
export class InvalidKeyError extends AtollError {
  readonly key: string;
  constructor(key: string, reason: string) {
    super("ATOLL_KV_INVALID_KEY", `invalid key ${JSON.stringify(key)}: ${reason}`);
    this.key = key;
  }
}

/** Nothing is bound to the key. */
export class KeyNotFoundError extends KeyError {
  constructor(key: string) {
    super("ATOLL_KV_NOT_FOUND", key, `${key} not found`);
  }
}

/** The key is a value where a dictionary was needed (list under it, create keys below it). */
export class DictionaryExpectedError extends KeyError {
  constructor(key: string) {
    super("ATOLL_KV_DICTIONARY_EXPECTED", key, `${key} is a value, not a dictionary`);
  }
}

/** The key is a dictionary where a value was needed (get, size, set over it). */
export class ValueExpectedError extends KeyError {
  constructor(key: string) {
    super("ATOLL_KV_VALUE_EXPECTED", key, `${key} is a dictionary, not a value`);
  }
}

/** `allocate` on a key that exists. */
export class AlreadyPresentError extends KeyError {
  constructor(key: string) {
    super("ATOLL_KV_ALREADY_PRESENT", key, `${key} already exists`);
  }
}

/** `rename` of a dictionary into itself (or of the root). */
export class RenameSourcePrefixError extends AtollError {
  readonly source: string;
  readonly dest: string;
  constructor(source: string, dest: string) {
    super(
      "ATOLL_KV_RENAME_SOURCE_PREFIX",
      `cannot move ${source} into ${dest}: the destination is inside the source`,
    );
    this.source = source;
    this.dest = dest;
  }
}

/** The store is full. */
export class NoSpaceError extends AtollError {
  constructor(detail: string) {
    super("ATOLL_KV_NO_SPACE", `no space left: ${detail}`);
  }
}

/** An offset or length is negative or not an integer. */
export class KvRangeError extends AtollError {
  constructor(message: string) {
    super("ATOLL_KV_RANGE", message);
  }
}

/** The image is damaged: a bad checksum, a truncated archive, a malformed header. */
export class CorruptStoreError extends AtollError {
  /** Byte offset on the device where the damage was found, when known. */
  readonly offset: number | undefined;
  constructor(message: string, offset?: number, options?: AtollErrorOptions) {
    super(
      "ATOLL_KV_CORRUPT",
      offset === undefined ? message : `${message} (at byte ${offset})`,
      options,
    );
    this.offset = offset;
  }
}

/** The device holds something else: not this store's format, or an unsupported version. */
export class UnknownFormatError extends AtollError {
  constructor(message: string) {
    super("ATOLL_KV_FORMAT", message);
  }
}

/** The host refused (permissions, a symlink on the way, an I/O error); `cause` holds its error. */
export class KvIoError extends AtollError {
  constructor(message: string, options?: AtollErrorOptions) {
    super("ATOLL_KV_IO", message, options);
  }
}
