// The URL Standard's reference implementation (a devDependency of the Web API tests).
declare module "whatwg-url" {
  export const URL: typeof globalThis.URL;
  export const URLSearchParams: typeof globalThis.URLSearchParams;
}
