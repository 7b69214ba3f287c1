package supervisor

import (
	"bytes"
	"encoding/json"
	"slices"
)

// checkArgs refuses arguments that the policy and the upstream could read
// differently (keys that repeat or fold together, undeclared keys folding
// to declared ones) or that do not validate against the tool's input
// schema, unless the operator relaxed schema validation for its upstream.
// It reads the arguments as the agent sent them: once decoded into a map,
// a repeated key has already lost one of its values.
func (c *call) checkArgs() error {
	raw := c.req.Params.RawArguments
	if len(raw) == 0 {
		raw = c.args
	}
	schema := c.tool.Def.RawInputSchema
	var err error
	if slices.Contains(c.s.opts.KeysOnly, c.tool.Upstream) {
		err = c.s.args.CheckKeys(schema, raw)
	} else {
		err = c.s.args.Check(schema, raw)
	}
	if err != nil {
		// The record keeps what was sent, both values of a repeated key too.
		var b bytes.Buffer
		if json.Compact(&b, raw) == nil {
			c.args = b.Bytes()
		}
	}
	return err
}
