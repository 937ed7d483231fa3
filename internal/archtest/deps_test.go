package archtest

import (
	"encoding/json"
	"errors"
	"fmt"
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

// problems lists what is wrong with the packages (paths relative to the module): one that
// go list cannot load (every package named here exists, so a missing one is a renamed or
// deleted core package and this test's list must follow), one that go list does not
// report at all, and every forbidden dependency.
func problems(t *testing.T, packages []string) []string {
	t.Helper()
	var patterns []string
	for _, p := range packages {
		patterns = append(patterns, module+"/"+p)
	}
	var out []string
	seen := map[string]bool{}
	for _, p := range goList(t, patterns...) {
		seen[p.ImportPath] = true
		if p.Error != nil {
			out = append(out, fmt.Sprintf("%s cannot be listed (a core package that is missing or broken; fix it or update corePackages): %s", p.ImportPath, p.Error.Err))
			continue
		}
		for _, d := range p.Deps {
			for _, f := range forbidden {
				if strings.HasPrefix(d, f) {
					out = append(out, fmt.Sprintf("%s depends on %s; core packages must not import the AWS SDK, go-redis or Prometheus", p.ImportPath, d))
				}
			}
		}
	}
	for _, p := range patterns {
		if !seen[p] {
			out = append(out, fmt.Sprintf("%s was not listed by go list", p))
		}
	}
	return out
}

func TestCorePackagesImportNoSDKRedisOrPrometheus(t *testing.T) {
	for _, p := range problems(t, corePackages) {
		t.Error(p)
	}
}

// TestMissingCorePackageFails checks that the check above cannot pass by skipping: a core
// package that does not exist is a problem, as is one that imports the AWS SDK.
func TestMissingCorePackageFails(t *testing.T) {
	for _, tc := range []struct {
		pkg, want string
	}{
		{"internal/nosuchpackage", "cannot be listed"},
		{"internal/invoke", "depends on github.com/aws/"},
	} {
		t.Run(tc.pkg, func(t *testing.T) {
			got := problems(t, []string{tc.pkg})
			if len(got) == 0 || !strings.Contains(strings.Join(got, "\n"), tc.want) {
				t.Errorf("problems(%q) = %q; want one saying %q", tc.pkg, got, tc.want)
			}
		})
	}
}
