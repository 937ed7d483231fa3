// Package catalog describes the Amazon Bedrock models Tollgate knows and parses the ids
// and ARNs callers pass as a modelId.
//
// A [Model] carries what admission needs to know about a model: its output burndown rate
// (output tokens count 5× against the token quotas for Claude 3.7 and 4.x, 1× otherwise),
// the output-token cap Bedrock reserves when a request leaves max_tokens unset, its context
// window, whether Bedrock's CountTokens API serves it, whether it can be invoked by its plain
// id or only through an inference profile, and the Service Quotas entries (code, name,
// default value) that meter it in each [Scope]: on-demand, cross-region profile, global
// profile.
//
// [Parse] turns a modelId — a plain model id, an inference-profile id such as
// "us.anthropic.claude-sonnet-4-20250514-v1:0", or a foundation-model, inference-profile or
// application-inference-profile ARN — into a [Ref]: base model id, scope, geography and
// region. [Catalog.Lookup] does the same and finds the model, failing with an
// [*UnknownModelError] that lists the settings to supply when the model is not known.
//
// [Default] returns the built-in table. [Catalog.With] adds or replaces models from Go code,
// [Catalog.WithProfile] maps an application inference profile to what it wraps, and
// [Catalog.Load] reads both from a YAML configuration file (see docs/catalog.md).
//
// Quota defaults are the AWS defaults, per region where AWS lists regional values
// ([Quota.DefaultIn]); a zero value means "unknown", never "no quota". Real accounts often have less (new accounts)
// or more (approved increases): package internal/discover reads the applied values, and
// [Model.Limits] turns the defaults into [quota.Limit] values as the fallback.
//
// The package is pure data and parsing: it imports no AWS SDK. A *Catalog is immutable
// after it is built, so it is safe for concurrent use.
package catalog
