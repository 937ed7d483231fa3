package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/batch"
	"github.com/tollgate-dev/tollgate/internal/discover"
	"github.com/tollgate-dev/tollgate/internal/gateway"
	"github.com/tollgate-dev/tollgate/internal/pipeline"
	"github.com/tollgate-dev/tollgate/quota"
)

func init() { registered = append(registered, newServeCmd) }

// defaultServeAddr is where "tollgate serve" listens unless --listen says otherwise.
const defaultServeAddr = "127.0.0.1:8080"

// upstreamAccessKey is the access key the gateway signs with on an emulator (the
// emulator takes any; each key is an account of its own).
const upstreamAccessKey = "AKIDTOLLGATEGATEWAY"

// serveFlags are the flags of "tollgate serve".
type serveFlags struct {
	listen, configFile, tlsCert, tlsKey string
	emulate                             bool
	upstream                            string
	timeScale                           float64
	models                              []string
	regions                             []string
	catalogFile                         string
	tpm, tpd, rpm                       int64
	limits                              []string
	maxWait, grace                      time.Duration
	logLevel                            string
	redis                               string
}

func newServeCmd() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve [--emulate | --upstream URL] [--listen 127.0.0.1:8080]",
		Short: "Serve a Bedrock Runtime endpoint that any AWS SDK program uses through Tollgate",
		Long: `Serve is a Bedrock Runtime endpoint (Converse, ConverseStream, InvokeModel,
InvokeModelWithResponseStream, CountTokens) that runs every call through Tollgate's
admission: a program using boto3, the JavaScript SDK, the Go SDK or the AWS CLI goes
through it when AWS_ENDPOINT_URL_BEDROCK_RUNTIME points at it and it holds a gateway key
("tollgate keys create --tenant NAME" prints one).

Calls wait in priority order until the quotas have room, instead of being throttled: a
call whose forecast wait is longer than --max-wait (by default what keeps the wait plus
the answer below boto3's 60 s read timeout) gets 429 ThrottlingException at once, so the
SDK backs off; its next attempt keeps its place. Throttles of the upstream are retried
here. Each tenant's own limits (the configuration file) are enforced before the account's.

Upstream: with --emulate, an in-process emulator with the AWS default quotas (no AWS
account needed; --time-scale makes its minutes pass faster). With --upstream URL, a
"tollgate emulate" (give the same --time-scale). Otherwise Amazon Bedrock, called with the
AWS default credential chain and region, its quotas read with Service Quotas (or given
with --tpm/--tpd/--rpm/--limit), as "tollgate run" does.

Without --config the configuration is the one "tollgate keys create" writes by default
($XDG_CONFIG_HOME/tollgate/gateway.yaml). The status page is at /, metrics at /metrics.
SIGTERM or Ctrl-C stops accepting calls, lets those under way finish (--grace), and exits.`,
		Example: `  tollgate keys create --tenant team-a
  tollgate serve --emulate
  tollgate serve --region us-east-1 --model us.anthropic.claude-sonnet-4-20250514-v1:0 --listen 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem
  tollgate serve --upstream http://127.0.0.1:8480 --time-scale 10`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if os.Getenv("GOGC") == "" {
				// A gateway's live heap is small and its garbage is per call: collecting
				// at 5× the live heap instead of 2× costs megabytes and takes a third off
				// the CPU per call and most of the added p99 latency
				// (BenchmarkServeOverhead). GOGC set in the environment wins.
				debug.SetGCPercent(serveGCPercent)
			}
			return runServe(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", defaultServeAddr, "address to listen on (port 0 picks a free one)")
	fl.StringVar(&f.configFile, "config", "", "gateway configuration `FILE` (default $XDG_CONFIG_HOME/tollgate/gateway.yaml)")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "serve HTTPS with this certificate (PEM); needs --tls-key")
	fl.StringVar(&f.tlsKey, "tls-key", "", "the private key of --tls-cert (PEM)")
	fl.BoolVar(&f.emulate, "emulate", false, "call an in-process Bedrock emulator with the AWS default quotas (no AWS account needed)")
	fl.StringVar(&f.upstream, "upstream", "", "call the Bedrock Runtime at this URL (a \"tollgate emulate\") instead of Amazon Bedrock")
	fl.Float64Var(&f.timeScale, "time-scale", 0, "with --emulate or --upstream: the emulator's emulated seconds per real second (default 1)")
	fl.StringArrayVar(&f.models, "model", nil, "model or inference-profile id to serve (repeatable; default "+batch.DefaultModel+")")
	fl.StringArrayVar(&f.regions, "region", nil, "AWS region to call (repeatable: each model is served in each region, calls routed among them; default: the AWS configuration's, us-east-1 with --emulate or --upstream)")
	fl.StringVar(&f.catalogFile, "catalog", "", "YAML catalog file adding or overriding models (see docs/catalog.md)")
	fl.Int64Var(&f.tpm, "tpm", 0, "tokens-per-minute quota of each model (default: read with Service Quotas, else the AWS default)")
	fl.Int64Var(&f.tpd, "tpd", 0, "tokens-per-day quota of each model (default: as --tpm)")
	fl.Int64Var(&f.rpm, "rpm", 0, "requests-per-minute quota of each model (default: none)")
	fl.StringArrayVar(&f.limits, "limit", nil, `another limit of each model, e.g. "input-tokens 100000/1m" (repeatable)`)
	fl.DurationVar(&f.maxWait, "max-wait", 0, "longest a call waits for admission before 429 (default: 55s less the call's expected answer time)")
	fl.DurationVar(&f.grace, "grace", 30*time.Second, "on SIGTERM, how long calls under way may finish before they are cancelled")
	fl.StringVar(&f.redis, "redis", "", redisFlagUsage)
	fl.StringVar(&f.logLevel, "log-level", "info", "log level on stderr: debug, info, warn or error")
	return cmd
}

