package analyze

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/quota"
)

// TestCombineReadsItsParts checks that a combining call marked InputAddsParts reads the
// answers of its document's chunks — their given outputs, or the outputs Params.Output
// expects — and that the report counts the chunked documents and their calls.
func TestCombineReadsItsParts(t *testing.T) {
	out := func(in int) int { return in / 10 }
	p := plain
	p.Output = out
	w := Workload{Requests: []Request{
		{Name: "big.txt#chunk1", InputTokens: 1000, MaxTokens: 500, OutputTokens: 200},
		{Name: "big.txt#chunk2", InputTokens: 2000, MaxTokens: 500}, // expects 200
		{Name: "big.txt#combine", InputTokens: 300, MaxTokens: 500, InputAddsParts: true},
		{Name: "odd.txt#chunk1", InputTokens: 1000, MaxTokens: 500, OutputTokens: 100},
		{Name: "odd.txt#combine", InputTokens: 300, MaxTokens: 500}, // its input is given whole
		{Name: "small.txt", InputTokens: 500, MaxTokens: 500, OutputTokens: 50},
	}}
	pl, _ := planFor(t, sonnet4(t), []quota.Limit{tpm(1_000_000)}, w, p)
	ins := map[string]int{}
	pl.each(func(c *call) { ins[w.Requests[c.req].Name] = c.in })
	for name, want := range map[string]int{"big.txt#chunk2": 2000, "big.txt#combine": 300 + 200 + 200, "odd.txt#combine": 300, "small.txt": 500} {
		if ins[name] != want {
			t.Errorf("%s: input %d; want %d", name, ins[name], want)
		}
	}
	r, err := New(Config{Model: sonnet4(t), Limits: []quota.Limit{tpm(1_000_000)}, Workload: w, Params: p})
	if err != nil {
		t.Fatal(err)
	}
	if r.Documents != 3 || r.Chunked != 2 || r.ChunkCalls != 5 {
		t.Errorf("%d documents, %d chunked into %d calls; want 3, 2 and 5", r.Documents, r.Chunked, r.ChunkCalls)
	}
	if want := int64(1000 + 2000 + 700 + 1000 + 300 + 500); r.InputTokens != want {
		t.Errorf("input tokens %d; want %d", r.InputTokens, want)
	}
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if want := "2 documents too long for one call, split into 5 calls: 3 chunks, then 2 calls combining the answers"; !strings.Contains(b.String(), want) {
		t.Errorf("the text does not say %q:\n%s", want, b.String())
	}
}
