package bench

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/quotatext"
)

// ErrDocuments is matched by the error of a run whose documents cannot be found or read.
var ErrDocuments = errors.New("bench: no documents")

//go:embed scenarios/*.yaml
var embedded embed.FS

// Scenario is a workload and the quotas it runs against, read from a YAML file (see
// scenarios/contracts.yaml for a commented example). Durations are in emulated time.
type Scenario struct {
	// Name identifies the scenario in tables and file names.
	Name string `yaml:"name"`
	// Description says in a sentence what the scenario shows.
	Description string `yaml:"description"`
	// Model is the modelId sent (model id, "us."/"global." profile id).
	Model string `yaml:"model"`
	// Region is the region called and whose default quotas apply; "" is us-east-1.
	Region string `yaml:"region"`
	// TokensPerMinute is the emulator's TPM quota; 0 means the catalog default of the
	// model in its scope and region.
	TokensPerMinute int64 `yaml:"tokens_per_minute"`
	// TokensPerDay is the TPD quota; 0 means TokensPerMinute × 1440.
	TokensPerDay int64 `yaml:"tokens_per_day"`
	// RequestsPerMinute enforces the legacy RPM quota when positive.
	RequestsPerMinute int64 `yaml:"requests_per_minute"`
	// Windows are the emulator window modes to run ("bucket", "clock"); empty means bucket.
	Windows []string `yaml:"windows"`
	// TimeScale is emulated seconds per real second; 0 means 30.
	TimeScale float64 `yaml:"time_scale"`
	// Seed seeds the workload (documents, priorities) and the output lengths.
	Seed uint64 `yaml:"seed"`
	// Documents are directories of .txt documents (their subdirectories included),
	// relative to the scenario file (embedded scenarios: to the working directory or one
	// of its parents); the documents of every one that exists are used, at least one must.
	Documents []string `yaml:"documents"`
	// MaxDocumentChars truncates longer documents; 0 means no limit.
	MaxDocumentChars int `yaml:"max_document_chars"`
	// Prompt is the system prompt of every call.
	Prompt string `yaml:"prompt"`
	// MaxTokens is the max_tokens callers send; 0 leaves it unset (Bedrock reserves the
	// model's maximum).
	MaxTokens int `yaml:"max_tokens"`
	// Calls is the number of calls; ShortCalls the number in the short version (0: a sixth).
	Calls      int `yaml:"calls"`
	ShortCalls int `yaml:"short_calls"`
	// Arrival is when calls arrive.
	Arrival Arrival `yaml:"arrival"`
	// Output is the distribution of reply lengths the emulator produces.
	Output Output `yaml:"output"`
	// Latency is the emulator's latency model; zero fields take its defaults.
	Latency bedrocktest.Latency `yaml:"latency"`
	// Priorities are the relative weights of the classes among calls; all zero means
	// every call is normal.
	Priorities Priorities `yaml:"priorities"`
	// Strategies are the strategies run, in order, with their tuning; empty means every
	// strategy with its defaults.
	Strategies []StrategyConfig `yaml:"strategies"`

	dir string // where relative document paths start; "" for embedded scenarios
}

// Arrival describes when calls arrive.
type Arrival struct {
	// Pattern is "steady" (evenly spaced at PerMinute; 0 means all at once) or "bursts"
	// (Burst calls at once every Gap).
	Pattern   string        `yaml:"pattern"`
	PerMinute float64       `yaml:"per_minute"`
	Burst     int           `yaml:"burst"`
	Gap       time.Duration `yaml:"gap"`
}

// Output is a log-normal distribution of reply lengths in tokens, deterministic in the
// prompt: median × e^(sigma·z), clamped to [Min, Max]. Median 0 means the emulator's
// default (64 + input/4, at most 1,024, ×0.5–1.5).
type Output struct {
	Median int     `yaml:"median"`
	Sigma  float64 `yaml:"sigma"`
	Min    int     `yaml:"min"`
	Max    int     `yaml:"max"`
}

// Priorities are relative weights of the priority classes.
type Priorities struct {
	High   float64 `yaml:"high"`
	Normal float64 `yaml:"normal"`
	Low    float64 `yaml:"low"`
}

