// Built alone as dist/undici.cjs: undici is ~500 kB minified and only a run behind a
// proxy needs it, so the command bundles load it from here on demand (upstream-proxy.ts).
export { Agent, Dispatcher, ProxyAgent, fetch } from "undici";
