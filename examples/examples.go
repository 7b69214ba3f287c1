// Package examples holds warden's example configuration and workflows. The
// demo's workflow is embedded from here, so that the file a reader opens is
// the one the demo runs.
package examples

import _ "embed"

// SupportWorkflow is workflows/support.yaml: the demo support agent's workflow.
//
//go:embed workflows/support.yaml
var SupportWorkflow []byte
