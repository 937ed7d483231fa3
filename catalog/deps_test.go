package catalog

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportsNoSDK keeps the catalog a pure data and parsing package: the emulator, the
// estimator and users without the AWS SDK import it.
func TestImportsNoSDK(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, bad := range []string{"github.com/aws/", "github.com/redis/", "github.com/go-redis/", "github.com/prometheus/"} {
			if strings.HasPrefix(dep, bad) {
				t.Errorf("catalog depends on %s; it must import no AWS SDK, go-redis or Prometheus", dep)
			}
		}
	}
}
