// Package ocsfschema validates OCSF events against the OCSF project's own
// definition files, for warden's tests: it resolves classes and objects as
// the OCSF server does and checks an event line against them.
package ocsfschema

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// A Schema reads OCSF's own definition files (the ocsf-schema repository's
// layout: dictionary.json, categories.json, events/, objects/, profiles/)
// and resolves classes and objects the way the OCSF server does: extends,
// $include of profiles, attribute overrides, enums merged with the
// dictionary's. It loads files as they are needed, and remembers which.
type Schema struct {
	fsys       fs.FS
	types      map[string]typeDef
	dict       map[string]attr
	categories map[string]int

	mu      sync.Mutex
	classes map[int]*def    // by class_uid
	byName  map[string]*def // classes and objects by name
	opened  map[string]bool
}

// typeDef is one of the dictionary's data types.
type typeDef struct {
	Type   string  `json:"type"` // the base type, "" for a base type itself
	Regex  string  `json:"regex"`
	MaxLen int     `json:"max_len"`
	Range  []int64 `json:"range"`
}

// attr is an attribute as a class or object uses it.
type attr struct {
	Requirement string
	Type        string
	IsArray     bool
	Sibling     string
	Enum        map[string]string // id -> caption
	Profile     string            // the profile that brings it, "" for none
}

// def is a resolved class or object.
type def struct {
	Name       string
	UID        int // class_uid; 0 for objects
	Category   int
	Attrs      map[string]attr
	Profiles   []string
	AtLeastOne []string
	JustOne    []string
	open       bool // the generic "object": any attributes
}

// rawAttr is an attribute's definition as a file writes it.
type rawAttr struct {
	Requirement *string                             `json:"requirement"`
	Type        *string                             `json:"type"`
	IsArray     *bool                               `json:"is_array"`
	Sibling     *string                             `json:"sibling"`
	Enum        map[string]struct{ Caption string } `json:"enum"`
	Profile     *json.RawMessage                    `json:"profile"`
}

// rawDef is a class, object or profile file.
type rawDef struct {
	Name        string                     `json:"name"`
	UID         *int                       `json:"uid"`
	Category    string                     `json:"category"`
	Extends     string                     `json:"extends"`
	Meta        string                     `json:"meta"`
	Profiles    []string                   `json:"profiles"`
	Attributes  map[string]json.RawMessage `json:"attributes"`
	Constraints *struct {
		AtLeastOne []string `json:"at_least_one"`
		JustOne    []string `json:"just_one"`
	} `json:"constraints"`
}

func Load(fsys fs.FS) (*Schema, error) {
	s := &Schema{fsys: fsys, classes: map[int]*def{}, byName: map[string]*def{}, opened: map[string]bool{}}
	var dict struct {
		Attributes map[string]json.RawMessage `json:"attributes"`
		Types      struct {
			Attributes map[string]typeDef `json:"attributes"`
		} `json:"types"`
	}
	if err := s.read("dictionary.json", &dict); err != nil {
		return nil, err
	}
	s.types = dict.Types.Attributes
	s.dict = map[string]attr{}
	for name, raw := range dict.Attributes {
		var a attr
		if err := mergeAttr(&a, raw, ""); err != nil {
			return nil, fmt.Errorf("dictionary %s: %w", name, err)
		}
		s.dict[name] = a
	}
	var cats struct {
		Attributes map[string]struct{ UID int } `json:"attributes"`
	}
	if err := s.read("categories.json", &cats); err != nil {
		return nil, err
	}
	s.categories = map[string]int{}
	for name, c := range cats.Attributes {
		s.categories[name] = c.UID
	}
	return s, nil
}

func (s *Schema) read(name string, v any) error {
	s.opened[name] = true
	b, err := fs.ReadFile(s.fsys, name)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// mergeAttr lays raw over a, as a subclass's definition overrides its
// parent's; profile is the profile whose file raw comes from.
func mergeAttr(a *attr, raw json.RawMessage, profile string) error {
	var r rawAttr
	if err := json.Unmarshal(raw, &r); err != nil {
		return err
	}
	// "profile": null takes an attribute out of the profile that brought
	// it: only the key's presence tells that apart from no key.
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil {
		return err
	}
	if r.Requirement != nil {
		a.Requirement = *r.Requirement
	}
	if r.Type != nil {
		a.Type = *r.Type
	}
	if r.IsArray != nil {
		a.IsArray = *r.IsArray
	}
	if r.Sibling != nil {
		a.Sibling = *r.Sibling
	}
	if len(r.Enum) > 0 {
		if a.Enum == nil {
			a.Enum = map[string]string{}
		}
		for id, v := range r.Enum {
			a.Enum[id] = v.Caption
		}
	}
	if profile != "" {
		a.Profile = profile
	}
	if rawProfile, ok := keys["profile"]; ok {
		var p *string
		if err := json.Unmarshal(rawProfile, &p); err != nil {
			return err
		}
		a.Profile = ""
		if p != nil {
			a.Profile = *p
		}
	}
	return nil
}

// class returns the class with this class_uid.
func (s *Schema) class(uid int) (*def, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d, ok := s.classes[uid]; ok {
		return d, nil
	}
	// Find its file: events/<category>/<class>.json; the folder is the
	// category's name, the file's uid the class's number in it.
	var found *def
	err := fs.WalkDir(s.fsys, "events", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasSuffix(p, ".json") || found != nil {
			return err
		}
		var head rawDef
		b, err := fs.ReadFile(s.fsys, p)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &head); err != nil || head.UID == nil {
			return err
		}
		if s.categories[path.Base(path.Dir(p))]*1000+*head.UID != uid {
			return nil
		}
		found, err = s.resolve(p)
		return err
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, fmt.Errorf("no class %d in the schema", uid)
	}
	s.classes[uid] = found
	return found, nil
}

