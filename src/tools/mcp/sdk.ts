// The parts of the MCP SDK pod uses, as one module: the build bundles it on its own
// (dist/commands/ext/mcp-sdk.cjs), loaded only by a pod that has [mcp] servers.
export { Client } from "@modelcontextprotocol/sdk/client/index.js";
export { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
export { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
