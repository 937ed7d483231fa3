// Drives the Bedrock emulator with the AWS SDK for JavaScript v3, on its default request
// handler (HTTP/2, also for http:// endpoints). Run by sdk_scripts_test.go; prints one line
// per check, "PASS name: detail" or "FAIL name: reason", and exits 1 if any check failed.
//
// Environment: TOLLGATE_ENDPOINT (the emulator's URL), TOLLGATE_MODEL (a model or profile
// id served with room), TOLLGATE_COUNT_MODEL (its base model id, for CountTokens),
// TOLLGATE_THROTTLED_MODEL (a model with a zero quota), TOLLGATE_QUOTA_CODE and
// TOLLGATE_QUOTA_VALUE (a quota the Service Quotas API must list), and the usual
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION.
"use strict";

const {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  InvokeModelCommand,
  InvokeModelWithResponseStreamCommand,
  CountTokensCommand,
} = require("@aws-sdk/client-bedrock-runtime");
const { ServiceQuotasClient, ListServiceQuotasCommand } = require("@aws-sdk/client-service-quotas");

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const endpoint = env("TOLLGATE_ENDPOINT");
const model = env("TOLLGATE_MODEL");
// maxAttempts 1: every error surfaces as it was answered, the throttle included.
const runtime = new BedrockRuntimeClient({ endpoint, maxAttempts: 1 });
const quotas = new ServiceQuotasClient({ endpoint, maxAttempts: 1 });

const messages = [{ role: "user", content: [{ text: "please summarise these seven words" }] }];
const anthropicBody = JSON.stringify({
  anthropic_version: "bedrock-2023-05-31",
  max_tokens: 200,
  messages: [{ role: "user", content: "please summarise these seven words" }],
});

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

// expectError runs fn and returns the error it must throw.
async function expectError(fn) {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error("the call succeeded, want an error");
}

