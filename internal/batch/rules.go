package batch

import (
	"fmt"
	"strings"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/tollgate-dev/tollgate/internal/quotatext"
	"github.com/tollgate-dev/tollgate/quota"
)

// Rule maps documents to a priority class: by a pattern on the document's path (relative
// to its input folder, slash-separated), or by a glob on one of its metadata values. The
// first rule that matches a document sets its class.
//
// A path pattern is matched as .gitignore matches: a pattern without a slash is matched
// against every name along the path, folders and file alike, so "*urgent*" takes in
// urgent-memo.txt and q3/urgent-memo.txt and every file under a folder named
// urgent-2024; a plain word, without a slash or glob character, matches every name that
// contains it ("urgent" is "*urgent*"); a pattern with a slash is matched from the input
// folder ("clients/acme/**", "**/urgent", a leading "/" changing nothing), and a pattern
// that matches a folder matches everything in it ("**/*urgent*" takes in urgent/a.txt).
// Globs are doublestar's: "*" and "?" stay within a name, "**" spans folders.
type Rule struct {
	// Meta, when set, is the metadata key whose value Pattern is matched against ("title",
	// "author", or a key of a JSONL request's "metadata"); empty means the path.
	Meta string
	// Pattern is a glob ("urgent/**", "*Amendment*") or, for the path, a plain word.
	Pattern string
	// Priority is the class of the documents the rule matches.
	Priority quota.Priority
}

// ParseRule parses a rule as written on the command line: "GLOB=CLASS" matches the path,
// "meta:KEY=GLOB=CLASS" a metadata value. Classes are critical, high, normal, low and
// background.
func ParseRule(s string) (Rule, error) {
	i := strings.LastIndex(s, "=")
	if i <= 0 || i == len(s)-1 {
		return Rule{}, fmt.Errorf("priority rule %q: want GLOB=CLASS (e.g. 'urgent/**=high') or meta:KEY=GLOB=CLASS", s)
	}
	p, err := quotatext.ParsePriority(strings.TrimSpace(s[i+1:]))
	if err != nil {
		return Rule{}, fmt.Errorf("priority rule %q: %w", s, err)
	}
	r := Rule{Pattern: strings.TrimSpace(s[:i]), Priority: p}
	if rest, ok := strings.CutPrefix(r.Pattern, "meta:"); ok {
		k, g, ok := strings.Cut(rest, "=")
		if !ok || k == "" || g == "" {
			return Rule{}, fmt.Errorf("priority rule %q: a metadata rule is meta:KEY=GLOB=CLASS (e.g. 'meta:title=*Amendment*=high')", s)
		}
		r.Meta, r.Pattern = k, g
	}
	if !doublestar.ValidatePattern(r.Pattern) {
		return Rule{}, fmt.Errorf("priority rule %q: %q is not a valid glob", s, r.Pattern)
	}
	return r, nil
}

// String returns the rule as ParseRule reads it.
func (r Rule) String() string {
	if r.Meta != "" {
		return fmt.Sprintf("meta:%s=%s=%s", r.Meta, r.Pattern, r.Priority)
	}
	return fmt.Sprintf("%s=%s", r.Pattern, r.Priority)
}

// match reports whether r matches a document with path and metadata meta.
func (r Rule) match(path string, meta map[string]string) bool {
	if r.Meta == "" {
		return matchPath(r.Pattern, path)
	}
	v, ok := meta[r.Meta]
	if !ok {
		return false
	}
	ok, _ = doublestar.Match(r.Pattern, v) // patterns are validated by ParseRule
	return ok
}

// matchPath reports whether a path rule's pattern matches path (see Rule).
func matchPath(pattern, path string) bool {
	names := strings.Split(path, "/")
	if !strings.Contains(pattern, "/") {
		plain := !strings.ContainsAny(pattern, `*?[{\`)
		for _, n := range names {
			if plain && strings.Contains(n, pattern) {
				return true
			}
			if ok, _ := doublestar.Match(pattern, n); !plain && ok {
				return true
			}
		}
		return false
	}
	pattern = strings.TrimPrefix(pattern, "/")
	for i := range names { // the path's folders, then the path itself
		if ok, _ := doublestar.Match(pattern, strings.Join(names[:i+1], "/")); ok {
			return true
		}
	}
	return false
}

// classify returns the class of a document: the first matching rule's, else def.
func classify(rules []Rule, def quota.Priority, path string, meta map[string]string) quota.Priority {
	for _, r := range rules {
		if r.match(path, meta) {
			return r.Priority
		}
	}
	return def
}