// StrategyConfig names a strategy and its tuning. Fields a strategy does not use must be
// left zero.
type StrategyConfig struct {
	// Name is one of Strategies().
	Name string `yaml:"name"`
	// Workers is the worker-pool size (sdk-standard, sdk-adaptive, rpm-only).
	Workers int `yaml:"workers"`
	// RequestsPerMinute is the rate of rpm-only's limiter and the RPM bucket of
	// dual-bucket and cookbook (0: the scenario's RPM quota, else unlimited).
	RequestsPerMinute float64 `yaml:"requests_per_minute"`
	// TPMFraction is the share of the TPM quota dual-bucket and cookbook configure as
	// their tokens-per-minute capacity (0 means 1).
	TPMFraction float64 `yaml:"tpm_fraction"`
	// LimitFactor multiplies the limits tollgate is configured with (0 means 1;
	// tollgate-adaptive uses 2: limits twice too high).
	LimitFactor float64 `yaml:"limit_factor"`
	// RightSize turns tollgate's RightSizeMaxTokens off when false (nil: on).
	RightSize *bool `yaml:"right_size"`
	// Pacing turns tollgate's pacing off when false (Config.Pacing −1, as tollgate run
	// has it); nil: the client's default pacing for sliding windows, none for a token
	// bucket (it refills at the rate) or clock windows.
	Pacing *bool `yaml:"pacing"`
	// Meter is how tollgate counts its limits: "sliding" (quota.Sliding, safe under
	// every provider reading), "bucket" (quota.TokenBucket: told the provider is a
	// token bucket), "clock" (quota.ClockWindow: told it counts clock minutes),
	// "either" (both quota.TokenBucket and quota.ClockWindow limits: admitted only when
	// both readings admit, not told which the emulator runs) or "provider" (the one of
	// those two the emulator runs: the limits known in full).
	// Empty: provider for tollgate, else sliding.
	Meter string `yaml:"meter"`
	// ReserveBurndown sets tollgate's ReserveWithBurndown: count max_tokens × the
	// output burndown while a call runs, so that a settlement never charges more than was
	// counted (nil: true with a bucket meter, whose bucket would otherwise admit a call
	// in the moment between the provider taking a finished call's excess and the client
	// settling it; false for the others).
	ReserveBurndown *bool `yaml:"reserve_burndown"`
	// WindowMargin is tollgate's WindowMargin in emulated time (0: the larger of 250ms and
	// 20ms of real time × the time scale; see windowMargin).
	WindowMargin time.Duration `yaml:"window_margin"`
	// Poll is dual-bucket's polling interval in emulated time (0: 1s).
	Poll time.Duration `yaml:"poll"`
	// MaxAttempts overrides the attempts of a call (0: the strategy's own default).
	MaxAttempts int `yaml:"max_attempts"`
}

// ParseScenario reads a scenario from YAML. Unknown keys are errors, and every value is
// checked; errors name the setting at fault.
func ParseScenario(data []byte) (*Scenario, error) {
	var s Scenario
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("bench: scenario: empty file")
		}
		return nil, fmt.Errorf("bench: scenario: %w", err)
	}
	if err := s.validate(); err != nil {
		return nil, fmt.Errorf("bench: scenario %q: %w", s.Name, err)
	}
	return &s, nil
}

