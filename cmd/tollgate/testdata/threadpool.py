"""A plain boto3 program of the kind a team writes: a pool of 16 threads reviewing 40
contracts through Converse, with boto3's default retries and nothing else.

Run by TestServeBoto3ThreadPool through "tollgate serve"; it knows nothing of Tollgate but
the environment (AWS_ENDPOINT_URL_BEDROCK_RUNTIME and a gateway key). Arguments: the
contracts folder and the model id. Prints one JSON object: documents done and failed, and
the errors.
"""

import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import boto3

folder, model = sys.argv[1], sys.argv[2]
files = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".txt"))
jobs = [files[i % len(files)] for i in range(40)]
client = boto3.client("bedrock-runtime", region_name="us-east-1")


def review(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    r = client.converse(
        modelId=model,
        system=[{"text": "You review contracts for a legal team."}],
        messages=[{"role": "user", "content": [{"text": "List the parties, the term and the termination clauses of this contract:\n\n" + text}]}],
        inferenceConfig={"maxTokens": 800},
    )
    return r["output"]["message"]["content"][0]["text"]


done, errors = 0, []
with ThreadPoolExecutor(max_workers=16) as pool:
    futures = [pool.submit(review, p) for p in jobs]
    for fut in futures:
        try:
            if fut.result():
                done += 1
        except Exception as e:  # the program's error: what the issue counts
            errors.append(type(e).__name__ + ": " + str(e)[:200])
print(json.dumps({"done": done, "failed": len(errors), "errors": errors[:5]}))
