// Package bedrocktest is a local Amazon Bedrock Runtime for tests and load tests, shaped
// like net/http/httptest: NewServer starts one on a loopback port, its URL goes into the
// AWS SDK's BaseEndpoint, Close stops it; New gives the bare http.Handler to mount, and
// its Client calls it in-process, with no socket.
//
// It serves, with the real service's paths, status codes, x-amzn-ErrorType headers,
// {"message": …} error bodies, request ids and event-stream frames:
//
//   - Converse and ConverseStream;
//   - InvokeModel and InvokeModelWithResponseStream with Anthropic Messages bodies, with
//     the X-Amzn-Bedrock-Input-Token-Count, -Output-Token-Count and -Invocation-Latency
//     headers and the final amazon-bedrock-invocationMetrics chunk;
//   - CountTokens;
//   - the Service Quotas API (ListServiceQuotas, GetServiceQuota and their AWS-default
//     variants, awsJson1_1) with the codes and values of the models it serves;
//   - GET /_tollgate/stats (what every series of calls did, as JSON) and POST
//     /_tollgate/reset (Handler.Reset).
//
// # Metering
//
// Calls are metered per account (the access key id of the SigV4 signature), region,
// model and scope (on-demand model id, cross-region profile, global profile), as Bedrock
// meters them. When a call starts, it reserves
//
//	input + cache read + cache write + max_tokens
//
// (max_tokens is the model's default when unset; × burndown when
// Options.ReserveBurndown is set) against every limit of its series — tokens per
// minute, tokens per day and, when configured, the legacy requests per minute — and is
// throttled with HTTP 429 ThrottlingException ("Too many tokens…", "Too many tokens per
// day…", "Too many requests…") unless all have room. When it ends it is settled at
//
//	input + cache write + output × burndown
//
// and the difference is refunded or charged. Each limit is read either as a token bucket
// or as clock-minute (clock-day) windows (Options.Window: quota.TokenBucket or
// quota.ClockWindow). Handler.Stats totals the calls admitted and throttled and the
// overshoot; the stats endpoint reports, per series, the calls admitted, in flight and
// throttled by limit, the tokens reserved and settled, and the highest usage each limit
// ever saw (in clock mode the most one clock minute or day held, in bucket mode the
// deepest draw).
//
// The models and their default quotas are the catalog's (package catalog); Options.Models
// serves others, described as catalog.Models, and Options.Limits overrides quotas per
// model and scope.
//
// # Time
//
// Windows and latency run on an emulated clock: real time × Options.TimeScale since New.
// At scale 1 the emulated time is the real time; at another scale the emulated UTC
// minutes begin where a client's clock-window limits of scaled minutes do. A reply takes
// Latency.TimeToFirstToken plus Latency.PerOutputToken per further token, and streams
// send their text in deltas as it is produced. Replies are deterministic in the prompt;
// their length comes from Options.OutputTokens, clamped at max_tokens (stop reason
// max_tokens). Input tokens are counted with Options.Counter, by default a tokenizer that
// differs from the client's estimator as Claude's does.
//
// # Tests in a synctest bubble
//
// The emulator reads the time with time.Now and waits with timers, so inside a
// testing/synctest bubble it runs on the bubble's fake clock. Build the handler inside
// the bubble and give the SDK its Client: the SDK's waits (retry backoff) and the
// emulator's (latency, quota windows) then take no real time, and durations are exact.
// Leave the time scale at 1.
//
//	func TestSlowModel(t *testing.T) {
//		synctest.Test(t, func(t *testing.T) {
//			h, err := bedrocktest.New(bedrocktest.Options{
//				Latency: bedrocktest.Latency{TimeToFirstToken: 30 * time.Second, PerOutputToken: -1},
//			})
//			if err != nil {
//				t.Fatal(err)
//			}
//			defer h.Close()
//			client := bedrockruntime.New(bedrockruntime.Options{
//				Region:       "us-east-1",
//				BaseEndpoint: aws.String("http://bedrocktest"), // not looked up
//				Credentials:  credentials.NewStaticCredentialsProvider("AKID", "secret", ""),
//				HTTPClient:   h.Client(),
//			})
//			start := time.Now()
//			_, err = client.Converse(t.Context(), input)
//			// time.Since(start) is exactly 30s; the test took milliseconds.
//		})
//	}
//
// A tollgate.Client takes it as aws.Config.HTTPClient, with the same endpoint in its
// Target.

// # Faults
//
// Options.Faults (or SetFaults) injects, with seeded probabilities, 503
// ServiceUnavailableException, 500 InternalServerException, 429 ModelNotReadyException,
// mid-stream throttlingException and serviceUnavailableException frames, slow replies
// and dropped connections.
//
// docs/emulator.md lists what is faithful to Bedrock, what is assumed, and how to set
// each assumption. A Handler and a Server are safe for concurrent use.
package bedrocktest
