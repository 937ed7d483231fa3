package catalog

import "testing"

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
