// Calls a Tollgate gateway with the AWS SDK for JavaScript v3. Run by TestGatewayJavaScriptSDK.
//
// Environment: SDK_DIR (a folder whose node_modules holds @aws-sdk/client-bedrock-runtime),
// GATEWAY_ENDPOINT, GATEWAY_MODEL, and either AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY
// (SigV4) or AWS_BEARER_TOKEN_BEDROCK. EXPECT_ERROR, when set, is the error name the
// Converse call must fail with. Prints one JSON object: what the calls returned.
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.env.SDK_DIR, "package.json"));
const { BedrockRuntimeClient, ConverseCommand, InvokeModelCommand } = require("@aws-sdk/client-bedrock-runtime");

const client = new BedrockRuntimeClient({ region: "us-east-1", endpoint: process.env.GATEWAY_ENDPOINT, maxAttempts: 1 });
const modelId = process.env.GATEWAY_MODEL;
const expect = process.env.EXPECT_ERROR;
let converse;
try {
  const out = await client.send(new ConverseCommand({
    modelId,
    messages: [{ role: "user", content: [{ text: "hello" }] }],
    requestMetadata: { priority: "high" },
  }));
  converse = out.output.message.content[0].text;
} catch (e) {
  console.log(JSON.stringify({ error: e.name, message: e.message }));
  process.exit(expect === e.name ? 0 : 1);
}
if (expect) {
  console.log(JSON.stringify({ error: null }));
  process.exit(1);
}
const inv = await client.send(new InvokeModelCommand({ modelId, body: new TextEncoder().encode('{"max_tokens": 5}'), contentType: "application/json" }));
console.log(JSON.stringify({ converse, invoke: new TextDecoder().decode(inv.body) }));
client.destroy();
