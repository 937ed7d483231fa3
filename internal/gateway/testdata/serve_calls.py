"""Calls every Bedrock Runtime operation through "tollgate serve" with boto3.

Run by the serve tests. Environment: AWS_ENDPOINT_URL_BEDROCK_RUNTIME, GATEWAY_MODEL, and
either AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (SigV4) or AWS_BEARER_TOKEN_BEDROCK.
EXPECT_ERROR, when set, is the error code the first call must fail with. Prints one JSON
object: what each operation returned.
"""

import json
import os
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

client = boto3.client("bedrock-runtime", region_name="us-east-1", config=Config(retries={"total_max_attempts": 1}))
model = os.environ["GATEWAY_MODEL"]
messages = [{"role": "user", "content": [{"text": "Name the parties of this contract."}]}]
expect = os.environ.get("EXPECT_ERROR")
out = {}
try:
    r = client.converse(modelId=model, messages=messages, inferenceConfig={"maxTokens": 50}, requestMetadata={"priority": "high"})
except ClientError as e:
    err = e.response["Error"]
    print(json.dumps({"error": err["Code"], "message": err["Message"]}))
    sys.exit(0 if expect == err["Code"] else 1)
if expect:
    print(json.dumps({"error": None}))
    sys.exit(1)
headers = r["ResponseMetadata"]["HTTPHeaders"]
out["converse"] = {"text": r["output"]["message"]["content"][0]["text"], "usage": r["usage"],
                   "waited": headers.get("x-tollgate-waited"), "requestId": r["ResponseMetadata"]["RequestId"]}

r = client.converse_stream(modelId=model, messages=messages, inferenceConfig={"maxTokens": 50})
text, usage, events = "", None, 0
for ev in r["stream"]:
    events += 1
    if "contentBlockDelta" in ev:
        text += ev["contentBlockDelta"]["delta"].get("text", "")
    if "metadata" in ev:
        usage = ev["metadata"]["usage"]
out["converseStream"] = {"text": text, "usage": usage, "events": events}

body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 50, "messages": [{"role": "user", "content": "Name the parties."}]})
r = client.invoke_model(modelId=model, body=body, contentType="application/json")
headers = r["ResponseMetadata"]["HTTPHeaders"]
payload = json.loads(r["body"].read())
out["invoke"] = {"text": payload["content"][0]["text"], "inputTokens": headers.get("x-amzn-bedrock-input-token-count"),
                 "outputTokens": headers.get("x-amzn-bedrock-output-token-count"), "waited": headers.get("x-tollgate-waited")}

r = client.invoke_model_with_response_stream(modelId=model, body=body, contentType="application/json")
text, metrics, chunks = "", None, 0
for ev in r["body"]:
    chunks += 1
    c = json.loads(ev["chunk"]["bytes"])
    if c.get("type") == "content_block_delta":
        text += c["delta"].get("text", "")
    if "amazon-bedrock-invocationMetrics" in c:
        metrics = c["amazon-bedrock-invocationMetrics"]
out["invokeStream"] = {"text": text, "metrics": metrics, "chunks": chunks}

r = client.count_tokens(modelId=model, input={"converse": {"messages": messages}})
out["countTokens"] = r["inputTokens"]
print(json.dumps(out))
