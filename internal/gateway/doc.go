// Package gateway is the HTTP side of "tollgate serve": a Bedrock Runtime endpoint that
// any AWS SDK reaches by setting AWS_ENDPOINT_URL_BEDROCK_RUNTIME and a gateway key.
//
// It authenticates every request (AWS Signature Version 4 verified against the key's
// secret, or a bearer token), maps the key to its tenant, reads the call's priority,
// and hands the call to a Handler; around that it serves /healthz, /readyz, /metrics
// and a live status page at /. Keys and tenants live in a YAML file (File) whose
// changes a running server picks up within about a second; each key's secret is
// derived from a master secret kept in a separate file, so no secret is stored.
package gateway
