/** Replaced at build time from package.json by scripts/build.mjs; this value is for running from source. */
declare const __POD_VERSION__: string | undefined;
export const VERSION: string = typeof __POD_VERSION__ === "string" ? __POD_VERSION__ : "0.0.0-dev";