// serveGCPercent is the garbage collector's target of "tollgate serve" when GOGC is not
// set: collect when the heap has grown by 400% of what was live.
const serveGCPercent = 400

func (f *serveFlags) validate() error {
	return firstError(
		floatRange("time-scale", f.timeScale, minTimeScale, maxTimeScale, true, "emulated seconds per real second; 0 means 1"),
		durationRange("max-wait", f.maxWait, 0, 10*time.Minute, "0 for 55s less the call's expected answer time"),
		durationRange("grace", f.grace, 0, maxGraceFlag, "0 cancels the calls under way at once"),
		intRange("tpm", f.tpm, 0, maxQuotaFlag, "0 reads the quota"),
		intRange("tpd", f.tpd, 0, maxQuotaFlag, "0 reads the quota"),
		intRange("rpm", f.rpm, 0, maxQuotaFlag, "0 for none"),
	)
}

func runServe(ctx context.Context, stdout, stderr io.Writer, f serveFlags) error {
	if err := f.validate(); err != nil {
		return err
	}
	if f.emulate && f.upstream != "" {
		return usageError{errors.New("--emulate and --upstream exclude each other: --emulate runs an emulator in-process, --upstream calls one")}
	}
	if !f.emulate && f.upstream == "" && f.timeScale != 0 {
		return usageError{errors.New("--time-scale only applies with --emulate or --upstream")}
	}
	if err := checkRedisEmulate(f.redis, f.emulate, "--upstream"); err != nil {
		return err
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return usageError{errors.New("--tls-cert and --tls-key go together")}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return usageError{fmt.Errorf("--log-level %q: use debug, info, warn or error", f.logLevel)}
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	path := f.configFile
	if path == "" {
		var err error
		if path, err = gateway.DefaultConfigPath(); err != nil {
			return usageError{err}
		}
	}
	if _, err := os.Stat(path); err != nil {
		return usageError{fmt.Errorf("no gateway configuration at %s (%v): create a key first (tollgate keys create --tenant NAME) or give --config", path, err)}
	}
	keys, err := gateway.OpenKeys(path)
	if err != nil {
		return usageError{err}
	}
	var tlsConfig *tls.Config
	if f.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
		if err != nil {
			return usageError{fmt.Errorf("--tls-cert/--tls-key: %w", err)}
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	up, err := serveUpstream(ctx, f, logger)
	if err != nil {
		return err
	}
	defer up.close()
	shareQuota(&up.pipeline, f.redis, up.scale, nil) // the store's lines go to the gateway's log
	reg := prometheus.NewRegistry()
	relay, err := gateway.NewRelay(ctx, gateway.RelayConfig{Pipeline: up.pipeline, MaxWait: f.maxWait, TimeScale: up.scale, Registerer: reg, Logger: logger})
	if errors.Is(err, discover.ErrTimeout) {
		return fmt.Errorf("reading the quotas: %w: give them with --tpm and --tpd to skip Service Quotas", err)
	}
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	defer relay.Close()
	srv, err := gateway.New(gateway.Config{Keys: keys, Handler: relay, Status: relay.Status, Ready: relay.Ready, Metrics: reg, Logger: logger, TLS: tlsConfig})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("serve: %w (is another gateway running? pick another address with --listen)", err)
	}
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
	}
	endpoint := scheme + "://" + ln.Addr().String()
	fmt.Fprintf(stdout, `Tollgate gateway on %s (%s), configuration %s.
Point an AWS SDK program at it with a gateway key (tollgate keys create --tenant NAME):

  export AWS_ENDPOINT_URL_BEDROCK_RUNTIME=%s

Status page: %s/   Metrics: %s/metrics
`, endpoint, up.note+f.sharedNote(), path, endpoint, endpoint, endpoint)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	fmt.Fprintf(stderr, "tollgate serve: stopping: finishing the calls under way (up to %v)\n", f.grace)
	sctx, cancel := context.WithTimeout(context.Background(), f.grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		fmt.Fprintf(stderr, "tollgate serve: calls still under way after %v were cancelled\n", f.grace)
	}
	<-served
	relay.Close()
	fmt.Fprintln(stdout, "gateway stopped")
	return nil
}

