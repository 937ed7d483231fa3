package archtest

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/tollgate-dev/tollgate"

// corePackages must stay free of the AWS SDK, go-redis and Prometheus so that the admission
// engine, the model catalog, the estimator, the controller and the router can be used and
// tested alone.
var corePackages = []string{
	"quota",
	"catalog",
	"internal/estimate",
	"internal/adapt",
	"internal/route",
}

// forbidden lists import-path prefixes the core packages must not depend on, even indirectly.
var forbidden = []string{
	"github.com/aws/",
	"github.com/redis/",
	"github.com/go-redis/",
	"github.com/prometheus/",
}

type listedPackage struct {
	ImportPath string
	Deps       []string
	Error      *struct{ Err string }
}

// goList runs "go list -json" on the patterns and decodes its stream of packages.
func goList(t *testing.T, patterns ...string) []listedPackage {
	t.Helper()
	args := append([]string{"list", "-e", "-json=ImportPath,Deps,Error"}, patterns...)
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func TestCorePackagesImportNoSDKRedisOrPrometheus(t *testing.T) {
	var patterns []string
	for _, p := range corePackages {
		patterns = append(patterns, module+"/"+p)
	}
	checked := 0
	for _, p := range goList(t, patterns...) {
		if p.Error != nil {
			if strings.Contains(p.Error.Err, "no required module") || strings.Contains(p.Error.Err, "cannot find") ||
				strings.Contains(p.Error.Err, "matched no packages") || strings.Contains(p.Error.Err, "no Go files") {
				t.Logf("%s does not exist yet", p.ImportPath)
				continue
			}
			t.Errorf("%s: %s", p.ImportPath, p.Error.Err)
			continue
		}
		checked++
		for _, d := range p.Deps {
			for _, f := range forbidden {
				if strings.HasPrefix(d, f) {
					t.Errorf("%s depends on %s; core packages must not import the AWS SDK, go-redis or Prometheus (design §3)", p.ImportPath, d)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no core package was found; the list in this test is out of date")
	}
}
