// The parts of the MCP SDK pod uses, as one module: the build bundles it on its own
// (dist/commands/ext/mcp-sdk.cjs), loaded only by a pod that has [mcp] servers.
export { Client } from "@modelcontextprotocol/sdk/client/index.js";
// The stdio framing only: pod's own transport speaks over a confined process's pipes (stdio.ts).
export { ReadBuffer, serializeMessage } from "@modelcontextprotocol/sdk/shared/stdio.js";
export { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
