package bedrocktest_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/catalog"
)

// FuzzOptions builds emulators from arbitrary numbers: New either refuses them with an
// error or serves a call (admitted, metered, settled) without a panic.
func FuzzOptions(f *testing.F) {
	f.Add(1.0, int64(400*time.Millisecond), int64(15*time.Millisecond), 10.0, 5.0, int64(100_000), int64(0), 64_000, 200_000, int64(0))
	f.Add(1e308, int64(0), int64(1_000_000*time.Hour), 1e300, 1e300, int64(1<<62), int64(1<<62), 1<<62, 1<<62, int64(1<<62))
	f.Add(0.000001, int64(-1), int64(-1), -1.0, 0.5, int64(-1), int64(-2), -1, -1, int64(-1))
	f.Fuzz(func(t *testing.T, scale float64, ttft, perToken int64, slow, burndown float64, tpm, tpd int64, maxOut, window int, cacheTTL int64) {
		o := bedrocktest.Options{
			Models: []catalog.Model{{ID: nova, OutputBurndown: burndown, MaxOutputTokens: maxOut, ContextWindow: window,
				Quotas: map[catalog.Scope]catalog.Quotas{catalog.OnDemand: {TPM: catalog.Quota{Default: tpm}, TPD: catalog.Quota{Default: tpd}}}}},
			TimeScale: scale, Counter: wordCounter{},
			Latency:  bedrocktest.Latency{TimeToFirstToken: time.Duration(ttft), PerOutputToken: time.Duration(perToken)},
			Faults:   bedrocktest.Faults{Slow: 1, SlowFactor: slow},
			CacheTTL: time.Duration(cacheTTL),
		}
		h, err := bedrocktest.New(o)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "bedrocktest: ") {
				t.Errorf("error without the package's prefix: %v", err)
			}
			return
		}
		defer h.Close()
		// The request's context is already cancelled: the call is admitted and settled
		// at once instead of waiting out its latency.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		req := httptest.NewRequest("POST", "/model/"+nova+"/converse",
			strings.NewReader(`{"messages":[{"role":"user","content":[{"text":"a b c"}]}],"inferenceConfig":{"maxTokens":5}}`)).WithContext(ctx)
		h.ServeHTTP(httptest.NewRecorder(), req)
		_ = h.Now()
		_ = h.Stats()
	})
}
