package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const minimal = `name: t
model: us.anthropic.claude-sonnet-4-20250514-v1:0
documents: [docs]
calls: 10
`

func TestParseScenario(t *testing.T) {
	tests := []struct {
		name, yaml, wantErr string
	}{
		{"minimal", minimal, ""},
		{"bursts", minimal + "arrival: {pattern: bursts, burst: 5, gap: 1m}\n", ""},
		{"strategies", minimal + "strategies: [{name: sdk-standard, workers: 8}, {name: tollgate, right_size: false}]\n", ""},
		{"unknown key", minimal + "colour: blue\n", "field colour not found"},
		{"empty", "", "empty file"},
		{"no name", strings.Replace(minimal, "name: t", "", 1), "name: required"},
		{"no model", strings.Replace(minimal, "model: us.anthropic.claude-sonnet-4-20250514-v1:0", "", 1), "model: required"},
		{"unknown model", strings.Replace(minimal, "us.anthropic.claude-sonnet-4-20250514-v1:0", "acme.nothing-v1", 1), "model:"},
		{"no calls", strings.Replace(minimal, "calls: 10", "calls: 0", 1), "calls: 0 is not in"},
		{"short above calls", minimal + "short_calls: 11\n", "short_calls"},
		{"negative tpm", minimal + "tokens_per_minute: -1\n", "tokens_per_minute"},
		{"bad window", minimal + "windows: [sliding]\n", "windows"},
		{"no documents", strings.Replace(minimal, "documents: [docs]", "", 1), "documents"},
		{"bad pattern", minimal + "arrival: {pattern: poisson}\n", "arrival.pattern"},
		{"bursts without gap", minimal + "arrival: {pattern: bursts, burst: 5}\n", "gap in (0, 24h]"},
		{"bad output", minimal + "output: {median: 10, min: 5, max: 2}\n", "output"},
		{"negative weight", minimal + "priorities: {high: -1}\n", "priorities"},
		{"unknown strategy", minimal + "strategies: [{name: magic}]\n", "unknown strategy"},
		{"setting of another strategy", minimal + "strategies: [{name: tollgate, workers: 3}]\n", "workers: not a setting of tollgate"},
		{"twice", minimal + "strategies: [{name: cookbook}, {name: cookbook}]\n", "listed twice"},
		{"unknown strategy key", minimal + "strategies: [{name: cookbook, speed: 3}]\n", "field speed not found"},
		{"time scale", minimal + "time_scale: 5000\n", "time_scale"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseScenario([]byte(tt.yaml))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("ParseScenario: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("ParseScenario error = %v; want one containing %q", err, tt.wantErr)
			case err == nil && s.Name != "t":
				t.Errorf("name = %q", s.Name)
			}
		})
	}
}

func TestEmbeddedScenarios(t *testing.T) {
	names := Scenarios()
	for _, want := range []string{"bursty", "contracts", "max-tokens-unset"} {
		s, err := LoadScenario(want)
		if err != nil {
			t.Fatalf("LoadScenario(%q): %v (have %v)", want, err, names)
		}
		if _, err := s.documentDirs(); err != nil {
			t.Errorf("%s: %v", want, err)
		}
	}
	if _, err := LoadScenario("nope"); err == nil || !strings.Contains(err.Error(), "contracts") {
		t.Errorf("LoadScenario(nope) = %v; want an error listing the built-in scenarios", err)
	}
}

func TestScenarioFileAndSet(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "docs"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "mine.yaml")
	if err := os.WriteFile(p, []byte(minimal), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := LoadScenario(p)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.documentDirs(); err != nil || len(got) != 1 || got[0] != filepath.Join(dir, "docs") {
		t.Errorf("documentDirs = %q, %v; want the docs folder beside the file", got, err)
	}
	if err := s.Set("sdk-standard", "workers", "9"); err != nil {
		t.Fatal(err)
	}
	if err := s.Set("dual-bucket", "poll", "250ms"); err != nil {
		t.Fatal(err)
	}
	var workers int
	var poll time.Duration
	for _, c := range s.strategyConfigs() {
		switch c.Name {
		case "sdk-standard":
			workers = c.Workers
		case "dual-bucket":
			poll = c.Poll
		}
	}
	if workers != 9 || poll != 250*time.Millisecond {
		t.Errorf("after Set: workers %d, poll %v", workers, poll)
	}
	for _, bad := range [][3]string{{"magic", "workers", "1"}, {"tollgate", "workers", "1"}, {"sdk-standard", "speed", "1"}, {"sdk-standard", "workers", "-1"}, {"sdk-standard", "name", "x"}} {
		if err := s.Set(bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("Set(%q) succeeded", bad)
		}
	}
}

func FuzzParseScenario(f *testing.F) {
	for _, n := range Scenarios() {
		b, err := embedded.ReadFile("scenarios/" + n + ".yaml")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(minimal))
	f.Add([]byte(minimal + "arrival: {pattern: bursts, burst: 1, gap: 1ns}\noutput: {median: 1, sigma: 5}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseScenario(data)
		if err != nil {
			return
		}
		// A valid scenario must give a usable workload: arrivals in order, outputs ≥ 1.
		n := s.calls(true)
		if n < 1 || n > s.Calls {
			t.Fatalf("calls(short) = %d of %d", n, s.Calls)
		}
		prev := time.Duration(-1)
		for i := range min(n, 50) {
			a := arrivalAt(s.Arrival, i)
			if a < prev {
				t.Fatalf("arrival %d at %v before %v", i, a, prev)
			}
			prev = a
		}
		if f := s.Output.outputTokens(s.Seed); f != nil {
			for i := range 5 {
				if got := f(1000, uint64(i)); got < 1 {
					t.Fatalf("output tokens %d", got)
				}
			}
		}
	})
}