func (s *Scenario) validate() error {
	if strings.TrimSpace(s.Name) == "" {
		return errors.New("name: required")
	}
	if s.Model == "" {
		return errors.New("model: required (e.g. us.anthropic.claude-sonnet-4-20250514-v1:0)")
	}
	if _, _, err := catalog.Default().Lookup(s.Model); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	for _, v := range []struct {
		name string
		n    int64
	}{{"tokens_per_minute", s.TokensPerMinute}, {"tokens_per_day", s.TokensPerDay}, {"requests_per_minute", s.RequestsPerMinute},
		{"calls", int64(s.Calls)}, {"short_calls", int64(s.ShortCalls)}, {"max_tokens", int64(s.MaxTokens)}, {"max_document_chars", int64(s.MaxDocumentChars)}} {
		if v.n < 0 {
			return fmt.Errorf("%s: %d is negative", v.name, v.n)
		}
	}
	if s.Calls == 0 || s.Calls > 100_000 {
		return fmt.Errorf("calls: %d is not in [1, 100000]", s.Calls)
	}
	if s.ShortCalls > s.Calls {
		return fmt.Errorf("short_calls: %d is more than calls (%d)", s.ShortCalls, s.Calls)
	}
	if s.TimeScale < 0 || math.IsNaN(s.TimeScale) || math.IsInf(s.TimeScale, 0) || s.TimeScale > 1000 {
		return fmt.Errorf("time_scale: %v is not in [0, 1000]", s.TimeScale)
	}
	for _, w := range s.Windows {
		if _, err := quotatext.ParseWindow(w); err != nil {
			return fmt.Errorf("windows: %w", err)
		}
	}
	if len(s.Documents) == 0 {
		return errors.New("documents: list at least one directory of .txt files")
	}
	switch s.Arrival.Pattern {
	case "", "steady":
		if pm := s.Arrival.PerMinute; pm != 0 && !(pm >= 0.01 && pm <= 1e6) {
			return fmt.Errorf("arrival.per_minute: %v is not a rate in [0.01, 1e6] (0: all at once)", pm)
		}
	case "bursts":
		if s.Arrival.Burst < 1 || s.Arrival.Gap <= 0 || s.Arrival.Gap > 24*time.Hour {
			return errors.New("arrival: bursts need burst >= 1 and a gap in (0, 24h] (e.g. burst: 25, gap: 150s)")
		}
	default:
		return fmt.Errorf("arrival.pattern: %q is neither steady nor bursts", s.Arrival.Pattern)
	}
	o := s.Output
	if o.Median < 0 || o.Min < 0 || o.Max < 0 || !(o.Sigma >= 0 && o.Sigma <= 5) || (o.Max > 0 && o.Min > o.Max) {
		return fmt.Errorf("output: %+v: want median, min, max >= 0, sigma in [0, 5], min <= max", o)
	}
	p := s.Priorities
	for _, w := range []float64{p.High, p.Normal, p.Low} {
		if w < 0 || math.IsNaN(w) || math.IsInf(w, 0) {
			return fmt.Errorf("priorities: %+v: weights must be finite and >= 0", p)
		}
	}
	seen := map[string]bool{}
	for i, c := range s.Strategies {
		if err := c.validate(); err != nil {
			return fmt.Errorf("strategies[%d]: %w", i, err)
		}
		if seen[c.Name] {
			return fmt.Errorf("strategies[%d]: %s listed twice", i, c.Name)
		}
		seen[c.Name] = true
	}
	return nil
}

func (c StrategyConfig) validate() error {
	st, ok := strategies[c.Name]
	if !ok {
		return fmt.Errorf("name: unknown strategy %q (known: %s)", c.Name, strings.Join(Strategies(), ", "))
	}
	for _, v := range []struct {
		name string
		x    float64
		used bool
	}{
		{"workers", float64(c.Workers), st.uses&useWorkers != 0},
		{"requests_per_minute", c.RequestsPerMinute, st.uses&useRPM != 0},
		{"tpm_fraction", c.TPMFraction, st.uses&useTPMFraction != 0},
		{"limit_factor", c.LimitFactor, st.uses&useTollgate != 0},
		{"window_margin", c.WindowMargin.Seconds(), st.uses&useTollgate != 0},
		{"poll", c.Poll.Seconds(), st.uses&usePoll != 0},
		{"max_attempts", float64(c.MaxAttempts), true},
	} {
		if v.x < 0 || math.IsNaN(v.x) || math.IsInf(v.x, 0) {
			return fmt.Errorf("%s: %v must be >= 0", v.name, v.x)
		}
		if v.x != 0 && !v.used {
			return fmt.Errorf("%s: not a setting of %s", v.name, c.Name)
		}
	}
	if c.RightSize != nil && st.uses&useTollgate == 0 {
		return fmt.Errorf("right_size: not a setting of %s", c.Name)
	}
	if c.Meter != "" && st.uses&useTollgate == 0 {
		return fmt.Errorf("meter: not a setting of %s", c.Name)
	}
	if c.Meter != "" && c.Meter != "sliding" && c.Meter != "bucket" && c.Meter != "clock" && c.Meter != "either" && c.Meter != "provider" {
		return fmt.Errorf("meter: %q is not sliding, bucket, clock, either or provider", c.Meter)
	}
	if c.ReserveBurndown != nil && st.uses&useTollgate == 0 {
		return fmt.Errorf("reserve_burndown: not a setting of %s", c.Name)
	}
	if c.Pacing != nil && st.uses&useTollgate == 0 {
		return fmt.Errorf("pacing: not a setting of %s", c.Name)
	}
	if c.Workers > 10_000 || c.MaxAttempts > 100 {
		return fmt.Errorf("workers (%d) or max_attempts (%d) out of range", c.Workers, c.MaxAttempts)
	}
	return nil
}

