import type { Options } from "tsup";
export declare function atollTsup(options: {
  entry: Record<string, string>;
  platform?: "neutral" | "node";
  external?: (string | RegExp)[];
}): Options | Options[];
