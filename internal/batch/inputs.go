package batch

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	pathpkg "path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/tollgate-dev/tollgate/internal/extract"
	"github.com/tollgate-dev/tollgate/internal/quotatext"
	"github.com/tollgate-dev/tollgate/internal/results"
	"github.com/tollgate-dev/tollgate/quota"
)

// item is one unit of work: a document read from a file, or a request of a JSONL file.
type item struct {
	// path identifies the item in the results file: the input as given, and for a
	// document found in an input folder, its path under the folder ("in/sub/a.txt"); for
	// a request, the JSONL file's path and the request's id ("reqs.jsonl:a1").
	path string
	// rel is what priority rules and templates see: the path relative to the input
	// folder, or path for listed files and requests. Earlier versions recorded a folder's
	// documents under it.
	rel      string
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
// item; problems with the inputs themselves (a missing path, a bad glob) are errors. A
// file named twice (a folder and a file in it, two folders holding one file through a
// link, one file under two names) is read once, with a warning through cfg.Warn.
func collect(cfg Config) ([]*item, error) {
	for _, g := range append(append([]string(nil), cfg.Include...), cfg.Exclude...) {
		if !doublestar.ValidatePattern(g) {
			return nil, fmt.Errorf("glob %q is not valid (use *, ?, [abc] and ** for any folders)", g)
		}
	}
	outAbs, _ := filepath.Abs(cfg.Out)
	warn := cfg.Warn
	if warn == nil {
		warn = func(string) {}
	}
	var items []*item
	byPath := map[string]*item{}
	files := sameFiles{}
	dups := 0 // of the current input
	dup := func(msg string) {
		if dups++; dups <= maxDupWarnings {
			warn(msg)
		}
	}
	add := func(it *item, fi os.FileInfo) {
		if prev := byPath[it.path]; prev != nil {
			dup(fmt.Sprintf("%s is named twice by the inputs: it is done once", Quote(it.path)))
			return
		}
		if prev := files.seen(fi, it.path); prev != "" {
			dup(fmt.Sprintf("%s and %s are the same file: it is done once, as %s", Quote(prev), Quote(it.path), Quote(prev)))
			return
		}
		byPath[it.path] = it
		items = append(items, it)
	}
	for _, in := range cfg.Inputs {
		if dups > maxDupWarnings {
			warn(fmt.Sprintf("… and %d more files named twice", dups-maxDupWarnings))
		}
		dups = 0
		st, err := os.Stat(in)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", Quote(in), err)
		}
		switch {
		case st.IsDir():
			docs, err := walk(in, cfg, outAbs)
			if err != nil {
				return nil, err
			}
			for _, d := range docs {
				var fi os.FileInfo
				if d.err == nil {
					fi, _ = os.Stat(d.file)
				}
				add(d, fi)
			}
		case strings.EqualFold(filepath.Ext(in), ".jsonl"):
			name := filepath.ToSlash(filepath.Clean(in))
			if prev := files.seen(st, name); prev != "" {
				warn(fmt.Sprintf("%s and %s are the same file: its requests are done once, as %s", Quote(prev), Quote(name), Quote(prev)))
				continue
			}
			reqs, err := readRequests(in, cfg)
			if err != nil {
				return nil, err
			}
			for _, r := range reqs {
				add(r, nil)
			}
		default:
			rel := filepath.ToSlash(filepath.Clean(in))
			add(readDoc(in, rel, rel, cfg), st)
		}
	}
	if dups > maxDupWarnings {
		warn(fmt.Sprintf("… and %d more files named twice", dups-maxDupWarnings))
	}
	return items, nil
}

// maxDupWarnings bounds the warnings about files named twice, per input.
const maxDupWarnings = 5

// sameFiles finds a file named twice: os.SameFile among files of equal size and
// modification time.
type sameFiles map[sameKey][]sameFile

type sameKey struct {
	size int64
	mod  int64
}

type sameFile struct {
	fi   os.FileInfo
	name string
}

// seen returns the name fi was first seen under, or "" when it is new (then remembered
// under name). A nil fi is never a duplicate.
func (s sameFiles) seen(fi os.FileInfo, name string) string {
	if fi == nil {
		return ""
	}
	k := sameKey{fi.Size(), fi.ModTime().UnixNano()}
	for _, f := range s[k] {
		if os.SameFile(f.fi, fi) {
			return f.name
		}
	}
	s[k] = append(s[k], sameFile{fi, name})
	return ""
}

