package quotatext_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/quotatext"
	"github.com/tollgate-dev/tollgate/quota"
)

func TestParseLimit(t *testing.T) {
	tests := []struct {
		in   string
		want quota.Limit
	}{
		{"400000 tokens/1m", quota.Limit{Dimension: quota.Tokens, Amount: 400_000, Per: time.Minute}},
		{"400k tokens/min", quota.Limit{Dimension: quota.Tokens, Amount: 400_000, Per: time.Minute}},
		{"576M tokens/day", quota.Limit{Dimension: quota.Tokens, Amount: 576_000_000, Per: 24 * time.Hour}},
		{"50 requests/1m", quota.Limit{Dimension: quota.Requests, Amount: 50, Per: time.Minute}},
		{"  2,000 output-tokens / 10s ", quota.Limit{Dimension: quota.OutputTokens, Amount: 2000, Per: 10 * time.Second}},
		{"1_000 input-tokens/5min", quota.Limit{Dimension: quota.InputTokens, Amount: 1000, Per: 5 * time.Minute}},
		{"3 calls/1h30m", quota.Limit{Dimension: quota.Requests, Amount: 3, Per: 90 * time.Minute}},
		{"1G Tokens/24h", quota.Limit{Dimension: quota.Tokens, Amount: 1_000_000_000, Per: 24 * time.Hour}},
	}
	for _, tc := range tests {
		got, err := quotatext.ParseLimit(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseLimit(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "400000", "400000 tokens", "x tokens/1m", "0 tokens/1m", "-5 tokens/1m",
		"10 widgets/1m", "10 tokens/fortnight", "10 tokens/1us", "99999999999999999999 tokens/1m", "9223372036854775807G tokens/1m"} {
		if l, err := quotatext.ParseLimit(bad); err == nil {
			t.Errorf("ParseLimit(%q) = %v; want an error", bad, l)
		}
	}
}

func TestLimitTextRoundTrip(t *testing.T) {
	for _, l := range []quota.Limit{
		{Dimension: quota.Tokens, Amount: 400_000, Per: time.Minute},
		{Dimension: quota.Tokens, Amount: 1, Per: 24 * time.Hour},
		{Dimension: quota.OutputTokens, Amount: 7, Per: 1500 * time.Millisecond},
	} {
		b, _ := quotatext.Limit(l).MarshalText()
		var got quotatext.Limit
		if err := got.UnmarshalText(b); err != nil || quota.Limit(got) != l {
			t.Errorf("round trip of %v through %q = %v, %v", l, b, got, err)
		}
	}
}

// FuzzParseLimit checks that no input makes ParseLimit panic, that whatever it accepts
// is a valid limit, and that its String form parses back to the same limit.
func FuzzParseLimit(f *testing.F) {
	for _, s := range []string{"400000 tokens/1m", "50 requests/min", "1k output-tokens/10s", "5 input/2h", "1 tokens/1ms", "12 tok/3day"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := quotatext.ParseLimit(s)
		if err != nil {
			return
		}
		if err := quotatext.Validate(l); err != nil {
			t.Fatalf("ParseLimit(%q) = %v, which is invalid: %v", s, l, err)
		}
		back, err := quotatext.ParseLimit(l.String())
		if err != nil || back != l {
			t.Fatalf("ParseLimit(%q).String() = %q parses to %v, %v", s, l.String(), back, err)
		}
		if _, err := quota.New(quota.Config{Limits: []quota.Limit{l}}); err != nil {
			t.Fatalf("New rejects parsed limit %v: %v", l, err)
		}
	})
}

func TestParsePriority(t *testing.T) {
	for _, p := range []quota.Priority{quota.Critical, quota.High, quota.Normal, quota.Low, quota.Background} {
		got, err := quotatext.ParsePriority(p.String())
		if err != nil || got != p {
			t.Errorf("ParsePriority(%q) = %v, %v", p.String(), got, err)
		}
	}
	if _, err := quotatext.ParsePriority("urgent"); err == nil {
		t.Error("ParsePriority(urgent) succeeded")
	}
}

func ExampleParseLimit() {
	l, err := quotatext.ParseLimit("400k tokens/min")
	fmt.Println(l, err)
	// Output: 400000 tokens/1m <nil>
}

// The names agree with quota.Limit.String, which writes both.
func TestNames(t *testing.T) {
	for _, d := range []quota.Dimension{quota.Requests, quota.Tokens, quota.InputTokens, quota.OutputTokens} {
		for _, m := range []quota.Meter{quota.Sliding, quota.TokenBucket, quota.ClockWindow} {
			l := quota.Limit{Dimension: d, Meter: m, Amount: 5, Per: time.Minute}
			want := "5 " + quotatext.DimensionName(d) + "/1m"
			if m != quota.Sliding {
				want += " " + quotatext.MeterName(m)
			}
			if got := l.String(); got != want {
				t.Errorf("%+v.String() = %q, want %q", l, got, want)
			}
		}
	}
	if got := quotatext.MeterName(quota.Sliding); got != "sliding" {
		t.Errorf("MeterName(Sliding) = %q, want sliding", got)
	}
}
