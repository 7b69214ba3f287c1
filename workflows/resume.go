package workflows

// Resume carries a session's state over to this workflow, as after a hot
// reload: the steps that still exist are kept; when none does, the session
// goes back to the start (it keeps its variables, counts and history, so
// budgets and bindings still hold). Resume never empties the step set.
func (w *Workflow) Resume(st State) State {
	if w == nil {
		return st
	}
	out := st.clone()
	out.HalfLife = w.risk.halfLife // the workflow in force now decides
	out.Steps = out.Steps[:0:0]
	for _, name := range st.Steps {
		if name == startStep || w.byName[name] != nil {
			out.Steps = append(out.Steps, name)
		}
	}
	if len(out.Steps) == 0 {
		out.Steps = []string{startStep}
	}
	return out
}
