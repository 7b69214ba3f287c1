package config

import (
	"fmt"
	"testing"
	"time"
)

func TestParseExport(t *testing.T) {
	env := func(k string) string {
		if k == "SIEM_AUTH" {
			return "Bearer siem-secret"
		}
		return ""
	}
	tests := []struct {
		name string
		src  string
		want ExportSink
	}{
		{"file with defaults", "export: {ocsf: {file: ./siem/w.jsonl}}\n",
			ExportSink{File: "/etc/warden/siem/w.jsonl", Batch: DefaultExportBatch, Interval: DefaultExportInterval}},
		{"url with headers", "export: {ocsf: {url: \"https://siem.example/in\", headers_env: {Authorization: SIEM_AUTH}, batch: 10, interval: 50ms}}\n",
			ExportSink{URL: "https://siem.example/in", Headers: []ExportHeader{{Name: "Authorization", Env: "SIEM_AUTH", Value: Secret("Bearer siem-secret")}}, Batch: 10, Interval: 50 * time.Millisecond}},
		{"http to loopback", "export: {ocsf: {url: \"http://127.0.0.1:9000/in\"}}\n",
			ExportSink{URL: "http://127.0.0.1:9000/in", Batch: DefaultExportBatch, Interval: DefaultExportInterval}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse("/etc/warden/w.yaml", fix(minimal+tt.src), env)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Export == nil || cfg.Export.OCSF == nil {
				t.Fatal("no export.ocsf")
			}
			got := cfg.Export.OCSF
			if fmt.Sprintf("%+v %s", *got, headerValues(got)) != fmt.Sprintf("%+v %s", tt.want, headerValues(&tt.want)) {
				t.Fatalf("export.ocsf = %+v %s\nwant %+v %s", *got, headerValues(got), tt.want, headerValues(&tt.want))
			}
		})
	}
	cfg, err := Parse("w.yaml", fix(minimal), noEnv)
	if err != nil || cfg.Export != nil {
		t.Fatalf("without the section: %+v, %v; want no export", cfg.Export, err)
	}
}

// headerValues shows the secrets that %+v redacts.
func headerValues(s *ExportSink) string {
	var out string
	for _, h := range s.Headers {
		out += h.Name + "=" + string(h.Value) + ";"
	}
	return out
}

func TestParseExportErrors(t *testing.T) {
	cases := []struct {
		name  string
		src   string
		wants []want
	}{
		{"neither file nor url", "export: {ocsf: {batch: 5}}\n", []want{{7, 16, "needs file"}}},
		{"both", "export: {ocsf: {file: x, url: \"https://a.example\"}}\n", []want{{7, 16, "has both file and url"}}},
		{"clear text", "export: {ocsf: {url: \"http://siem.example/in\"}}\n", []want{{7, 22, "use https"}}},
		{"not a URL", "export: {ocsf: {url: \"ftp://x\"}}\n", []want{{7, 22, "is not an http(s) URL"}}},
		{"credentials in the URL", "export: {ocsf: {url: \"https://u:p@siem.example/in\"}}\n", []want{{7, 22, `"https://siem.example/in" holds credentials`}}},
		{"unset header env", "export: {ocsf: {url: \"https://a.example\", headers_env: {Authorization: NOPE}}}\n", []want{{7, 72, "NOPE is not set"}}},
		{"headers for a file", "export: {ocsf: {file: x, headers_env: {A: B}}}\n", []want{{7, 26, "is for url"}, {7, 43, "B is not set"}}},
		{"zero batch", "export: {ocsf: {file: x, batch: 0}}\n", []want{{7, 33, "batch must be between 1"}}},
		{"bad interval", "export: {ocsf: {file: x, interval: 5}}\n", []want{{7, 36, "needs a unit"}}},
		{"unknown sink", "export: {splunk: {file: x}}\n", []want{{7, 10, `unknown field "splunk"`}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { mustFail(t, fix(minimal+c.src), noEnv, c.wants...) })
	}
}