const checks = [
  ["transport", async () => {
    const handler = runtime.config.requestHandler;
    const name = handler && handler.constructor && handler.constructor.name;
    assert(name === "NodeHttp2Handler", `request handler is ${name}, want the default NodeHttp2Handler`);
    const version = (pkg) => require(require("path").join(__dirname, "node_modules", pkg, "package.json")).version;
    return `${name}; Node.js ${process.version}, @aws-sdk/client-bedrock-runtime ${version("@aws-sdk/client-bedrock-runtime")}, ` +
      `@aws-sdk/client-service-quotas ${version("@aws-sdk/client-service-quotas")}`;
  }],
  ["Converse", async () => {
    const out = await runtime.send(new ConverseCommand({ modelId: model, messages, inferenceConfig: { maxTokens: 200 } }));
    const text = out.output.message.content[0].text;
    assert(out.usage.inputTokens > 0 && out.usage.outputTokens > 0, `usage ${JSON.stringify(out.usage)}`);
    assert(out.usage.totalTokens === out.usage.inputTokens + out.usage.outputTokens, `total ${JSON.stringify(out.usage)}`);
    assert(text.length > 0, "empty reply");
    assert(["end_turn", "max_tokens"].includes(out.stopReason), `stop reason ${out.stopReason}`);
    return `${out.usage.inputTokens} in, ${out.usage.outputTokens} out, stop ${out.stopReason}`;
  }],
  ["ConverseStream", async () => {
    const out = await runtime.send(new ConverseStreamCommand({ modelId: model, messages, inferenceConfig: { maxTokens: 200 } }));
    let text = "";
    let stop = "";
    let usage;
    for await (const ev of out.stream) {
      if (ev.contentBlockDelta) text += ev.contentBlockDelta.delta.text;
      if (ev.messageStop) stop = ev.messageStop.stopReason;
      if (ev.metadata) usage = ev.metadata.usage;
    }
    assert(text.length > 0, "no text deltas");
    assert(stop !== "", "no messageStop");
    assert(usage && usage.outputTokens > 0, `metadata usage ${JSON.stringify(usage)}`);
    return `${text.split(/\s+/).filter(Boolean).length} words, ${usage.outputTokens} out, stop ${stop}`;
  }],
  ["InvokeModel", async () => {
    const out = await runtime.send(new InvokeModelCommand({ modelId: model, contentType: "application/json", accept: "application/json", body: anthropicBody }));
    const reply = JSON.parse(new TextDecoder().decode(out.body));
    assert(reply.type === "message" && reply.content[0].type === "text", `reply ${JSON.stringify(reply).slice(0, 200)}`);
    assert(reply.usage.input_tokens > 0 && reply.usage.output_tokens > 0, `usage ${JSON.stringify(reply.usage)}`);
    return `${reply.usage.input_tokens} in, ${reply.usage.output_tokens} out, stop ${reply.stop_reason}`;
  }],
  ["InvokeModelWithResponseStream", async () => {
    const out = await runtime.send(new InvokeModelWithResponseStreamCommand({ modelId: model, contentType: "application/json", body: anthropicBody }));
    const types = [];
    let metrics;
    for await (const ev of out.body) {
      assert(ev.chunk, `event ${Object.keys(ev)} is not a chunk`);
      const chunk = JSON.parse(new TextDecoder().decode(ev.chunk.bytes));
      types.push(chunk.type);
      if (chunk["amazon-bedrock-invocationMetrics"]) metrics = chunk["amazon-bedrock-invocationMetrics"];
    }
    assert(types[0] === "message_start" && types[types.length - 1] === "message_stop", `chunk types ${types.join(",")}`);
    assert(metrics && metrics.outputTokenCount > 0, "no amazon-bedrock-invocationMetrics");
    return `${types.length} chunks, ${metrics.outputTokenCount} out`;
  }],
  ["CountTokens", async () => {
    const counted = await runtime.send(new CountTokensCommand({ modelId: env("TOLLGATE_COUNT_MODEL"), input: { converse: { messages } } }));
    const conv = await runtime.send(new ConverseCommand({ modelId: model, messages, inferenceConfig: { maxTokens: 10 } }));
    assert(counted.inputTokens === conv.usage.inputTokens, `counted ${counted.inputTokens}, Converse charged ${conv.usage.inputTokens}`);
    return `${counted.inputTokens} tokens, as Converse charges`;
  }],
  ["ListServiceQuotas", async () => {
    const code = env("TOLLGATE_QUOTA_CODE");
    const want = Number(env("TOLLGATE_QUOTA_VALUE"));
    const all = [];
    let token;
    do {
      const page = await quotas.send(new ListServiceQuotasCommand({ ServiceCode: "bedrock", NextToken: token, MaxResults: 2 }));
      all.push(...page.Quotas);
      token = page.NextToken;
    } while (token);
    const q = all.find((x) => x.QuotaCode === code);
    assert(q, `${code} not among ${all.length} quotas`);
    assert(q.Value === want, `${code} = ${q.Value}, want ${want}`);
    return `${all.length} quotas over pages of 2, ${code} = ${q.Value}`;
  }],
  ["unknown model", async () => {
    const err = await expectError(() => runtime.send(new ConverseCommand({ modelId: "us.example.unknown-v1:0", messages })));
    assert(err.name === "ValidationException", `error ${err.name}: ${err.message}`);
    assert(err.$metadata.httpStatusCode === 400, `status ${err.$metadata.httpStatusCode}`);
    assert(err.message === "The provided model identifier is invalid.", `message ${err.message}`);
    return `${err.name} (${err.$metadata.httpStatusCode}): ${err.message}`;
  }],
  ["throttle", async () => {
    const err = await expectError(() => runtime.send(new ConverseCommand({ modelId: env("TOLLGATE_THROTTLED_MODEL"), messages })));
    assert(err.name === "ThrottlingException", `error ${err.name}: ${err.message}`);
    assert(err.$metadata.httpStatusCode === 429, `status ${err.$metadata.httpStatusCode}`);
    assert(err.$metadata.attempts === 1, `${err.$metadata.attempts} attempts, want 1 (retries off)`);
    return `${err.name} (${err.$metadata.httpStatusCode}): ${err.message}`;
  }],
];

(async () => {
  let failed = 0;
  for (const [name, fn] of checks) {
    try {
      const detail = await fn();
      console.log(`PASS ${name}: ${detail}`);
    } catch (err) {
      failed++;
      console.log(`FAIL ${name}: ${(err && (err.name + ": " + err.message)) || err}`.replace(/\n/g, " "));
    }
  }
  runtime.destroy();
  quotas.destroy();
  process.exitCode = failed ? 1 : 0;
})();
