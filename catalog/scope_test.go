package catalog_test

import (
	"testing"

	"github.com/tollgate-dev/tollgate/catalog"
)

// TestCallID: the id CallID gives for each scope parses back to that scope and model.
func TestCallID(t *testing.T) {
	const id = "anthropic.claude-sonnet-4-20250514-v1:0"
	for _, s := range catalog.Scopes() {
		got := catalog.CallID(id, s)
		ref, err := catalog.Parse(got)
		if err != nil || ref.Scope != s || ref.ModelID != id {
			t.Errorf("CallID(%q, %v) = %q, which parses as %+v, %v; want scope %v, model %s", id, s, got, ref, err, s, id)
		}
	}
}
