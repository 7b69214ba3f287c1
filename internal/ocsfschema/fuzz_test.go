package ocsfschema

import (
	"os"
	"testing"
)

// FuzzValidate feeds arbitrary lines to Validate: it must return errors,
// never panic, whatever the line holds.
func FuzzValidate(f *testing.F) {
	s, err := Load(os.DirFS("../../ocsf/testdata/ocsf-schema-1.8.0"))
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		`{}`, `[]`, `null`, `{"class_uid":6003}`, `{"class_uid":"6003"}`,
		`{"class_uid":2004,"metadata":{"profiles":[1,"security_control"]},"finding_info":[]}`,
		`{"class_uid":3002,"user":{"name":{"x":1}},"activity_id":1e400}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		_ = s.Validate(line)
	})
}

// TestValidateRejectsNonEvents: what is not an OCSF event is an error.
func TestValidateRejectsNonEvents(t *testing.T) {
	s, err := Load(os.DirFS("../../ocsf/testdata/ocsf-schema-1.8.0"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{``, `[]`, `{}`, `{"class_uid":9999}`, `{"class_uid":"6003"}`, `{"class_uid":6003}`} {
		if errs := s.Validate([]byte(line)); len(errs) == 0 {
			t.Errorf("%q: no error", line)
		}
	}
}
