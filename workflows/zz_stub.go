package workflows

// Throttle is a temporary stub until the workflow format gains throttle.
func (w *Workflow) Throttle() (float64, int, bool) { return 0, 0, false }
