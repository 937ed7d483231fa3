package metrics

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestConcurrentRecording(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	const goroutines, perGoroutine = 16, 500
	priorities := []string{"high", "normal", "low"}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			p := priorities[g%len(priorities)]
			// Each goroutine also brings a model of its own, racing through bounded.value's
			// slow path.
			own := "model-" + string(rune('a'+g))
			for i := range perGoroutine {
				m.Call("m", "t", p, OutcomeOK)
				m.Attempt("m", "t", ResultOK)
				m.Attempt(own, "t", ResultOK)
				m.Tokens("m", "t", KindInput, 3)
				m.QueueWait("m", p, time.Duration(i)*time.Millisecond)
				m.QueueDepth("t", p, i)
				m.Limit("t", "tokens_per_minute", int64(i), 1000, 1000)
				m.EstimateError("m", 100, int64(90+i%20))
			}
		})
	}
	// Gathering while recording is part of the contract too.
	wg.Go(func() {
		for range 20 {
			if _, err := reg.Gather(); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()

	const n = goroutines * perGoroutine
	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"attempts{m}", testutil.ToFloat64(m.attempts.WithLabelValues("m", "t", ResultOK)), n},
		{"attempts{model-c}", testutil.ToFloat64(m.attempts.WithLabelValues("model-c", "t", ResultOK)), perGoroutine},
		{"tokens", testutil.ToFloat64(m.tokens.WithLabelValues("m", "t", KindInput)), 3 * n},
		{"calls{high}", testutil.ToFloat64(m.calls.WithLabelValues("m", "t", "high", OutcomeOK)), 6 * perGoroutine}, // g = 0, 3, ..., 15
		{"calls{low}", testutil.ToFloat64(m.calls.WithLabelValues("m", "t", "low", OutcomeOK)), 5 * perGoroutine},   // g = 2, 5, ..., 14
		{"limit_effective", testutil.ToFloat64(m.limitEff.WithLabelValues("t", "tokens_per_minute")), 1000},
		{"queue_depth{high}", testutil.ToFloat64(m.queueDepth.WithLabelValues("t", "high")), perGoroutine - 1},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if got, want := m.models.n, 1+goroutines; got != want {
		t.Errorf("%d model values admitted, want %d", got, want)
	}
}

func TestOpenLabelsAreCapped(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range MaxLabelValues + 10 {
		m.Call(fmt.Sprintf("model-%d", i), "t", "high", OutcomeOK)
	}
	if got, want := testutil.CollectAndCount(reg, "tollgate_calls_total"), MaxLabelValues+1; got != want {
		t.Errorf("tollgate_calls_total has %d series, want %d values and %q", got, want, Other)
	}
	m.Attempt("model-7", "t", ResultOK)   // an admitted value stays itself,
	m.Attempt("brand-new", "t", ResultOK) // a new one past the cap is other
	for _, c := range []struct {
		model string
		want  float64
	}{
		{"model-7", 1},
		{Other, 1},
	} {
		if got := testutil.ToFloat64(m.attempts.WithLabelValues(c.model, "t", ResultOK)); got != c.want {
			t.Errorf("tollgate_attempts_total{model=%q} = %v, want %v", c.model, got, c.want)
		}
	}
	if got := testutil.ToFloat64(m.calls.WithLabelValues(Other, "t", "high", OutcomeOK)); got != 10 {
		t.Errorf("tollgate_calls_total{model=%q} = %v, want 10", Other, got)
	}
}

func TestBoundedIsDeterministicAtTheCap(t *testing.T) {
	b := bounded{max: 2}
	for _, c := range []struct{ in, want string }{
		{"a", "a"}, {"b", "b"}, {"c", Other}, {"a", "a"}, {"b", "b"}, {"c", Other}, {"d", Other},
	} {
		if got := b.value(c.in); got != c.want {
			t.Errorf("value(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	var zero bounded
	if got := zero.value("a"); got != Other {
		t.Errorf("zero bounded: value(%q) = %q, want %q", "a", got, Other)
	}
}

// descRE pulls the name and the label names, in declared order, out of a Desc's String.
var descRE = regexp.MustCompile(`fqName: "([^"]+)".*variableLabels: \{([^}]*)\}`)

// TestDocsListEveryMetric keeps the package documentation (doc.go) and the user's guide
// (docs/metrics.md) in step with the collectors: each must show every metric as
// name{label,...}, with the labels in the order the methods take them.
func TestDocsListEveryMetric(t *testing.T) {
	pkgDoc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	guide, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	m := newMetrics()
	for _, c := range m.collectors() {
		ch := make(chan *prometheus.Desc, 1)
		c.collector.Describe(ch)
		d := (<-ch).String()
		match := descRE.FindStringSubmatch(d)
		if match == nil {
			t.Fatalf("cannot parse %s", d)
		}
		if match[1] != c.name {
			t.Errorf("collector listed as %s exports %s", c.name, match[1])
		}
		sig := match[1] + "{" + match[2] + "}"
		if !strings.Contains(string(pkgDoc), sig) {
			t.Errorf("doc.go does not list %s", sig)
		}
		if !strings.Contains(string(guide), sig) {
			t.Errorf("docs/metrics.md does not list %s", sig)
		}
	}
}
