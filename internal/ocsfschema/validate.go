package ocsfschema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Validate checks one OCSF event line against the schema: its class by
// class_uid, the classification ids (category_uid, type_uid = class_uid *
// 100 + activity_id), every attribute known to its class or object (or a
// profile the event declares in metadata.profiles), required attributes,
// types (the dictionary's, with their regexes, lengths and ranges), enum
// values and their captions, constraints, and nested objects likewise.
// It returns every problem found.
func (s *Schema) Validate(line []byte) []error {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var ev map[string]any
	if err := dec.Decode(&ev); err != nil {
		return []error{fmt.Errorf("not a JSON object: %w", err)}
	}
	uid, err := intOf(ev["class_uid"])
	if err != nil {
		return []error{fmt.Errorf("class_uid: %w", err)}
	}
	cls, err := s.class(int(uid))
	if err != nil {
		return []error{err}
	}
	v := &validator{s: s}
	if md, ok := ev["metadata"].(map[string]any); ok {
		if ps, ok := md["profiles"].([]any); ok {
			for _, p := range ps {
				name, _ := p.(string)
				if !slices.Contains(cls.Profiles, name) {
					v.fail("metadata.profiles", "class %s has no profile %q", cls.Name, name)
				}
				v.profiles = append(v.profiles, name)
			}
		}
	}
	if n, err := intOf(ev["class_uid"]); err != nil || int(n) != cls.UID {
		v.fail("class_uid", "want %d", cls.UID)
	}
	if cat, err := intOf(ev["category_uid"]); err != nil || int(cat) != cls.Category {
		v.fail("category_uid", "want %d for class %s", cls.Category, cls.Name)
	}
	act, errA := intOf(ev["activity_id"])
	typ, errT := intOf(ev["type_uid"])
	if errA == nil && (errT != nil || typ != uid*100+act) {
		v.fail("type_uid", "want class_uid*100+activity_id = %d", uid*100+act)
	}
	v.object("", ev, cls, true)
	return v.errs
}

type validator struct {
	s        *Schema
	profiles []string
	errs     []error
}

func (v *validator) fail(at, format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("%s: %s", at, fmt.Sprintf(format, args...)))
}

// usable says whether an attribute is part of the event: its own, or its
// profile's when the event declares that profile.
func (v *validator) usable(a attr) bool {
	return a.Profile == "" || slices.Contains(v.profiles, a.Profile)
}

func (v *validator) object(at string, o map[string]any, d *def, isClass bool) {
	if d.open {
		return // "object": whatever the source has (unmapped)
	}
	join := func(k string) string {
		if at == "" {
			return k
		}
		return at + "." + k
	}
	for name, a := range d.Attrs {
		if a.Requirement == "required" && v.usable(a) {
			if val, ok := o[name]; !ok || val == nil {
				v.fail(join(name), "required by %s, missing", d.Name)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(o)) {
		val := o[name]
		a, ok := d.Attrs[name]
		if !ok || !v.usable(a) {
			v.fail(join(name), "not an attribute of %s (or of a profile the event declares)", d.Name)
			continue
		}
		if isClass && (name == "class_uid" || name == "category_uid") {
			continue // checked against the class itself, in validate
		}
		v.value(join(name), val, a, o)
	}
	if len(d.AtLeastOne) > 0 && countPresent(o, d.AtLeastOne) == 0 {
		v.fail(at, "%s needs at least one of %v", d.Name, d.AtLeastOne)
	}
	if len(d.JustOne) > 0 && countPresent(o, d.JustOne) != 1 {
		v.fail(at, "%s needs exactly one of %v", d.Name, d.JustOne)
	}
}

func countPresent(o map[string]any, names []string) int {
	n := 0
	for _, k := range names {
		if o[k] != nil {
			n++
		}
	}
	return n
}

// value checks one attribute's value; parent holds its sibling.
func (v *validator) value(at string, val any, a attr, parent map[string]any) {
	if a.IsArray {
		arr, ok := val.([]any)
		if !ok {
			v.fail(at, "want an array")
			return
		}
		one := a
		one.IsArray = false
		for i, x := range arr {
			v.value(at+"["+strconv.Itoa(i)+"]", x, one, nil)
		}
		return
	}
	if !strings.HasSuffix(a.Type, "_t") {
		o, ok := val.(map[string]any)
		if !ok {
			v.fail(at, "want a %s object", a.Type)
			return
		}
		d, err := v.s.object(a.Type)
		if err != nil {
			v.fail(at, "%v", err)
			return
		}
		v.object(at, o, d, false)
		return
	}
	if err := v.s.checkType(a.Type, val); err != nil {
		v.fail(at, "%v", err)
		return
	}
	if len(a.Enum) > 0 {
		id, ok := enumID(val)
		caption, known := a.Enum[id]
		switch {
		case !ok || !known:
			v.fail(at, "%v is not one of the enum's values", val)
		case a.Sibling != "" && parent != nil && parent[a.Sibling] != nil && id != "99" && parent[a.Sibling] != caption:
			v.fail(at, "its sibling %s is %q, want %q", a.Sibling, parent[a.Sibling], caption)
		}
	}
}

// checkType checks a value against a dictionary type and the base types
// it derives from.
func (s *Schema) checkType(name string, val any) error {
	t, ok := s.types[name]
	if !ok {
		return fmt.Errorf("unknown type %q", name)
	}
	if t.Type != "" {
		if err := s.checkType(t.Type, val); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	switch name {
	case "string_t":
		if _, ok := val.(string); !ok {
			return errors.New("want a string")
		}
	case "integer_t", "long_t":
		if _, err := intOf(val); err != nil {
			return err
		}
	case "float_t":
		n, ok := val.(json.Number)
		if !ok {
			return errors.New("want a number")
		}
		if _, err := n.Float64(); err != nil {
			return err
		}
	case "boolean_t":
		if _, ok := val.(bool); !ok {
			return errors.New("want true or false")
		}
	case "json_t":
	}
	if str, ok := val.(string); ok {
		if t.MaxLen > 0 && len(str) > t.MaxLen {
			return fmt.Errorf("%s: longer than %d", name, t.MaxLen)
		}
		if t.Regex != "" {
			re, err := regexp.Compile(t.Regex)
			if err != nil {
				return fmt.Errorf("%s: its regex: %w", name, err)
			}
			if !re.MatchString(str) {
				return fmt.Errorf("%s: %q does not match its pattern", name, str)
			}
		}
	}
	if len(t.Range) == 2 {
		if n, err := intOf(val); err == nil && (n < t.Range[0] || n > t.Range[1]) {
			return fmt.Errorf("%s: %d is outside %v", name, n, t.Range)
		}
	}
	return nil
}

func intOf(v any) (int64, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("want an integer, got %T", v)
	}
	return strconv.ParseInt(string(n), 10, 64)
}
