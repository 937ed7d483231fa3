package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestPriorityRulesAsWritten runs `tollgate run --dry-run --json` with the natural rule
// for "anything with urgent in its name is high", in each of the forms a user writes,
// on real files in folders: the plan counts every urgent file and every file under an
// urgent folder as high, and nothing else.
func TestPriorityRulesAsWritten(t *testing.T) {
	text, err := os.ReadFile(filepath.Join("..", "..", "examples", "contracts", "UAGHINC_04_14_2004-EX-10.18-MAINTENANCE_AGREEMENT.txt"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, name := range []string{"urgent-memo.txt", "q3/urgent-lease.txt", "urgent/a.txt", "clients/2024-urgent/b.txt", "q3/lease.txt", "other.txt"} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, append([]byte(name+"\n\n"), text...), 0o644); err != nil { // distinct contents
			t.Fatal(err)
		}
	}
	for _, rule := range []string{"urgent=high", "*urgent*=high", "**/*urgent*=high"} {
		t.Run(rule, func(t *testing.T) {
			stdout, stderr, err := runCmd(t, "run", "--emulate", "--dry-run", "--json", "--priority", rule, dir)
			if err != nil {
				t.Fatalf("run --dry-run: %v\n%s", err, stderr)
			}
			var plan struct {
				Classes []struct {
					Priority  string `json:"priority"`
					Documents int    `json:"documents"`
				} `json:"classes"`
			}
			if err := json.Unmarshal([]byte(stdout), &plan); err != nil {
				t.Fatalf("plan is not JSON: %v\n%s", err, stdout)
			}
			got := map[string]int{}
			for _, c := range plan.Classes {
				got[c.Priority] = c.Documents
			}
			if got["high"] != 4 || got["normal"] != 2 {
				t.Errorf("--priority %q: classes %v; want 4 high (the urgent names and folders), 2 normal", rule, got)
			}
		})
	}
}
