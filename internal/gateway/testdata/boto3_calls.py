"""Calls a Tollgate gateway with boto3. Run by TestGatewayBoto3.

Environment: GATEWAY_ENDPOINT, GATEWAY_MODEL, and either AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY (SigV4) or AWS_BEARER_TOKEN_BEDROCK. EXPECT_ERROR, when set, is the
error code the Converse call must fail with. Prints one JSON object: what the calls returned.
"""

import json
import os
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

client = boto3.client(
    "bedrock-runtime",
    endpoint_url=os.environ["GATEWAY_ENDPOINT"],
    region_name="us-east-1",
    config=Config(retries={"total_max_attempts": 1}),
)
model = os.environ["GATEWAY_MODEL"]
messages = [{"role": "user", "content": [{"text": "hello"}]}]
expect = os.environ.get("EXPECT_ERROR")
try:
    out = client.converse(modelId=model, messages=messages, requestMetadata={"priority": "high"})
except ClientError as e:
    err = e.response["Error"]
    print(json.dumps({"error": err["Code"], "message": err["Message"]}))
    sys.exit(0 if expect == err["Code"] else 1)
if expect:
    print(json.dumps({"error": None}))
    sys.exit(1)
converse = out["output"]["message"]["content"][0]["text"]
inv = client.invoke_model(modelId=model, body=b'{"max_tokens": 5}', contentType="application/json")
print(json.dumps({"converse": converse, "invoke": inv["body"].read().decode()}))
