package cmsws

import (
	"math/rand/v2"
	"time"
)

// Backoff computes reconnect delays: exponential from Min, capped at Max,
// with "equal jitter" (half fixed, half random) so that an exporter
// restarted next to its peers does not hit every Call Bridge in lockstep,
// and so that no delay is ever close to zero (no busy loop even at Min=0).
type Backoff struct {
	Min, Max time.Duration
	// Rand returns a float in [0,1). Injected so tests are deterministic.
	Rand func() float64
}

// Delay returns the wait before attempt number attempt (0 = first retry).
func (b Backoff) Delay(attempt int) time.Duration {
	lo, hi := b.Min, b.Max
	if lo <= 0 {
		lo = 100 * time.Millisecond
	}
	if hi < lo {
		hi = lo
	}
	d := lo
	for i := 0; i < attempt && d < hi; i++ {
		d *= 2
	}
	if d > hi {
		d = hi
	}
	r := b.Rand
	if r == nil {
		r = rand.Float64
	}
	half := d / 2
	return half + time.Duration(r()*float64(d-half))
}

// authJitter is the share of Timing.AuthFailureBackoff added at random:
// only ever added, so refused credentials are never retried sooner than
// configured (an account lockout counts attempts), yet exporters restarted
// together with the same wrong password spread out.
const authJitter = 0.25

// jitterUp returns d plus up to authJitter of d, drawn from r (nil means
// math/rand/v2).
func jitterUp(d time.Duration, r func() float64) time.Duration {
	if r == nil {
		r = rand.Float64
	}
	return d + time.Duration(r()*authJitter*float64(d))
}
