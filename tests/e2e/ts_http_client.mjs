// A TypeScript-SDK client (npm @modelcontextprotocol/sdk) over streamable HTTP.
// Usage: node ts_http_client.mjs URL BIG_ROOT ; prints one JSON object with what it saw
// (BIG_ROOT: a second root of the server holding many.py, whose chunk answer is large).
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const url = new URL(process.argv[2]);
const client = new Client({ name: "codeloci-e2e-ts", version: "0.0.0" });
await client.connect(new StreamableHTTPClientTransport(url));
const tools = await client.listTools();
const chunk = await client.callTool({ name: "chunk", arguments: { paths: ["sample.ts"] } });
const parse = await client.callTool({ name: "parse", arguments: { path: "sample.go" } });
const refused = await client.callTool({ name: "parse", arguments: { path: "../../Cargo.toml" } });
const big = await client.callTool({
  name: "chunk",
  arguments: { paths: ["many.py"], root: process.argv[3] },
});
console.log(JSON.stringify({
  tools: tools.tools.map((t) => t.name).sort(),
  chunkNames: chunk.structuredContent.chunks.map((c) => c.qualified_name).filter(Boolean),
  goDefinitions: parse.structuredContent.definitions.map((d) => d.qualified_name),
  refusedIsError: refused.isError === true,
  refusedText: refused.content[0].text,
  bigContent: big.structuredContent.chunks.map((c) => c.content).join(""),
  bigChunks: big.structuredContent.chunks.length,
  bigText: big.content.map((c) => c.text).join("\n"),
}));
await client.close();
