package cmsrest

import "time"

// Defaults of Config, also the configuration file's (rest.interval,
// rest.timeout).
const (
	// DefaultInterval: every resource of a node is read twice a minute;
	// the counters behind capacity dashboards move slowly, and six
	// requests per node per interval stay negligible for CMS.
	DefaultInterval = 30 * time.Second
	// DefaultTimeout bounds one request.
	DefaultTimeout = 10 * time.Second
)
