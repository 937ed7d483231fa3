package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/emustats"
	"github.com/tollgate-dev/tollgate/internal/quotatext"
	"github.com/tollgate-dev/tollgate/quota"
)

func init() { registered = append(registered, newEmulateCmd) }

// defaultEmulateAddr is where "tollgate emulate" listens unless --addr says otherwise.
const defaultEmulateAddr = "127.0.0.1:8480"

// emulateFlags are the flags of "tollgate emulate".
type emulateFlags struct {
	addr, config, catalogFile, window, region string
	timeScale, slowFactor                     float64
	reserveBurndown, legacyRPM, noPresets     bool
	ttft, perToken                            time.Duration
	outputTokens                              int
	tpm, tpd, rpm, faults                     []string
	faultSeed                                 uint64
	tlsCert, tlsKey                           string
}

func newEmulateCmd() *cobra.Command {
	var f emulateFlags
	cmd := &cobra.Command{
		Use:   "emulate [--addr 127.0.0.1:8480] [--config emulator.yaml]",
		Short: "Serve a local Bedrock Runtime that enforces quotas the way Bedrock does",
		Long: `Emulate serves a local Amazon Bedrock Runtime that the AWS SDKs cannot tell from the
real one for Converse, ConverseStream, InvokeModel, InvokeModelWithResponseStream and
CountTokens, plus the Service Quotas API (ListServiceQuotas, GetServiceQuota) for the
models it serves. Point any SDK at it with the environment variables it prints,
AWS_ENDPOINT_URL_BEDROCK_RUNTIME and AWS_ENDPOINT_URL_SERVICE_QUOTAS; any credentials do
(each access key id is a separate account with its own quotas).

It meters every call as Bedrock does, per account, region, model and scope (on-demand
model id, cross-region "us."/"eu."/… profile, "global." profile): at the start it reserves
input + cache read + cache write + max_tokens (the model's maximum when unset), at the end
it settles input + cache write + output × burndown (5 for Claude 3.7 and 4.x). Tokens per
minute, tokens per day and (with --legacy-rpm) requests per minute are enforced as a token
bucket (--window bucket) or per clock minute and day (--window clock); throttles are HTTP
429 ThrottlingException "Too many tokens…", "Too many tokens per day…", "Too many
requests…".

Models and quotas: by default every model of Tollgate's catalog, with the AWS default
quotas of --region (see "tollgate quotas"). Change a quota with --tpm/--tpd/--rpm
MODEL=N, where MODEL is a model id (on-demand quotas) or a profile id ("us.…",
"global.…") and N a count (0: a zero quota, nothing admitted). Add models or set
everything at once in a YAML file (--config; the format is in docs/emulator.md); flags
override the file.

Replies are deterministic text whose length follows the prompt (or --output-tokens),
clamped at max_tokens. Latency is --ttft plus --per-token for each further token, in
emulated time; --time-scale 60 makes an emulated minute pass in one real second, for
windows and latency alike.

Faults (--fault KIND=PROBABILITY, repeatable, drawn from --fault-seed): service-unavailable
(503), internal-error (500), model-not-ready (429 ModelNotReadyException), stream-throttle
and stream-unavailable (exception frames halfway through a stream), slow (latency ×
--slow-factor), drop (connection closed without an answer).

The port speaks HTTP/1.1 and HTTP/2 with prior knowledge (h2c, what the JavaScript SDK
v3 uses); with --tls-cert and --tls-key it serves HTTPS instead (HTTP/2 or HTTP/1.1 by
ALPN). Request bodies must arrive within 30s of their headers and are at most 40 MiB.

Stats: GET /_tollgate/stats gives per account, model and scope the calls admitted and
throttled (by limit), the tokens reserved and settled, and the highest usage each limit
ever saw (the referee for "no overshoot"); POST /_tollgate/reset clears them.
Ctrl-C stops the emulator.`,
		Example: `  tollgate emulate
  tollgate emulate --window clock --time-scale 60
  tollgate emulate --tpm us.anthropic.claude-sonnet-4-20250514-v1:0=100000 --tpd us.anthropic.claude-sonnet-4-20250514-v1:0=0
  tollgate emulate --fault service-unavailable=0.01 --fault stream-throttle=0.02 --fault-seed 7
  tollgate emulate --config emulator.yaml --addr 127.0.0.1:9000
  tollgate emulate --tls-cert cert.pem --tls-key key.pem`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("unexpected argument %q: emulate takes flags only (see tollgate emulate --help)", args[0])}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.validate(); err != nil {
				return err
			}
			opts, err := f.options(cmd)
			if err != nil {
				return usageError{err}
			}
			tlsConfig, err := f.tls()
			if err != nil {
				return usageError{err}
			}
			return runEmulate(cmd.Context(), cmd.OutOrStdout(), f.addr, tlsConfig, opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.addr, "addr", defaultEmulateAddr, "address to listen on (loopback unless you mean otherwise; port 0 picks a free one)")
	fl.StringVar(&f.config, "config", "", "YAML file with models, quotas, faults and settings (see docs/emulator.md)")
	fl.StringVar(&f.catalogFile, "catalog", "", "YAML catalog file adding or overriding preset models (see docs/catalog.md)")
	fl.BoolVar(&f.noPresets, "no-presets", false, "serve only the models of --config, not the catalog's")
	fl.StringVar(&f.window, "window", "", `window mode: "bucket" (token bucket, default) or "clock" (clock minutes and days)`)
	fl.Float64Var(&f.timeScale, "time-scale", 0, "emulated seconds per real second, for windows and latency (default 1)")
	fl.BoolVar(&f.reserveBurndown, "reserve-burndown", false, "reserve max_tokens × burndown instead of max_tokens (Bedrock does not document which)")
	fl.BoolVar(&f.legacyRPM, "legacy-rpm", false, "enforce the presets' legacy requests-per-minute quotas (Bedrock stopped in 2026)")
	fl.StringVar(&f.region, "region", "", "region of the preset quotas and of unsigned calls (default us-east-1)")
	fl.StringArrayVar(&f.tpm, "tpm", nil, "tokens per minute of a model or profile, MODEL=N (repeatable)")
	fl.StringArrayVar(&f.tpd, "tpd", nil, "tokens per day of a model or profile, MODEL=N (repeatable; 0 = zero quota)")
	fl.StringArrayVar(&f.rpm, "rpm", nil, "legacy requests per minute of a model or profile, MODEL=N (repeatable)")
	fl.DurationVar(&f.ttft, "ttft", 0, "time to first token, emulated (default 400ms; negative: none)")
	fl.DurationVar(&f.perToken, "per-token", 0, "time per further output token, emulated (default 15ms; negative: none)")
	fl.IntVar(&f.outputTokens, "output-tokens", 0, "make every reply this many tokens before max_tokens (default: follows the prompt)")
	fl.StringArrayVar(&f.faults, "fault", nil, "inject a fault, KIND=PROBABILITY (repeatable; kinds above)")
	fl.Uint64Var(&f.faultSeed, "fault-seed", 0, "seed of the fault draws")
	fl.Float64Var(&f.slowFactor, "slow-factor", 0, "latency multiplier of slow replies (default 10)")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "PEM certificate (chain) file: serve HTTPS (HTTP/2 and HTTP/1.1) instead of plain HTTP (with --tls-key)")
	fl.StringVar(&f.tlsKey, "tls-key", "", "PEM private key file of --tls-cert")
	return cmd
}

