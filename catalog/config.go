package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"

	"go.yaml.in/yaml/v3"
)

// configFile is the shape of a catalog configuration file, checked strictly first.
type configFile struct {
	Models   []Model           `yaml:"models"`
	Profiles map[string]string `yaml:"profiles"`
}

// configNodes is the same file kept as YAML nodes, so that each entry can be applied on
// top of the model it overrides.
type configNodes struct {
	Models []yaml.Node `yaml:"models"`
}

// Load returns a copy of c with the models and profile mappings of a YAML configuration
// file applied:
//
//	models:
//	  - id: anthropic.claude-sonnet-4-20250514-v1:0   # override a known model:
//	    max_output_tokens: 32000                      # only the fields given change
//	    quotas:
//	      cross-region:
//	        tpm: {default: 50000}                     # a new account's TPM
//	  - id: acme.custom-model-v1:0                    # add a model: these four are required
//	    output_burndown: 1
//	    max_output_tokens: 4096
//	    context_window: 32000
//	    quotas: {on-demand: {tpm: {default: 100000}}}
//	profiles:
//	  arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6: us.anthropic.claude-sonnet-4-20250514-v1:0
//
// An entry whose id the catalog knows changes only the fields it names, down to single
// quota fields; a quota default given without region_defaults replaces the built-in
// per-region defaults too, so that it applies in every region; when it changes a TPM whose TPD was derived (TPM × 1440) and gives no TPD,
// the TPD is derived again. An entry with a new id must give every required setting.
// Unknown fields, bad scopes and bad values are errors naming the line or the setting.
func (c *Catalog) Load(r io.Reader) (*Catalog, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("catalog: reading configuration: %w", err)
	}
	var shape configFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&shape); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("catalog: configuration: %w (see docs/catalog.md for the format)", err)
	}
	var nodes configNodes
	if err := yaml.Unmarshal(data, &nodes); err != nil {
		return nil, fmt.Errorf("catalog: configuration: %w", err)
	}
	models := make([]Model, 0, len(nodes.Models))
	for i := range nodes.Models {
		m, err := c.apply(&nodes.Models[i])
		if err != nil {
			return nil, fmt.Errorf("catalog: configuration: models[%d]: %w", i, err)
		}
		models = append(models, m)
	}
	n, err := c.With(models...)
	if err != nil {
		return nil, fmt.Errorf("catalog: configuration: %w", err)
	}
	for arn, target := range shape.Profiles {
		if n, err = n.WithProfile(arn, target); err != nil {
			return nil, fmt.Errorf("catalog: configuration: profiles: %w", err)
		}
	}
	return n, nil
}

// LoadFile is Load on the file at path.
func (c *Catalog) LoadFile(path string) (*Catalog, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer f.Close()
	return c.Load(f)
}

// apply decodes one models entry on top of the model with the same id, if c has it.
func (c *Catalog) apply(node *yaml.Node) (Model, error) {
	if node.Kind != yaml.MappingNode {
		return Model{}, fmt.Errorf("line %d: each model is a mapping with at least an id", node.Line)
	}
	var id string
	for i := 0; i+1 < len(node.Content); i += 2 {
		if node.Content[i].Value == "id" {
			id = node.Content[i+1].Value
		}
	}
	if id == "" {
		return Model{}, fmt.Errorf("line %d: the entry has no id: give the base model id, e.g. %q", node.Line, "anthropic.claude-sonnet-4-20250514-v1:0")
	}
	base, ok := c.Model(id)
	if !ok {
		base = Model{ID: id}
	}
	rest := &yaml.Node{Kind: yaml.MappingNode, Tag: node.Tag, Line: node.Line, Column: node.Column}
	var quotas *yaml.Node
	for i := 0; i+1 < len(node.Content); i += 2 {
		if node.Content[i].Value == "quotas" {
			quotas = node.Content[i+1]
			continue
		}
		rest.Content = append(rest.Content, node.Content[i], node.Content[i+1])
	}
	if err := rest.Decode(&base); err != nil {
		return Model{}, err
	}
	if quotas == nil || quotas.Kind == yaml.ScalarNode && quotas.Tag == "!!null" {
		return base, nil
	}
	if quotas.Kind != yaml.MappingNode {
		return Model{}, fmt.Errorf("line %d: quotas is a mapping from scope (on-demand, cross-region, global) to tpm, tpd and rpm", quotas.Line)
	}
	if base.Quotas == nil {
		base.Quotas = make(map[Scope]Quotas)
	}
	for i := 0; i+1 < len(quotas.Content); i += 2 {
		var s Scope
		if err := s.UnmarshalText([]byte(quotas.Content[i].Value)); err != nil {
			return Model{}, fmt.Errorf("line %d: %w", quotas.Content[i].Line, err)
		}
		cur, v := base.Quotas[s], quotas.Content[i+1]
		// A default given without region_defaults applies everywhere: drop the built-in
		// per-region values it would otherwise hide behind.
		for _, k := range []struct {
			key string
			q   *Quota
		}{{"tpm", &cur.TPM}, {"tpd", &cur.TPD}, {"rpm", &cur.RPM}} {
			if n := valueOf(v, k.key); n != nil && hasKey(n, "default") && !hasKey(n, "region_defaults") {
				k.q.RegionDefaults = nil
			}
		}
		before := cur.TPM
		before.RegionDefaults = maps.Clone(before.RegionDefaults) // Decode writes into the map
		if err := v.Decode(&cur); err != nil {
			return Model{}, err
		}
		if cur.TPD.Derived && !hasKey(v, "tpd") && (cur.TPM.Default != before.Default || !maps.Equal(cur.TPM.RegionDefaults, before.RegionDefaults)) {
			cur.TPD = daily(s, cur.TPD.Code, cur.TPM)
		}
		base.Quotas[s] = cur
	}
	return base, nil
}

// hasKey reports whether the mapping node n has the key.
func hasKey(n *yaml.Node, key string) bool { return valueOf(n, key) != nil }

// valueOf returns the value of key in the mapping node n, or nil.
func valueOf(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
