// The light build of zod for the modules every command loads (manifest, status,
// event schemas): zod/mini costs ~6 ms at start-up where classic zod costs ~26 ms,
// and `pod status` must start nearly as fast as node itself (bench/results.md).
// zod/mini ships no error messages by default; importing this module installs the
// English ones. (Modules import `* as z from "zod/mini"` themselves: re-exporting the
// namespace from here would stop the bundler from dropping the parts not used.)
import { config } from "zod/mini";
import en from "zod/v4/locales/en.js";

config(en());