// walk lists the documents under root that the globs select, in path order. Entries that
// are not regular files (FIFOs, devices, sockets, links to them or to folders) are listed
// too, so that they are skipped with the reason.
func walk(root string, cfg Config, outAbs string) ([]*item, error) {
	var items []*item
	outDir, outBase := filepath.Split(outAbs)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			rel = filepath.ToSlash(rel)
			items = append(items, &item{path: joinInput(root, rel), rel: rel, file: p, err: fmt.Errorf("cannot read: %w", err)})
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
		if abs, _ := filepath.Abs(p); abs == outAbs || filepath.Dir(abs)+string(filepath.Separator) == outDir && results.IsTemp(d.Name(), outBase) {
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
		items = append(items, readDoc(p, joinInput(root, rel), rel, cfg))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("input %s: %w", Quote(root), err)
	}
	sort.Slice(items, func(i, j int) bool { return items[i].path < items[j].path })
	return items, nil
}

// joinInput is the path of the document rel of the input folder root, as its record
// names it: slash-separated, from the folder as given.
func joinInput(root, rel string) string {
	return filepath.ToSlash(filepath.Join(root, filepath.FromSlash(rel)))
}

// readDoc reads, hashes and extracts one document: the file named file, recorded as path,
// and rel for rules and templates. Only regular files are read (extract.ReadFile), up to
// extract.MaxFileSize.
func readDoc(file, path, rel string, cfg Config) *item {
	it := &item{path: path, rel: rel, file: file, meta: map[string]string{
		"name": pathpkg.Base(rel), "dir": pathpkg.Dir(rel), "ext": strings.TrimPrefix(strings.ToLower(pathpkg.Ext(rel)), "."),
	}}
	data, err := extract.ReadFile(file)
	if err != nil {
		it.err = err
		it.priority = classify(cfg.Rules, cfg.DefaultPriority, rel, it.meta)
		return it
	}
	it.hash = hashOf(data)
	if !extract.Supported(file) {
		it.err = fmt.Errorf("%w: %s is not one of %s", extract.ErrUnsupported, pathpkg.Ext(rel), strings.Join(extract.Formats(), ", "))
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

// MaxRequestLine is the longest line of a JSONL input read as a request, in bytes: a
// longer line is skipped with the reason, and the other lines are read.
const MaxRequestLine = 64 << 20

// readRequests reads a JSONL file of requests. A malformed or too long line makes an item
// that is skipped with the reason, so that the other requests still run.
func readRequests(file string, cfg Config) ([]*item, error) {
	f, err := openInput(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	base := filepath.ToSlash(filepath.Clean(file))
	var items []*item
	br := bufio.NewReaderSize(f, 64<<10)
	ids := map[string]int{}
	for n := 1; ; n++ {
		raw, long, err := readLine(br, MaxRequestLine)
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("input %s: %w", Quote(file), err)
		}
		if err == io.EOF && len(raw) == 0 && !long {
			break
		}
		if long {
			items = append(items, &item{path: base + ":line" + strconv.Itoa(n), file: file, request: true, meta: map[string]string{}, priority: cfg.DefaultPriority,
				err: fmt.Errorf("line %d is longer than the %d MB a request may hold: it is skipped (shorten its prompt)", n, MaxRequestLine>>20)})
			continue
		}
		line := bytes.TrimSpace(raw)
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
			p, err := quotatext.ParsePriority(r.Priority)
			if err != nil {
				it.err = errors.Join(it.err, fmt.Errorf("line %d: %w", n, err))
			}
			it.priority = p
		} else {
			it.priority = classify(cfg.Rules, cfg.DefaultPriority, it.path, it.meta)
		}
		items = append(items, it)
	}
	for _, it := range items {
		it.rel = it.path
	}
	return items, nil
}

// openInput opens an input file for reading if it is a regular file (after following
// links); it never blocks on a FIFO.
func openInput(name string) (*os.File, error) {
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("input %s: %w", Quote(name), err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("input %s: %w", Quote(name), err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("input %s: not a regular file (it is %s): give a file or a folder", Quote(name), results.Kind(fi.Mode()))
	}
	return f, nil
}

// readLine reads a line without its newline. A line longer than limit bytes is read to
// its end and dropped: long is set and line is nil. err is io.EOF at the end of the input.
func readLine(br *bufio.Reader, limit int) (line []byte, long bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		chunk = bytes.TrimSuffix(chunk, []byte("\n"))
		if !long {
			if len(line)+len(chunk) > limit {
				long, line = true, nil
			} else {
				line = append(line, chunk...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return line, long, err
	}
}

func extractFormats() []string { return extract.Formats() }
