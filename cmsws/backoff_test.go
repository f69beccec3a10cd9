package cmsws

import (
	"testing"
	"time"
)

func TestBackoffGrowsCapsAndJitters(t *testing.T) {
	lo := Backoff{Min: time.Second, Max: 30 * time.Second, Rand: func() float64 { return 0 }}
	hi := Backoff{Min: time.Second, Max: 30 * time.Second, Rand: func() float64 { return 0.999999 }}
	prev := time.Duration(0)
	for attempt := 0; attempt < 10; attempt++ {
		l, h := lo.Delay(attempt), hi.Delay(attempt)
		if l < prev/2 || h > 30*time.Second || l > h {
			t.Fatalf("attempt %d: [%v, %v], prev %v", attempt, l, h, prev)
		}
		if l*2 < h-time.Millisecond {
			t.Fatalf("attempt %d: jitter wider than half: [%v, %v]", attempt, l, h)
		}
		prev = l
	}
	if got := lo.Delay(0); got != 500*time.Millisecond {
		t.Fatalf("first delay floor = %v, want 500ms", got)
	}
	if got := hi.Delay(50); got < 29*time.Second {
		t.Fatalf("capped delay = %v, want ~30s", got)
	}
	if got := (Backoff{}).Delay(0); got <= 0 {
		t.Fatalf("zero config must still wait, got %v", got)
	}
}