// options builds the emulator's options from the config file and the flags set.
func (f emulateFlags) options(cmd *cobra.Command) (bedrocktest.Options, error) {
	var c bedrocktest.Options
	if f.config != "" {
		data, err := os.ReadFile(f.config)
		if err != nil {
			return bedrocktest.Options{}, fmt.Errorf("--config: %w", err)
		}
		if c, err = bedrocktest.ParseOptions(data); err != nil {
			return bedrocktest.Options{}, fmt.Errorf("--config %s: %w", f.config, err)
		}
	}
	if f.catalogFile != "" {
		cat, err := catalog.Default().LoadFile(f.catalogFile)
		if err != nil {
			return bedrocktest.Options{}, fmt.Errorf("--catalog: %w", err)
		}
		c.Catalog = cat
	}
	set := cmd.Flags().Changed
	if set("window") {
		w, err := quotatext.ParseWindow(f.window)
		if err != nil {
			return bedrocktest.Options{}, fmt.Errorf("--window: %w", err)
		}
		c.Window = w
	}
	if set("time-scale") {
		c.TimeScale = f.timeScale
	}
	if set("reserve-burndown") {
		c.ReserveBurndown = f.reserveBurndown
	}
	if set("legacy-rpm") {
		c.LegacyRPM = f.legacyRPM
	}
	if set("no-presets") {
		c.Presets = !f.noPresets
	}
	if set("region") {
		c.Region = f.region
	}
	if set("ttft") {
		c.Latency.TimeToFirstToken = f.ttft
	}
	if set("per-token") {
		c.Latency.PerOutputToken = f.perToken
	}
	if set("output-tokens") {
		c.OutputTokens = nil // 0: replies follow the prompt
		if n := f.outputTokens; n > 0 {
			c.OutputTokens = func(int, uint64) int { return n }
		}
	}
	if set("fault-seed") {
		c.Faults.Seed = f.faultSeed
	}
	if set("slow-factor") {
		c.Faults.SlowFactor = f.slowFactor
	}
	if err := applyFaults(&c.Faults, f.faults); err != nil {
		return bedrocktest.Options{}, err
	}
	if c.Limits == nil {
		c.Limits = map[string]bedrocktest.Limits{}
	}
	for _, q := range []struct {
		flag   string
		values []string
		set    func(*bedrocktest.Limits, int64)
	}{
		{"--tpm", f.tpm, func(l *bedrocktest.Limits, n int64) { l.TokensPerMinute = n }},
		{"--tpd", f.tpd, func(l *bedrocktest.Limits, n int64) { l.TokensPerDay = n }},
		{"--rpm", f.rpm, func(l *bedrocktest.Limits, n int64) { l.RequestsPerMinute = n }},
	} {
		for _, v := range q.values {
			id, n, err := parseQuotaFlag(v)
			if err != nil {
				return bedrocktest.Options{}, fmt.Errorf("%s %q: %w", q.flag, v, err)
			}
			l := c.Limits[id]
			q.set(&l, n)
			c.Limits[id] = l
		}
	}
	if !c.Presets && c.Models == nil && (f.config != "" || set("no-presets")) {
		// Nil Models would mean the presets again.
		return bedrocktest.Options{}, errors.New("no models: keep the presets or list models in --config")
	}
	return c, nil // runEmulate's New checks the rest
}

