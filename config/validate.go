package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Validate checks the invariants of a resolved configuration: what every
// Config that Load returns satisfies (FuzzLoad holds Load to it), so that
// the code using a Config can rely on them, and a Config built in code can
// be checked the same way. Its errors have no line: a Config has none.
func (c *Config) Validate() error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(c.Nodes) == 0 {
		fail("no nodes")
	}
	names, urls := map[string]bool{}, map[string]bool{}
	for i, n := range c.Nodes {
		at := fmt.Sprintf("nodes[%d] (%s)", i, n.Name)
		if !validName(n.Name) || names[n.Name] {
			fail("%s: name missing, invalid or not unique", at)
		}
		names[n.Name] = true
		if u, err := nodeURL(n.URL); err != nil || u != n.URL || urls[n.URL] {
			fail("%s: url not normalised, invalid or not unique", at)
		}
		urls[n.URL] = true
		if n.Username == "" || strings.ContainsAny(n.Username, ":\r\n") {
			fail("%s: username empty or with ':' or a line break", at)
		}
		if n.Password == "" || strings.ContainsAny(n.Password.Reveal(), "\r\n") {
			fail("%s: password empty or not a single line", at)
		}
		if n.Connections < 1 || n.Connections > MaxConnections {
			fail("%s: connections %d out of range 1..%d", at, n.Connections, MaxConnections)
		}
		if n.CapacityParticipants < 0 {
			fail("%s: capacity_participants negative", at)
		}
		for _, nd := range nodeDurations(&n) {
			if why := outOfBounds(nd.key, nd.d); why != "" {
				fail("%s: %s: %s", at, nd.key, why)
			}
		}
		if n.ProbeTimeout >= n.ProbeInterval {
			fail("%s: probe_timeout %s not less than probe_interval %s", at, n.ProbeTimeout, n.ProbeInterval)
		}
		if n.REST.Timeout >= n.REST.Interval {
			fail("%s: rest.timeout %s not less than rest.interval %s", at, n.REST.Timeout, n.REST.Interval)
		}
		if n.BackoffMin > n.BackoffMax {
			fail("%s: backoff_min %s above backoff_max %s", at, n.BackoffMin, n.BackoffMax)
		}
		if n.TLS.CAFile != "" && n.TLS.ca == nil {
			fail("%s: tls.ca_file %s not read", at, n.TLS.CAFile)
		}
	}
	if why := outOfBounds("roster.batch_interval", c.Roster.BatchInterval); why != "" {
		fail("roster.batch_interval: %s", why)
	}
	if slices.Contains(c.Roster.Include, nil) || slices.Contains(c.Roster.Exclude, nil) {
		fail("roster: a pattern is missing")
	}
	if !slices.Contains(MeetingNameModes(), c.MeetingNames) {
		fail("meeting_names %q is not one of %s", c.MeetingNames, strings.Join(MeetingNameModes(), ", "))
	}
	return errors.Join(errs...)
}