// Scenarios lists the names of the embedded scenarios.
func Scenarios() []string {
	entries, _ := embedded.ReadDir("scenarios")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(names)
	return names
}

// LoadScenario returns the embedded scenario called name, or, when name ends in .yaml or
// .yml or contains a path separator, the scenario in that file.
func LoadScenario(name string) (*Scenario, error) {
	if strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") || strings.ContainsRune(name, os.PathSeparator) {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		s, err := ParseScenario(data)
		if err != nil {
			return nil, fmt.Errorf("%w (in %s)", err, name)
		}
		s.dir = filepath.Dir(name)
		return s, nil
	}
	data, err := embedded.ReadFile(path.Join("scenarios", name+".yaml"))
	if err != nil {
		return nil, fmt.Errorf("bench: no scenario %q (built in: %s; or give a .yaml file)", name, strings.Join(Scenarios(), ", "))
	}
	return ParseScenario(data)
}

// timeScale returns the scenario's time scale with its default.
func (s *Scenario) timeScale() float64 {
	if s.TimeScale == 0 {
		return 30
	}
	return s.TimeScale
}

// calls returns how many calls a run makes.
func (s *Scenario) calls(short bool) int {
	if !short {
		return s.Calls
	}
	if s.ShortCalls > 0 {
		return s.ShortCalls
	}
	return max(1, s.Calls/6)
}

// strategyConfigs returns the strategies to run: the scenario's, or every strategy.
func (s *Scenario) strategyConfigs() []StrategyConfig {
	if len(s.Strategies) > 0 {
		return s.Strategies
	}
	var out []StrategyConfig
	for _, n := range defaultOrder {
		out = append(out, StrategyConfig{Name: n})
	}
	return out
}

// documentDirs finds the scenario's document directories that exist: each listed
// directory, from the first base (see searchDirs) that holds it.
func (s *Scenario) documentDirs() ([]string, error) {
	var found, tried []string
	for _, d := range s.Documents {
		for _, base := range s.searchDirs() {
			p := d
			if !filepath.IsAbs(d) {
				p = filepath.Join(base, d)
			}
			if st, err := os.Stat(p); err == nil && st.IsDir() {
				found = append(found, p)
				break
			}
			tried = append(tried, p)
		}
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("%w: scenario %q: none of its document directories exists (tried %s); run from the repository root or pass --documents DIR",
			ErrDocuments, s.Name, strings.Join(tried, ", "))
	}
	return found, nil
}

// searchDirs are the directories relative document paths start from.
func (s *Scenario) searchDirs() []string {
	if s.dir != "" {
		return []string{s.dir}
	}
	wd, err := os.Getwd()
	if err != nil {
		return []string{"."}
	}
	var dirs []string
	for d := wd; ; d = filepath.Dir(d) {
		dirs = append(dirs, d)
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil || filepath.Dir(d) == d {
			return dirs
		}
	}
}

// Set changes one setting of a strategy the scenario runs, as "workers" = "8" would read
// in the scenario file; the strategy is added with its defaults if the scenario does not
// list it. The result is validated.
func (s *Scenario) Set(strategy, field, value string) error {
	if _, ok := strategies[strategy]; !ok {
		return fmt.Errorf("bench: unknown strategy %q (known: %s)", strategy, strings.Join(Strategies(), ", "))
	}
	cfgs := slices.Clone(s.strategyConfigs())
	i := slices.IndexFunc(cfgs, func(c StrategyConfig) bool { return c.Name == strategy })
	if i < 0 {
		cfgs = append(cfgs, StrategyConfig{Name: strategy})
		i = len(cfgs) - 1
	}
	if field == "name" {
		return errors.New("bench: a strategy's name cannot be set")
	}
	dec := yaml.NewDecoder(strings.NewReader(field + ": " + value))
	dec.KnownFields(true)
	c := cfgs[i]
	if err := dec.Decode(&c); err != nil {
		return fmt.Errorf("bench: %s.%s=%s: %w", strategy, field, value, err)
	}
	if err := c.validate(); err != nil {
		return fmt.Errorf("bench: %s.%s=%s: %w", strategy, field, value, err)
	}
	cfgs[i] = c
	s.Strategies = cfgs
	return nil
}
