package gateway

import (
	"bytes"
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"time"

	"github.com/tollgate-dev/tollgate/internal/testtool"
)

// exampleStatus is a gateway under load: one target near its token limit after a
// throttle, one idle; calls waiting in two classes; two tenants.
func exampleStatus() Status {
	now := time.Date(2026, 12, 4, 14, 30, 0, 0, time.UTC)
	var tokens, requests []Sample
	for i := range 40 {
		at := now.Add(time.Duration(i-39) * 15 * time.Second)
		tokens = append(tokens, Sample{At: at, Used: 800_000 * (0.3 + 0.6*float64(i)/39 + 0.05*math.Sin(float64(i)))})
		requests = append(requests, Sample{At: at, Used: 120 + 60*math.Sin(float64(i)/5)})
	}
	tokens[39].Used = 740_000
	return Status{
		Time: now,
		Targets: []TargetStatus{
			{Name: "us-east-1 us.anthropic.claude-sonnet-4-20250514-v1:0", InFlight: 14, Throttles: 2, Limits: []LimitStatus{
				{Name: "tokens per minute", Limit: 800_000, Used: 740_000, History: tokens},
				{Name: "requests per minute", Limit: 250, Used: 131, History: requests},
			}},
			{Name: "us-west-2 us.anthropic.claude-sonnet-4-20250514-v1:0", InFlight: 0, Limits: []LimitStatus{
				{Name: "tokens per minute", Limit: 800_000, Used: 0},
			}},
		},
		Queues: []QueueStatus{
			{Priority: "critical"}, {Priority: "high", Waiting: 7, OldestWaitSeconds: 2.4, MeanWaitSeconds: 0.8},
			{Priority: "normal", Waiting: 23, OldestWaitSeconds: 18, MeanWaitSeconds: 6.5}, {Priority: "low"}, {Priority: "background"},
		},
		Tenants: []TenantStatus{
			{Name: "search", TokensLastMinute: 512_345, RequestsLastMinute: 88, InFlight: 9, Waiting: 7},
			{Name: "contracts", TokensLastMinute: 227_655, RequestsLastMinute: 43, TokensPerMinute: 200_000, InFlight: 5, Waiting: 23, Throttled: 4},
		},
	}
}

// chromium returns the headless browser's path, or skips the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	testtool.Missing(t, "chromium", "apt-get install chromium (./scripts/test.sh does in CI)")
	return ""
}

func runChromium(t *testing.T, browser string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--user-data-dir=" + t.TempDir(), "--virtual-time-budget=2500"}
	cmd := exec.CommandContext(ctx, browser, append(base, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	return out
}

// TestGatewayStatusPage loads the status page in headless Chromium from a gateway
// serving exampleStatus and checks that the rendered page shows its figures: each
// target's use against its limits with a chart, the queues, the tenants. With
// TOLLGATE_SCREENSHOT set to a path, it also saves a screenshot there (how
// docs/images/status-page.png is made).
func TestGatewayStatusPage(t *testing.T) {
	browser := chromium(t)
	g := newTestGateway(t, Config{Status: exampleStatus})
	dom := string(runChromium(t, browser, "--dump-dom", g.URL+"/"))
	for _, want := range []string{
		`data-loaded="true"`,
		`<h3>us-east-1 us.anthropic.claude-sonnet-4-20250514-v1:0</h3>`,
		`740,000 / 800,000 <span class="pct" data-k="pct" style="color: var(--bad);">93%</span>`,
		`131 / 250 <span class="pct" data-k="pct" style="color: var(--ok);">52%</span>`,
		`2 throttles`,
		`<polyline points="0.0,`,
		`<tr data-row="high"><td data-k="priority">high</td><td data-k="waiting">7</td><td data-k="oldest">2.4 s</td><td data-k="mean">0.8 s</td></tr>`,
		`<tr data-row="critical"><td data-k="priority">critical</td><td data-k="waiting">0</td><td data-k="oldest">–</td><td data-k="mean">–</td></tr>`,
		`<tr data-row="normal"><td data-k="priority">normal</td><td data-k="waiting">23</td><td data-k="oldest">18 s</td>`,
		`<td data-k="tenant">contracts</td><td data-k="tokens">227,655</td><td data-k="limit">200,000</td><td data-k="requests">43</td><td data-k="inflight">5</td><td data-k="waiting">23</td><td data-k="throttled">4</td>`,
		`<td data-k="tenant">search</td><td data-k="tokens">512,345</td><td data-k="limit">none</td>`,
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered page lacks %s", want)
		}
	}
	if !strings.Contains(dom, `<div id="error"></div>`) {
		t.Errorf("the page shows an error loading /status.json")
	}
	if t.Failed() {
		t.Logf("rendered DOM:\n%s", dom)
	}

	shot := os.Getenv("TOLLGATE_SCREENSHOT")
	if shot == "" {
		shot = filepath.Join(t.TempDir(), "status.png")
	}
	runChromium(t, browser, "--hide-scrollbars", "--window-size=1200,860", "--screenshot="+shot, g.URL+"/")
	png, err := os.ReadFile(shot)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) || len(png) < 10_000 {
		t.Errorf("screenshot %s: %d bytes, err %v; want a PNG", shot, len(png), err)
	}
}