// object returns the object named name.
func (s *Schema) object(name string) (*def, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.resolve("objects/" + name + ".json")
}

// classFile finds the file of the class named name (for extends).
func (s *Schema) classFile(name string) (string, error) {
	if name == "base_event" {
		return "events/base_event.json", nil
	}
	matches, err := fs.Glob(s.fsys, "events/*/"+name+".json")
	if err != nil || len(matches) != 1 {
		return "", fmt.Errorf("class %q: %d files (%v)", name, len(matches), err)
	}
	return matches[0], nil
}

// resolve loads the class or object in file p with everything it extends
// and includes.
func (s *Schema) resolve(p string) (*def, error) {
	if d, ok := s.byName[p]; ok {
		return d, nil
	}
	var r rawDef
	if err := s.read(p, &r); err != nil {
		return nil, err
	}
	isClass := strings.HasPrefix(p, "events/")
	d := &def{Name: r.Name, Attrs: map[string]attr{}, open: r.Name == "object"}
	if r.Extends != "" {
		pp := "objects/" + r.Extends + ".json"
		if isClass {
			var err error
			if pp, err = s.classFile(r.Extends); err != nil {
				return nil, fmt.Errorf("%s: %w", p, err)
			}
		}
		parent, err := s.resolve(pp)
		if err != nil {
			return nil, fmt.Errorf("%s extends %s: %w", p, r.Extends, err)
		}
		for k, a := range parent.Attrs {
			a.Enum = maps.Clone(a.Enum)
			d.Attrs[k] = a
		}
		d.Profiles = slices.Clone(parent.Profiles)
		d.Category, d.AtLeastOne, d.JustOne = parent.Category, parent.AtLeastOne, parent.JustOne
	}
	if inc, ok := r.Attributes["$include"]; ok {
		var files []string
		if err := json.Unmarshal(inc, &files); err != nil {
			return nil, fmt.Errorf("%s $include: %w", p, err)
		}
		for _, f := range files {
			var pr rawDef
			if err := s.read(f, &pr); err != nil {
				return nil, fmt.Errorf("%s includes %s: %w", p, f, err)
			}
			profile := ""
			if pr.Meta == "profile" {
				profile = pr.Name
			}
			for name, raw := range pr.Attributes {
				if err := s.layer(d, name, raw, profile); err != nil {
					return nil, fmt.Errorf("%s (%s): %w", p, f, err)
				}
			}
		}
	}
	for name, raw := range r.Attributes {
		if name == "$include" {
			continue
		}
		if err := s.layer(d, name, raw, ""); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
	}
	for _, pr := range r.Profiles {
		if !slices.Contains(d.Profiles, pr) {
			d.Profiles = append(d.Profiles, pr)
		}
	}
	if r.Category != "" {
		d.Category = s.categories[r.Category]
	}
	if r.Constraints != nil {
		d.AtLeastOne, d.JustOne = r.Constraints.AtLeastOne, r.Constraints.JustOne
	}
	if isClass && r.UID != nil {
		d.UID = d.Category*1000 + *r.UID
	}
	s.byName[p] = d
	return d, nil
}

// layer adds or overrides one attribute of d; a new one starts from the
// dictionary's definition.
func (s *Schema) layer(d *def, name string, raw json.RawMessage, profile string) error {
	a, ok := d.Attrs[name]
	if !ok {
		base, ok := s.dict[name]
		if !ok {
			return fmt.Errorf("attribute %q is not in the dictionary", name)
		}
		a = base
		a.Enum = maps.Clone(base.Enum)
	}
	if err := mergeAttr(&a, raw, profile); err != nil {
		return fmt.Errorf("attribute %q: %w", name, err)
	}
	d.Attrs[name] = a
	return nil
}

// Opened lists the schema files read so far, for shipping test data.
func (s *Schema) Opened() []string {
	return slices.Sorted(maps.Keys(s.opened))
}

// enumID reads an enum value's key.
func enumID(v any) (string, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return "", false
	}
	i, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		return "", false
	}
	return strconv.FormatInt(i, 10), true
}
