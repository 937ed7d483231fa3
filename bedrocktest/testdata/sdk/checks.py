"""Drives the Bedrock emulator with boto3. Run by sdk_scripts_test.go.

Prints one line per check, "PASS name: detail" or "FAIL name: reason", and exits 1 if any
check failed. The environment is that of checks.js: TOLLGATE_ENDPOINT, TOLLGATE_MODEL,
TOLLGATE_COUNT_MODEL, TOLLGATE_THROTTLED_MODEL, TOLLGATE_QUOTA_CODE, TOLLGATE_QUOTA_VALUE
and the usual AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION (AWS_CA_BUNDLE for a
self-signed certificate).
"""

import json
import os
import sys

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = os.environ["TOLLGATE_ENDPOINT"]
MODEL = os.environ["TOLLGATE_MODEL"]
# total_max_attempts 1 (no retry): every error surfaces as it was answered, the throttle included.
CONFIG = Config(retries={"total_max_attempts": 1, "mode": "standard"})
runtime = boto3.client("bedrock-runtime", endpoint_url=ENDPOINT, config=CONFIG)
quotas = boto3.client("service-quotas", endpoint_url=ENDPOINT, config=CONFIG)

MESSAGES = [{"role": "user", "content": [{"text": "please summarise these seven words"}]}]
ANTHROPIC_BODY = json.dumps({
    "anthropic_version": "bedrock-2023-05-31",
    "max_tokens": 200,
    "messages": [{"role": "user", "content": "please summarise these seven words"}],
})


class CheckFailed(Exception):
    pass


def check(cond, message):
    if not cond:
        raise CheckFailed(message)


def expect_error(fn):
    try:
        fn()
    except ClientError as err:
        return err
    raise CheckFailed("the call succeeded, want an error")


def version():
    return f"boto3 {boto3.__version__}, botocore {botocore.__version__}"


