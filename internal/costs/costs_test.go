package costs_test

import (
	"testing"

	"github.com/tollgate-dev/tollgate/internal/costs"
	"github.com/tollgate-dev/tollgate/quota"
)

// Each dimension reads and writes its own field, and nothing else.
func TestGetSetAdd(t *testing.T) {
	dims := []quota.Dimension{quota.Requests, quota.Tokens, quota.InputTokens, quota.OutputTokens}
	for i, d := range dims {
		var c quota.Cost
		costs.Set(&c, d, int64(10+i))
		for j, e := range dims {
			want := int64(0)
			if j == i {
				want = int64(10 + i)
			}
			if got := costs.Get(c, e); got != want {
				t.Errorf("after Set(%d, 10+%d): Get(%d) = %d, want %d", d, i, e, got, want)
			}
		}
	}
	var c quota.Cost
	costs.Set(&c, quota.Dimension(9), 5)
	if c != (quota.Cost{}) || costs.Get(quota.Cost{Requests: 1, Tokens: 2, InputTokens: 3, OutputTokens: 4}, quota.Dimension(9)) != 0 {
		t.Errorf("an unknown dimension changed or read something: %+v", c)
	}
	a := quota.Cost{Requests: 1, Tokens: 2, InputTokens: 3, OutputTokens: 4}
	if got, want := costs.Add(a, a), (quota.Cost{Requests: 2, Tokens: 4, InputTokens: 6, OutputTokens: 8}); got != want {
		t.Errorf("Add = %+v, want %+v", got, want)
	}
}
