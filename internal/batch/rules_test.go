package batch

import (
	"testing"

	"github.com/tollgate-dev/tollgate/quota"
)

// TestRulesMatchAsWritten: the rules a user writes for "anything with urgent in its name
// is high" take in urgent files in any folder and every file in an urgent folder, and
// leave the rest; the default rules keep their meaning.
func TestRulesMatchAsWritten(t *testing.T) {
	paths := []string{
		"urgent-memo.txt",         // 0: urgent file at the top
		"q3/urgent-memo.txt",      // 1: urgent file in a folder
		"urgent/lease.pdf",        // 2: file in a folder named urgent
		"clients/urgent/deep.txt", // 3: file in an urgent folder deeper down
		"2024-urgent/notice.docx", // 4: folder whose name holds urgent
		"q3/lease.txt",            // 5: nothing urgent
		"archive/old.txt",         // 6
	}
	all := []int{0, 1, 2, 3, 4}
	for _, tc := range []struct {
		rule string
		want []int // indexes of paths the rule makes high
	}{
		{"*urgent*=high", all},
		{"urgent=high", all},
		{"**/*urgent*=high", all},
		{"**/*urgent*/**=high", all}, // "x/**" also matches x itself
		{"urgent/**=high", []int{2}},
		{"/urgent/**=high", []int{2}},
		{"**/urgent/**=high", []int{2, 3}},
		{"**/urgent=high", []int{2, 3}},
		{"q3/*=high", []int{1, 5}},
		{"*.pdf=high", []int{2}},
		{"archive/**=high", []int{6}},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			r, err := ParseRule(tc.rule)
			if err != nil {
				t.Fatal(err)
			}
			want := map[int]bool{}
			for _, i := range tc.want {
				want[i] = true
			}
			for i, p := range paths {
				got := classify([]Rule{r}, quota.Normal, p, nil) == quota.High
				if got != want[i] {
					t.Errorf("rule %q on %q: high = %v, want %v", tc.rule, p, got, want[i])
				}
			}
		})
	}
}

// TestMetaRulesMatchTheValue: a metadata rule globs the whole value.
func TestMetaRulesMatchTheValue(t *testing.T) {
	r, err := ParseRule("meta:title=*Amendment*=high")
	if err != nil {
		t.Fatal(err)
	}
	for title, want := range map[string]bool{"Second Amendment to the Lease": true, "Lease": false} {
		if got := classify([]Rule{r}, quota.Normal, "x.txt", map[string]string{"title": title}) == quota.High; got != want {
			t.Errorf("title %q: high = %v, want %v", title, got, want)
		}
	}
	if got := classify([]Rule{r}, quota.Normal, "Amendment.txt", nil); got != quota.Normal {
		t.Errorf("a metadata rule matched a document without the key: %v", got)
	}
}
