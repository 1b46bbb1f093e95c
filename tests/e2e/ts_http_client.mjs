// A TypeScript-SDK client (npm @modelcontextprotocol/sdk) over streamable HTTP.
// Usage: node ts_http_client.mjs URL ; prints one JSON object with what it saw.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const url = new URL(process.argv[2]);
const client = new Client({ name: "codeloci-e2e-ts", version: "0.0.0" });
await client.connect(new StreamableHTTPClientTransport(url));
const tools = await client.listTools();
const chunk = await client.callTool({ name: "chunk", arguments: { paths: ["sample.ts"] } });
const parse = await client.callTool({ name: "parse", arguments: { path: "sample.go" } });
const refused = await client.callTool({ name: "parse", arguments: { path: "../../Cargo.toml" } });
console.log(JSON.stringify({
  tools: tools.tools.map((t) => t.name).sort(),
  chunkNames: chunk.structuredContent.chunks.map((c) => c.qualified_name).filter(Boolean),
  goDefinitions: parse.structuredContent.definitions.map((d) => d.qualified_name),
  refusedIsError: refused.isError === true,
  refusedText: refused.content[0].text,
}));
await client.close();
