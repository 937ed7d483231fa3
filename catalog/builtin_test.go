package catalog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBuiltinModelsAreValid(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range builtin() {
		if err := m.Validate(); err != nil {
			t.Error(err)
		}
		if seen[m.ID] {
			t.Errorf("model %s is listed twice", m.ID)
		}
		seen[m.ID] = true
	}
	if got, want := len(Default().Models()), len(seen); got != want {
		t.Errorf("Default has %d models, want %d", got, want)
	}
}

// TestDocsListEveryModel keeps docs/catalog.md in step with the built-in table: every model
// id and every known quota code appears there.
func TestDocsListEveryModel(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "catalog.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range Default().Models() {
		if !strings.Contains(string(doc), "`"+m.ID+"`") {
			t.Errorf("docs/catalog.md does not list model %s", m.ID)
		}
		for s, q := range m.Quotas {
			for _, code := range []string{q.TPM.Code, q.TPD.Code, q.RPM.Code} {
				if code != "" && !strings.Contains(string(doc), code) {
					t.Errorf("docs/catalog.md does not list %s's %v quota code %s", m.ID, s, code)
				}
			}
		}
	}
}