def converse():
    out = runtime.converse(modelId=MODEL, messages=MESSAGES, inferenceConfig={"maxTokens": 200})
    usage = out["usage"]
    text = out["output"]["message"]["content"][0]["text"]
    check(usage["inputTokens"] > 0 and usage["outputTokens"] > 0, f"usage {usage}")
    check(usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"], f"total {usage}")
    check(text, "empty reply")
    check(out["stopReason"] in ("end_turn", "max_tokens"), f"stop reason {out['stopReason']}")
    return f"{usage['inputTokens']} in, {usage['outputTokens']} out, stop {out['stopReason']}"


def converse_stream():
    out = runtime.converse_stream(modelId=MODEL, messages=MESSAGES, inferenceConfig={"maxTokens": 200})
    text, stop, usage = "", "", None
    for ev in out["stream"]:
        if "contentBlockDelta" in ev:
            text += ev["contentBlockDelta"]["delta"]["text"]
        if "messageStop" in ev:
            stop = ev["messageStop"]["stopReason"]
        if "metadata" in ev:
            usage = ev["metadata"]["usage"]
    check(text, "no text deltas")
    check(stop, "no messageStop")
    check(usage and usage["outputTokens"] > 0, f"metadata usage {usage}")
    return f"{len(text.split())} words, {usage['outputTokens']} out, stop {stop}"


def invoke_model():
    out = runtime.invoke_model(modelId=MODEL, contentType="application/json", accept="application/json", body=ANTHROPIC_BODY)
    reply = json.loads(out["body"].read())
    check(reply["type"] == "message" and reply["content"][0]["type"] == "text", f"reply {str(reply)[:200]}")
    check(reply["usage"]["input_tokens"] > 0 and reply["usage"]["output_tokens"] > 0, f"usage {reply['usage']}")
    headers = out["ResponseMetadata"]["HTTPHeaders"]
    check(int(headers["x-amzn-bedrock-output-token-count"]) == reply["usage"]["output_tokens"], f"headers {headers}")
    return f"{reply['usage']['input_tokens']} in, {reply['usage']['output_tokens']} out, stop {reply['stop_reason']}"


def invoke_model_stream():
    out = runtime.invoke_model_with_response_stream(modelId=MODEL, contentType="application/json", body=ANTHROPIC_BODY)
    types, metrics = [], None
    for ev in out["body"]:
        check("chunk" in ev, f"event {list(ev)} is not a chunk")
        chunk = json.loads(ev["chunk"]["bytes"])
        types.append(chunk["type"])
        metrics = chunk.get("amazon-bedrock-invocationMetrics", metrics)
    check(types and types[0] == "message_start" and types[-1] == "message_stop", f"chunk types {types}")
    check(metrics and metrics["outputTokenCount"] > 0, "no amazon-bedrock-invocationMetrics")
    return f"{len(types)} chunks, {metrics['outputTokenCount']} out"


def count_tokens():
    counted = runtime.count_tokens(modelId=os.environ["TOLLGATE_COUNT_MODEL"], input={"converse": {"messages": MESSAGES}})
    conv = runtime.converse(modelId=MODEL, messages=MESSAGES, inferenceConfig={"maxTokens": 10})
    check(counted["inputTokens"] == conv["usage"]["inputTokens"],
          f"counted {counted['inputTokens']}, Converse charged {conv['usage']['inputTokens']}")
    return f"{counted['inputTokens']} tokens, as Converse charges"


def list_service_quotas():
    code = os.environ["TOLLGATE_QUOTA_CODE"]
    want = float(os.environ["TOLLGATE_QUOTA_VALUE"])
    pages = quotas.get_paginator("list_service_quotas").paginate(ServiceCode="bedrock", PaginationConfig={"PageSize": 2})
    found = [q for page in pages for q in page["Quotas"]]
    match = [q for q in found if q["QuotaCode"] == code]
    check(match, f"{code} not among {len(found)} quotas")
    check(match[0]["Value"] == want, f"{code} = {match[0]['Value']}, want {want}")
    return f"{len(found)} quotas over pages of 2, {code} = {match[0]['Value']:.0f}"


def unknown_model():
    err = expect_error(lambda: runtime.converse(modelId="us.example.unknown-v1:0", messages=MESSAGES))
    code, status = err.response["Error"]["Code"], err.response["ResponseMetadata"]["HTTPStatusCode"]
    check(code == "ValidationException" and status == 400, f"error {code} ({status}): {err}")
    check(err.response["Error"]["Message"] == "The provided model identifier is invalid.", f"message {err.response['Error']['Message']}")
    check(isinstance(err, runtime.exceptions.ValidationException), f"exception class {type(err).__name__}")
    return f"{code} ({status}): {err.response['Error']['Message']}"


def throttle():
    err = expect_error(lambda: runtime.converse(modelId=os.environ["TOLLGATE_THROTTLED_MODEL"], messages=MESSAGES))
    code, status = err.response["Error"]["Code"], err.response["ResponseMetadata"]["HTTPStatusCode"]
    check(code == "ThrottlingException" and status == 429, f"error {code} ({status}): {err}")
    check(isinstance(err, runtime.exceptions.ThrottlingException), f"exception class {type(err).__name__}")
    attempts = err.response["ResponseMetadata"].get("RetryAttempts", 0)
    check(attempts == 0, f"{attempts} retries, want none")
    return f"{code} ({status}): {err.response['Error']['Message']}"


CHECKS = [
    ("version", version),
    ("Converse", converse),
    ("ConverseStream", converse_stream),
    ("InvokeModel", invoke_model),
    ("InvokeModelWithResponseStream", invoke_model_stream),
    ("CountTokens", count_tokens),
    ("ListServiceQuotas", list_service_quotas),
    ("unknown model", unknown_model),
    ("throttle", throttle),
]


def main():
    failed = 0
    for name, fn in CHECKS:
        try:
            print(f"PASS {name}: {fn()}", flush=True)
        except Exception as err:  # every failure is reported, the run goes on
            failed += 1
            print(f"FAIL {name}: {type(err).__name__}: {err}".replace("\n", " "), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
