package reply

import "testing"

// TestTokens checks the rule's bounds: 0.5× to 1.5× of the mean, at least 1, and the
// mean's cap.
func TestTokens(t *testing.T) {
	for _, in := range []int{0, 1, 400, 4000, 1 << 20} {
		mean := Mean(in)
		if want := min(64+in/4, 1024); mean != want {
			t.Fatalf("Mean(%d) = %d, want %d", in, mean, want)
		}
		for _, seed := range []uint64{0, 1, 1 << 63, ^uint64(0), 0x9e3779b97f4a7c15} {
			got := Tokens(in, seed)
			if got < max(1, mean/2) || float64(got) > 1.5*float64(mean) {
				t.Errorf("Tokens(%d, %#x) = %d, outside 0.5–1.5 × %d", in, seed, got, mean)
			}
			if again := Tokens(in, seed); again != got {
				t.Errorf("Tokens(%d, %#x) = %d then %d", in, seed, got, again)
			}
		}
	}
}
