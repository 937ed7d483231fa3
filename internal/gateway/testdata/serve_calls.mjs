// Calls every Bedrock Runtime operation through "tollgate serve" with the AWS SDK for
// JavaScript v3. Run by TestServeJavaScriptSDKEveryOperation.
//
// Environment: SDK_DIR (a folder whose node_modules holds @aws-sdk/client-bedrock-runtime),
// AWS_ENDPOINT_URL_BEDROCK_RUNTIME, GATEWAY_MODEL, and either AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY (SigV4) or AWS_BEARER_TOKEN_BEDROCK. Prints one JSON object: what
// each operation returned.
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.env.SDK_DIR, "package.json"));
const {
  BedrockRuntimeClient, ConverseCommand, ConverseStreamCommand, InvokeModelCommand,
  InvokeModelWithResponseStreamCommand, CountTokensCommand,
} = require("@aws-sdk/client-bedrock-runtime");

const client = new BedrockRuntimeClient({ region: "us-east-1", maxAttempts: 1 });
// The raw headers of the last answer: the SDK does not expose the gateway's or
// InvokeModel's usage headers on its outputs.
let headers = {};
client.middlewareStack.add((next) => async (args) => {
  const r = await next(args);
  headers = r.response.headers;
  return r;
}, { step: "deserialize" });
const modelId = process.env.GATEWAY_MODEL;
const messages = [{ role: "user", content: [{ text: "Name the parties of this contract." }] }];
const out = {};

const conv = await client.send(new ConverseCommand({ modelId, messages, inferenceConfig: { maxTokens: 50 }, requestMetadata: { priority: "high" } }));
out.converse = { text: conv.output.message.content[0].text, usage: conv.usage, waited: headers["x-tollgate-waited"] };

const cs = await client.send(new ConverseStreamCommand({ modelId, messages, inferenceConfig: { maxTokens: 50 } }));
let text = "", usage = null, events = 0;
for await (const ev of cs.stream) {
  events++;
  if (ev.contentBlockDelta) text += ev.contentBlockDelta.delta.text ?? "";
  if (ev.metadata) usage = ev.metadata.usage;
}
out.converseStream = { text, usage, events };

const body = new TextEncoder().encode(JSON.stringify({ anthropic_version: "bedrock-2023-05-31", max_tokens: 50, messages: [{ role: "user", content: "Name the parties." }] }));
const inv = await client.send(new InvokeModelCommand({ modelId, body, contentType: "application/json" }));
out.invoke = { text: JSON.parse(new TextDecoder().decode(inv.body)).content[0].text, outputTokens: headers["x-amzn-bedrock-output-token-count"], waited: headers["x-tollgate-waited"] };

const is = await client.send(new InvokeModelWithResponseStreamCommand({ modelId, body, contentType: "application/json" }));
let itext = "", metrics = null, chunks = 0;
for await (const ev of is.body) {
  chunks++;
  const c = JSON.parse(new TextDecoder().decode(ev.chunk.bytes));
  if (c.type === "content_block_delta") itext += c.delta.text ?? "";
  if (c["amazon-bedrock-invocationMetrics"]) metrics = c["amazon-bedrock-invocationMetrics"];
}
out.invokeStream = { text: itext, metrics, chunks };

const ct = await client.send(new CountTokensCommand({ modelId, input: { converse: { messages } } }));
out.countTokens = ct.inputTokens;
console.log(JSON.stringify(out));
client.destroy();
