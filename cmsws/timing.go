package cmsws

import "time"

// Timing paces and bounds one events connection. It is the single place
// these settings and their defaults are defined: the configuration file
// embeds it (its yaml keys are the file's keys), the client applies it.
type Timing struct {
	// ConnectTimeout bounds the token request, the dial and the WebSocket
	// handshake together.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// WriteTimeout bounds every write: a peer that stops reading is dead.
	// Zero means ProbeTimeout. Not a file setting.
	WriteTimeout time.Duration `yaml:"-"`
	// ProbeInterval is how often the unchanged subscription set is re-sent
	// as a liveness probe; ProbeTimeout is how long any request of ours may
	// stay unacknowledged before the connection is declared dead.
	ProbeInterval time.Duration `yaml:"probe_interval"`
	ProbeTimeout  time.Duration `yaml:"probe_timeout"`
	// BackoffMin and BackoffMax bound the wait between failed attempts
	// (see Backoff).
	BackoffMin time.Duration `yaml:"backoff_min"`
	BackoffMax time.Duration `yaml:"backoff_max"`
	// AuthFailureBackoff is the wait after the token request was refused:
	// wrong credentials will not fix themselves in a second, and hammering
	// the API can lock the account. Up to a quarter more is added at
	// random, so exporters restarted together do not retry in lockstep.
	AuthFailureBackoff time.Duration `yaml:"auth_failure_backoff"`
}

// DefaultTiming returns the built-in values of every Timing setting.
func DefaultTiming() Timing {
	return Timing{
		ConnectTimeout:     10 * time.Second,
		ProbeInterval:      30 * time.Second,
		ProbeTimeout:       10 * time.Second,
		BackoffMin:         time.Second,
		BackoffMax:         time.Minute,
		AuthFailureBackoff: 5 * time.Minute,
	}
}

// withDefaults fills every unset (zero or negative) field from
// DefaultTiming; WriteTimeout falls back to ProbeTimeout.
func (t Timing) withDefaults() Timing {
	d := DefaultTiming()
	for _, f := range []struct{ v, def *time.Duration }{
		{&t.ConnectTimeout, &d.ConnectTimeout},
		{&t.ProbeInterval, &d.ProbeInterval},
		{&t.ProbeTimeout, &d.ProbeTimeout},
		{&t.BackoffMin, &d.BackoffMin},
		{&t.BackoffMax, &d.BackoffMax},
		{&t.AuthFailureBackoff, &d.AuthFailureBackoff},
	} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	if t.WriteTimeout <= 0 {
		t.WriteTimeout = t.ProbeTimeout
	}
	return t
}

// backoff is the reconnect backoff these settings describe.
func (t Timing) backoff() Backoff { return Backoff{Min: t.BackoffMin, Max: t.BackoffMax} }
