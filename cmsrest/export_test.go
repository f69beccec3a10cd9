package cmsrest

import "context"

// Round runs one round of p outside Run, for the external tests and the
// benchmark (which import cmswstest, which imports this package, so they
// cannot live in it).
func (p *Poller) Round(ctx context.Context) bool { return p.round(ctx) }

// BytesRead is what p's connections have delivered so far, TLS and HTTP
// framing included.
func (p *Poller) BytesRead() int64 { return p.bytesRead.Load() }

// CloseIdle closes p's kept-alive connection (Run does it when it returns).
func (p *Poller) CloseIdle() { p.transport.CloseIdleConnections() }