// sharedNote says, after the upstream, that the quota is shared.
func (f *serveFlags) sharedNote() string {
	if f.redis == "" {
		return ""
	}
	return ", quota shared through Redis (see docs/fleet.md)"
}

// serveSide is the gateway's upstream: its pipeline configuration, and the in-process
// emulator when emulating.
type serveSide struct {
	pipeline pipeline.Config
	scale    float64
	srv      *bedrocktest.Server
	note     string
}

func (s *serveSide) close() {
	if s.srv != nil {
		s.srv.Close()
	}
}

// serveUpstream resolves the models to serve and their targets: on the in-process
// emulator, on the emulator at --upstream, or on Amazon Bedrock.
func serveUpstream(ctx context.Context, f serveFlags, logger *slog.Logger) (*serveSide, error) {
	jf := jobFlags{tpm: f.tpm, tpd: f.tpd, rpm: f.rpm, limits: f.limits, catalogFile: f.catalogFile}
	explicit, err := jf.explicitLimits()
	if err != nil {
		return nil, err
	}
	cat, err := jf.catalog()
	if err != nil {
		return nil, err
	}
	models := f.models
	if len(models) == 0 {
		models = []string{batch.DefaultModel}
	}
	if !f.emulate && f.upstream == "" {
		return bedrockUpstream(ctx, f, cat, models, explicit, logger)
	}
	scale := f.timeScale
	if scale == 0 {
		scale = 1
	}
	regions := f.regions
	if len(regions) == 0 {
		regions = []string{"us-east-1"}
	}
	region := regions[0]
	side := &serveSide{scale: scale}
	var emulated []catalog.Model
	overrides := map[string]bedrocktest.Limits{}
	var targets []pipeline.TargetConfig
	for _, id := range models {
		m, ref, err := cat.Lookup(id)
		if err != nil {
			return nil, usageError{fmt.Errorf("--model: %w", err)}
		}
		for i, r := range regions {
			limits := explicit
			if limits == nil {
				if limits, err = m.Limits(ref.Scope, r, false); err != nil {
					return nil, usageError{fmt.Errorf("--model %s in %s: %w: give --tpm", id, r, err)}
				}
			}
			if f.emulate && i == 0 { // the emulator meters each region apart, with these limits
				key, ls := emulatorLimits(ref, limits)
				emulated, overrides[key] = append(emulated, m), ls
			}
			scaled := make([]quota.Limit, len(limits))
			for i, l := range limits {
				l.Per = time.Duration(float64(l.Per) / scale)
				scaled[i] = l
			}
			targets = append(targets, pipeline.TargetConfig{Region: r, Model: id, Endpoint: f.upstream, Limits: scaled})
		}
	}
	if f.emulate {
		srv, err := bedrocktest.NewServer(bedrocktest.Options{Models: emulated, Limits: overrides, TimeScale: scale, Region: region, Catalog: cat})
		if err != nil {
			return nil, err
		}
		side.srv = srv
		for i := range targets {
			targets[i].Endpoint = srv.URL
		}
		side.note = fmt.Sprintf("in-process Bedrock emulator with the AWS default quotas of %s, time scale %g×", strings.Join(regions, ", "), scale)
	} else {
		if u, err := url.Parse(f.upstream); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, usageError{fmt.Errorf("--upstream %q: give the emulator's URL, e.g. http://127.0.0.1:8480", f.upstream)}
		}
		side.note = fmt.Sprintf("upstream %s, time scale %g×", f.upstream, scale)
	}
	side.note += ", models " + strings.Join(models, ", ")
	if len(regions) > 1 {
		side.note += " in " + strings.Join(regions, ", ")
	}
	awsCfg := aws.Config{Region: region, Credentials: credentials.NewStaticCredentialsProvider(upstreamAccessKey, "emulated", "")}
	side.pipeline = pipeline.Config{AWS: awsCfg, Catalog: cat, Targets: targets, Pacing: batch.ClientPacing,
		Backoff: func(n int) time.Duration { return time.Duration(float64(pipeline.DefaultBackoff(n)) / scale) }}
	return side, nil
}

