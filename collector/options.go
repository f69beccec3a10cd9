package collector

// SetPerCallMetrics switches the per-call series (cms_call_*) on or off at
// run time, for a configuration reload that changes per_call_metrics. The
// model keeps every call either way; only rendering changes.
// Describe always lists the per-call families, so switching them on after
// registration is legal.
func (c *Collector) SetPerCallMetrics(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.perCall = on
}