// tls loads --tls-cert and --tls-key; nil means plain HTTP.
func (f emulateFlags) tls() (*tls.Config, error) {
	if f.tlsCert == "" && f.tlsKey == "" {
		return nil, nil
	}
	if f.tlsCert == "" || f.tlsKey == "" {
		return nil, errors.New("--tls-cert and --tls-key go together: give both PEM files, or neither for plain HTTP")
	}
	cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert %s, --tls-key %s: %w", f.tlsCert, f.tlsKey, err)
	}
	// ALPN offers HTTP/2 first, as AWS endpoints do.
	return &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}, nil
}

// parseQuotaFlag reads MODEL=N; N = 0 is a zero quota.
func parseQuotaFlag(v string) (string, int64, error) {
	i := strings.LastIndexByte(v, '=')
	if i <= 0 {
		return "", 0, errors.New("want MODEL=N, e.g. us.anthropic.claude-sonnet-4-20250514-v1:0=200000")
	}
	n, err := strconv.ParseInt(v[i+1:], 10, 64)
	if err != nil || n < 0 {
		return "", 0, fmt.Errorf("%q is not a count: want a whole number ≥ 0 (0 = zero quota)", v[i+1:])
	}
	if n == 0 {
		n = -1 // the emulator's zero quota
	}
	return v[:i], n, nil
}

// faultSetters maps --fault kinds to the Faults field they set.
var faultSetters = map[string]func(*bedrocktest.Faults) *float64{
	"service-unavailable": func(f *bedrocktest.Faults) *float64 { return &f.ServiceUnavailable },
	"internal-error":      func(f *bedrocktest.Faults) *float64 { return &f.InternalError },
	"model-not-ready":     func(f *bedrocktest.Faults) *float64 { return &f.ModelNotReady },
	"stream-throttle":     func(f *bedrocktest.Faults) *float64 { return &f.StreamThrottle },
	"stream-unavailable":  func(f *bedrocktest.Faults) *float64 { return &f.StreamUnavailable },
	"slow":                func(f *bedrocktest.Faults) *float64 { return &f.Slow },
	"drop":                func(f *bedrocktest.Faults) *float64 { return &f.Drop },
}

func applyFaults(f *bedrocktest.Faults, specs []string) error {
	for _, s := range specs {
		kind, p, ok := strings.Cut(s, "=")
		setter := faultSetters[kind]
		if !ok || setter == nil {
			return fmt.Errorf("--fault %q: want KIND=PROBABILITY with KIND one of service-unavailable, internal-error, model-not-ready, stream-throttle, stream-unavailable, slow, drop", s)
		}
		v, err := strconv.ParseFloat(p, 64)
		if err != nil {
			return fmt.Errorf("--fault %q: %q is not a probability between 0 and 1", s, p)
		}
		*setter(f) = v
	}
	return nil
}

// runEmulate serves the emulator on addr until ctx is done, over TLS if tlsConfig is not
// nil.
func runEmulate(ctx context.Context, out io.Writer, addr string, tlsConfig *tls.Config, opts bedrocktest.Options) error {
	h, err := bedrocktest.New(opts)
	if err != nil {
		return usageError{err}
	}
	defer h.Close()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("emulate: %w (is another emulator running? pick another port with --addr)", err)
	}
	url := "http://" + ln.Addr().String()
	trust := ""
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
		url = "https://" + ln.Addr().String()
		trust = "Clients must trust --tls-cert: AWS_CA_BUNDLE=FILE (AWS CLI, boto3), NODE_EXTRA_CA_CERTS=FILE (Node.js).\n"
	}
	mode := "token-bucket"
	if opts.Window == quota.ClockWindow {
		mode = "clock-minute"
	}
	scale := opts.TimeScale
	if scale == 0 {
		scale = 1
	}
	fmt.Fprintf(out, `Bedrock emulator on %s: %d models, %s windows, time scale %g×.
Point the AWS SDK or CLI at it (any credentials work; each access key is its own account):

  export AWS_ENDPOINT_URL_BEDROCK_RUNTIME=%s
  export AWS_ENDPOINT_URL_SERVICE_QUOTAS=%s

%sStats: curl %s%s    Reset: curl -X POST %s%s
Press Ctrl-C to stop.
`, url, len(h.Models()), mode, scale, url, url, trust, url, emustats.Path, url, emustats.ResetPath)
	if err := h.Serve(ctx, ln); err != nil {
		return fmt.Errorf("emulate: %w", err)
	}
	fmt.Fprintln(out, "emulator stopped")
	return nil
}
