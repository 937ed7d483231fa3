package batch

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"text/template"
)

// Verbosity levels a template can mark sections with, leanest first. Under load, lower
// priorities drop to leaner levels (see Config.Deadlines).
const (
	Brief    = 0
	Standard = 1
	Full     = 2
)

var levelNames = []string{"brief", "standard", "full"}

// LevelName returns the name of a verbosity level ("brief", "standard", "full").
func LevelName(l int) string {
	if l < 0 || l >= len(levelNames) {
		return fmt.Sprintf("level%d", l)
	}
	return levelNames[l]
}

func parseLevel(s string) (int, error) {
	for i, n := range levelNames {
		if n == s {
			return i, nil
		}
	}
	return 0, fmt.Errorf("unknown verbosity level %q: use brief, standard or full", s)
}

// Data is what a prompt template sees.
type Data struct {
	// Document is the document's text (or the chunk's, for a chunked document).
	Document string
	// Name is the document's file name; Path its path relative to the input folder.
	Name, Path string
	// Meta is the document's metadata: title, author, pages… and, for a JSONL request,
	// its "metadata" object.
	Meta map[string]string
	// Level is the verbosity level's name ("brief", "standard", "full").
	Level string
	// Part is set when the document is processed in chunks.
	Part *Part
	// Parts holds the answers for the chunks, for the combining prompt.
	Parts []string
}

// Part says which chunk of a document a prompt holds.
type Part struct {
	Index, Total int    // 1-based index, number of chunks
	Heading      string // the section the chunk starts in, "" if none
}

// DefaultTemplate is the built-in contract-review prompt. Sections in
// {{if level "standard"}} and {{if level "full"}} are left out at leaner levels.
const DefaultTemplate = `Review the contract below{{with .Meta.title}} ("{{.}}"){{end}}, file {{.Name}}.
{{- with .Part}}
This is part {{.Index}} of {{.Total}} of the contract{{with .Heading}}, starting in "{{.}}"{{end}}: review only this part; another step combines the parts.
{{- end}}
Report:
1. The parties and the effective date.
2. The term, renewal and termination rights.
3. Payment and pricing terms.
{{- if level "standard"}}
4. Liability caps, indemnities and warranties.
5. Intellectual property, licences, exclusivity and non-compete clauses.
{{- end}}
{{- if level "full"}}
6. Unusual or one-sided clauses, quoting them with their section numbers.
7. The risks for the customer, ranked high, medium or low, with a suggested change for each high risk.
{{- end}}
Answer in {{if level "full"}}detail, with a heading per point{{else if level "standard"}}concise bullet points{{else}}at most ten short bullet points{{end}}. Say "not stated" for anything the contract does not say.

<contract>
{{.Document}}
</contract>`

// DefaultSystem is the built-in system prompt.
const DefaultSystem = `You are a careful commercial lawyer reviewing contracts for a customer. Quote the contract where it matters and never invent terms it does not contain.`

// DefaultCombineTemplate joins the answers for the chunks of a long document into one.
const DefaultCombineTemplate = `The document {{.Name}} was too long for one request, so its {{len .Parts}} parts were reviewed one by one. Combine the reviews below into one review of the whole document, in the same format, merging duplicates and keeping every finding.
{{range $i, $p := .Parts}}
<review part="{{inc $i}}">
{{$p}}
</review>
{{end}}`

// Template is a parsed prompt template with its verbosity levels.
type Template struct {
	t *template.Template
	// Levels lists the levels the template distinguishes, leanest first: all three when
	// it uses the level function, else just Standard.
	Levels []int
	// Hash identifies the template's text, for the settings hash of records.
	Hash string
}

// ParseTemplate parses a prompt template: Go text/template over Data, with the functions
// level NAME (true when the current level is NAME or richer) and inc.
func ParseTemplate(name, text string) (*Template, error) {
	var cur int // replaced per execution through a clone; here only for parsing
	funcs := template.FuncMap{
		"level": func(n string) (bool, error) {
			l, err := parseLevel(n)
			return cur >= l, err
		},
		"inc": func(i int) int { return i + 1 },
	}
	t, err := template.New(name).Option("missingkey=zero").Funcs(funcs).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	sum := sha256.Sum256([]byte(text))
	tp := &Template{t: t, Levels: []int{Standard}, Hash: hex.EncodeToString(sum[:8])}
	if strings.Contains(text, "level") && usesLevel(t) {
		tp.Levels = []int{Brief, Standard, Full}
	}
	// Execute once with empty data to catch errors that only show at run time (a
	// misspelt level name, a field Data does not have).
	for _, l := range tp.Levels {
		if _, err := tp.Execute(l, Data{Meta: map[string]string{}, Part: &Part{Index: 1, Total: 2}, Parts: []string{""}}); err != nil {
			return nil, err
		}
	}
	return tp, nil
}

// usesLevel reports whether the template calls the level function.
func usesLevel(t *template.Template) bool {
	for _, tt := range t.Templates() {
		if tt.Tree != nil && strings.Contains(tt.Tree.Root.String(), "level ") {
			return true
		}
	}
	return false
}

// Execute renders the template for d at verbosity level.
func (t *Template) Execute(level int, d Data) (string, error) {
	c, err := t.t.Clone()
	if err != nil {
		return "", err
	}
	c.Funcs(template.FuncMap{"level": func(n string) (bool, error) {
		l, err := parseLevel(n)
		return level >= l, err
	}})
	if d.Level == "" {
		d.Level = LevelName(level)
	}
	var b strings.Builder
	b.Grow(len(d.Document) + 4<<10) // one allocation and one copy for a long document
	if err := c.Execute(&b, d); err != nil {
		return "", fmt.Errorf("template %s: %w", t.t.Name(), err)
	}
	return b.String(), nil
}
