// Package invoke is the only package of Tollgate that calls the AWS SDK's
// bedrockruntime client or inspects its error types. It builds the SDK clients
// (NewClient), classifies the outcome of one attempt (Classify), reads the usage a
// response reports (ConverseUsage, InvokeUsage) and watches event streams so that a
// stream's usage and output are known when it ends (WatchConverseStream,
// WatchInvokeStream).
//
// # One attempt per call
//
// Clients are built with aws.NopRetryer: the SDK makes exactly one HTTP attempt and
// Tollgate owns every retry, so that every throttle is seen by the limiter above.
//
// # Two SDK issues and how they are handled
//
// Both are in smithy-go v1.28.9 (see docs/emulator.md, "SDK note 1" and "SDK note 2").
//
// Closed request bodies. After writing a request body of known length, net/http's
// transport copies what is left of it to io.Discard to check that nothing is; for a
// body with WriteTo (the SDK's is one) that copy calls WriteTo. smithy-go closes the
// request body as soon as the response headers arrive, and its closed body's WriteTo
// returns io.EOF as an error: when a fast server answers before the transport made
// that check, the transport takes it for a write failure and closes the connection
// under the event stream being read, and stream.Err() reports "decode event: … use
// of closed network connection" (aws/aws-sdk-go-v2#2737 family). NewClient gives the
// SDK an HTTP client that never hands the transport the SDK's body: a body of up to
// 256 KiB is read into memory first (net/http then also writes it in the same system
// call as the headers), a longer one goes as a plain io.ReadCloser with no WriteTo, so
// the check uses Read, and a closed body's Read returns a clean io.EOF. The emulator's
// 2 ms delay before a stream's first frame hides the bug; the tests check the mechanism
// (the transport never sees the SDK's body) and run 300 concurrent streams against a
// server that answers at once.
//
// Shared event-stream decoder. A bedrockruntime.Client holds one restjson1 protocol,
// and that protocol holds one event-stream codec whose payload buffer every stream of
// the client decodes into: concurrent streams on one client race on it (the race
// detector reports it on codec.go with 50 concurrent streams, and payloads can be
// corrupted). NewClient wraps the client's protocol so that each stream event is
// decoded by a fresh restjson1 codec; nothing is shared between streams, and one
// client per target serves any number of concurrent streams. For clients built
// elsewhere, the per-call option PrivateCodec (or the ConverseStream and InvokeStream
// helpers) gives one call a protocol of its own. The non-streaming operations do not
// use the codec.
//
// # Streams
//
// The watchers replace the output's event stream by one that forwards the SDK's
// events unchanged through a single goroutine, observing them on the way: the text of
// the output, and the usage of the final metadata event (or of the
// amazon-bedrock-invocationMetrics of InvokeModelWithResponseStream's last chunk).
// When the stream ends — all events read, Close called, or an error or exception
// frame — the watcher calls its done function exactly once with what it saw, before
// the events channel is closed; Close waits for the goroutine. The SDK has no setter
// for an output's stream: the watcher sets the unexported field by reflection, after
// checking its name and type, and the tests fail if an SDK upgrade moves it.
package invoke
