package batch

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/tollgate-dev/tollgate/internal/extract"
	"github.com/tollgate-dev/tollgate/quota"
)

// item is one unit of work: a document read from a file, or a request of a JSONL file.
type item struct {
	path     string // the record's path
	file     string // the file it came from
	hash     string
	priority quota.Priority
	meta     map[string]string
	text     string // the document's text, or the request's prompt
	err      error  // why it cannot be processed (read or extraction failure)

	// Set for JSONL requests.
	request   bool
	system    *string // the request's own system prompt
	maxTokens int
}

// request is one line of a JSONL input.
type request struct {
	ID        string            `json:"id"`
	Prompt    string            `json:"prompt"`
	System    *string           `json:"system"`
	MaxTokens int               `json:"max_tokens"`
	Priority  string            `json:"priority"`
	Metadata  map[string]string `json:"metadata"`
}

func hashOf(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// collect lists and reads the inputs. Problems with single documents are recorded in their
// item; problems with the inputs themselves (a missing path, a bad glob) are errors.
func collect(cfg Config) ([]*item, error) {
	for _, g := range append(append([]string(nil), cfg.Include...), cfg.Exclude...) {
		if !doublestar.ValidatePattern(g) {
			return nil, fmt.Errorf("glob %q is not valid (use *, ?, [abc] and ** for any folders)", g)
		}
	}
	outAbs, _ := filepath.Abs(cfg.Out)
	var items []*item
	seen := map[string]bool{}
	add := func(it *item) {
		if seen[it.path] {
			return
		}
		seen[it.path] = true
		items = append(items, it)
	}
	for _, in := range cfg.Inputs {
		st, err := os.Stat(in)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", in, err)
		}
		switch {
		case st.IsDir():
			docs, err := walk(in, cfg, outAbs)
			if err != nil {
				return nil, err
			}
			for _, d := range docs {
				add(d)
			}
		case strings.EqualFold(filepath.Ext(in), ".jsonl"):
			reqs, err := readRequests(in, cfg)
			if err != nil {
				return nil, err
			}
			for _, r := range reqs {
				add(r)
			}
		default:
			add(readDoc(in, filepath.ToSlash(filepath.Clean(in)), cfg))
		}
	}
	return items, nil
}

// walk lists the documents under root that the globs select, in path order.
func walk(root string, cfg Config, outAbs string) ([]*item, error) {
	var items []*item
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			items = append(items, &item{path: filepath.ToSlash(rel), file: p, err: fmt.Errorf("cannot read: %w", err)})
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		if abs, _ := filepath.Abs(p); abs == outAbs || strings.HasPrefix(d.Name(), filepath.Base(outAbs)+".tmp") {
			return nil
		}
		for _, g := range cfg.Exclude {
			if ok, _ := doublestar.Match(g, rel); ok {
				return nil
			}
		}
		if len(cfg.Include) > 0 {
			match := false
			for _, g := range cfg.Include {
				if ok, _ := doublestar.Match(g, rel); ok {
					match = true
					break
				}
			}
			if !match {
				return nil
			}
		} else if !extract.Supported(d.Name()) {
			return nil // not a document: a README of another format, an image
		}
		if !d.Type().IsRegular() {
			if d.Type()&fs.ModeSymlink == 0 {
				return nil
			}
		}
		items = append(items, readDoc(p, rel, cfg))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("input %s: %w", root, err)
	}
	sort.Slice(items, func(i, j int) bool { return items[i].path < items[j].path })
	return items, nil
}

// readDoc reads, hashes and extracts one document.
func readDoc(file, rel string, cfg Config) *item {
	it := &item{path: rel, file: file, meta: map[string]string{
		"name": path.Base(rel), "dir": path.Dir(rel), "ext": strings.TrimPrefix(strings.ToLower(path.Ext(rel)), "."),
	}}
	var data []byte
	st, err := os.Stat(file)
	if err == nil && st.Size() > extract.MaxFileSize {
		err = fmt.Errorf("%w: %d MB, more than the %d MB read (split the file)", extract.ErrTooLarge, st.Size()>>20, extract.MaxFileSize>>20)
	} else if err == nil {
		data, err = os.ReadFile(file)
		if err != nil {
			err = fmt.Errorf("cannot read: %w", err)
		}
	}
	if err != nil {
		it.err = err
		it.priority = classify(cfg.Rules, cfg.DefaultPriority, rel, it.meta)
		return it
	}
	it.hash = hashOf(data)
	if !extract.Supported(file) {
		it.err = fmt.Errorf("%w: %s is not one of %s", extract.ErrUnsupported, path.Ext(rel), strings.Join(extract.Formats(), ", "))
	} else if d, err := extract.Bytes(file, data); err != nil {
		it.err = err
	} else {
		it.text = d.Text
		for k, v := range d.Meta {
			it.meta[k] = v
		}
	}
	it.priority = classify(cfg.Rules, cfg.DefaultPriority, rel, it.meta)
	return it
}

// readRequests reads a JSONL file of requests. A malformed line makes an item that is
// skipped with the reason, so that the other requests still run.
func readRequests(file string, cfg Config) ([]*item, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("input %s: %w", file, err)
	}
	base := filepath.ToSlash(filepath.Clean(file))
	var items []*item
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	ids := map[string]int{}
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		it := &item{file: file, request: true, hash: hashOf(line), meta: map[string]string{}}
		var r request
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			it.path = base + ":line" + strconv.Itoa(n)
			it.err = fmt.Errorf("line %d is not a request (%v): want {\"id\", \"prompt\", \"system\", \"max_tokens\", \"priority\", \"metadata\"}", n, err)
			it.priority = cfg.DefaultPriority
			items = append(items, it)
			continue
		}
		id := r.ID
		if id == "" {
			id = "line" + strconv.Itoa(n)
		}
		if prev, dup := ids[id]; dup {
			it.path = base + ":line" + strconv.Itoa(n)
			it.err = fmt.Errorf("line %d repeats the id %q of line %d: ids must be unique", n, id, prev)
			it.priority = cfg.DefaultPriority
			items = append(items, it)
			continue
		}
		ids[id] = n
		it.path = base + ":" + id
		it.text, it.system, it.maxTokens = r.Prompt, r.System, r.MaxTokens
		for k, v := range r.Metadata {
			it.meta[k] = v
		}
		it.meta["id"] = id
		switch {
		case strings.TrimSpace(r.Prompt) == "":
			it.err = fmt.Errorf("line %d has no prompt", n)
		case r.MaxTokens < 0:
			it.err = fmt.Errorf("line %d: max_tokens %d must be positive (or absent)", n, r.MaxTokens)
		}
		if r.Priority != "" {
			p, err := quota.ParsePriority(r.Priority)
			if err != nil {
				it.err = errors.Join(it.err, fmt.Errorf("line %d: %w", n, err))
			}
			it.priority = p
		} else {
			it.priority = classify(cfg.Rules, cfg.DefaultPriority, it.path, it.meta)
		}
		items = append(items, it)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("input %s: %w", file, err)
	}
	return items, nil
}

func extractFormats() []string { return extract.Formats() }