// bedrockUpstream configures targets on Amazon Bedrock: the default credential chain
// and region, quotas from the flags, else Service Quotas, else the catalog's defaults.
func bedrockUpstream(ctx context.Context, f serveFlags, cat *catalog.Catalog, models []string, explicit []quota.Limit, logger *slog.Logger) (*serveSide, error) {
	if err := checkNotSelf(f.listen); err != nil {
		return nil, err
	}
	var opts []func(*config.LoadOptions) error
	if len(f.regions) > 0 {
		opts = append(opts, config.WithRegion(f.regions[0]))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, usageError{fmt.Errorf("loading the AWS configuration: %w", err)}
	}
	if awsCfg.Region == "" {
		return nil, usageError{errors.New("no AWS region: pass --region (e.g. --region us-east-1) or set AWS_REGION; or try --emulate")}
	}
	if _, err := awsCfg.Credentials.Retrieve(ctx); err != nil {
		return nil, usageError{fmt.Errorf("no usable AWS credentials for the gateway (%v): set AWS_PROFILE, run \"aws sso login\", or give the instance a role; or try --emulate", err)}
	}
	regions := f.regions
	if len(regions) == 0 {
		regions = []string{awsCfg.Region}
	}
	var targets []pipeline.TargetConfig
	for _, id := range models {
		for _, r := range regions {
			targets = append(targets, pipeline.TargetConfig{Region: r, Model: id, Limits: explicit})
		}
	}
	note := "Amazon Bedrock in " + strings.Join(regions, ", ") + ", models " + strings.Join(models, ", ")
	return &serveSide{scale: 1, note: note, pipeline: pipeline.Config{AWS: awsCfg, Catalog: cat, Targets: targets,
		DiscoverQuotas: explicit == nil, Pacing: batch.ClientPacing, Logger: logger}}, nil
}

// checkNotSelf refuses an environment whose Bedrock Runtime endpoint is this gateway:
// the variable that points callers at the gateway, left in the gateway's own shell,
// would make it call itself.
func checkNotSelf(listen string) error {
	for _, name := range []string{"AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "AWS_ENDPOINT_URL"} {
		v := os.Getenv(name)
		if v == "" {
			continue
		}
		u, err := url.Parse(v)
		if err != nil {
			return nil // the SDK reports it
		}
		_, port, err := net.SplitHostPort(listen)
		if err != nil || u.Port() != port {
			return nil
		}
		host := u.Hostname()
		lhost, _, _ := net.SplitHostPort(listen)
		if host == lhost || host == "localhost" || host == "127.0.0.1" || host == "::1" || lhost == "" || lhost == "0.0.0.0" || lhost == "::" {
			return usageError{fmt.Errorf("%s=%s points at this gateway itself: unset it where the gateway runs (it is for the callers), or give the real endpoint", name, v)}
		}
	}
	return nil
}
