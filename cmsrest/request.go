package cmsrest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/cms-exporter/cms_exporter/internal/tlserr"
)

// failure is an error with its reason (one of Failures), decided where the
// failure was seen rather than guessed later from a message.
type failure struct {
	reason string
	err    error
}

func (f *failure) Error() string { return f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

func fail(reason string, err error) error { return &failure{reason: reason, err: err} }

// poll requests one resource and returns its Result, or false when ctx
// (Run's) ended the request: the poller stopping is no failure of the node.
func (p *Poller) poll(ctx context.Context, res Resource) (Result, bool) {
	start := time.Now()
	r, err := p.fetch(ctx, res)
	if ctx.Err() != nil {
		return Result{}, false
	}
	r.Node, r.Resource = p.cfg.Name, res
	r.Time = p.cfg.Now()
	r.Took = time.Since(start)
	if err != nil {
		var f *failure
		if errors.As(err, &f) {
			r.Reason, r.Err = f.reason, f.err
		} else {
			r.Reason, r.Err = FailureNetwork, err
		}
	}
	return r, true
}

// fetch sends one GET with HTTP Basic, bounded by Timeout, and decodes the
// answer. Every error it returns is a *failure.
func (p *Poller) fetch(ctx context.Context, res Resource) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+res.Path(), http.NoBody)
	if err != nil {
		return Result{}, fail(FailureNetwork, fmt.Errorf("%s: %w", res, err))
	}
	req.SetBasicAuth(p.cfg.Username, p.cfg.Password)
	req.Header.Set("Accept", "application/xml, text/xml")
	resp, err := p.client.Do(req)
	if err != nil {
		return Result{}, fail(transportReason(err), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		// Read a little of the refusal so the connection can be kept.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			return Result{}, fail(FailureAuth, fmt.Errorf("GET %s: HTTP %d: credentials refused, or user %q lacks API rights",
				res.Path(), resp.StatusCode, p.cfg.Username))
		}
		return Result{}, fail(FailureHTTPStatus, fmt.Errorf("GET %s: HTTP %d", res.Path(), resp.StatusCode))
	}
	body, err := p.readBody(resp.Body)
	if err == nil && ctx.Err() != nil {
		// Cut short by the deadline, net/http may end a chunked body
		// with a clean EOF: an answer that ended at the deadline is not
		// known to be complete.
		err = ctx.Err()
	}
	if err != nil {
		return Result{}, fail(transportReason(err), fmt.Errorf("GET %s: reading the answer: %w", res.Path(), err))
	}
	if len(body) > MaxBodySize {
		return Result{}, fail(FailureDecode, fmt.Errorf("%w: GET %s: answer larger than %d bytes", ErrDecode, res.Path(), MaxBodySize))
	}
	r, err := Decode(res, body)
	if err != nil {
		return Result{}, fail(FailureDecode, err)
	}
	return r, nil
}

// readBody reads at most MaxBodySize+1 bytes into the Poller's buffer,
// reused from request to request: the answers are small and alike, so one
// buffer serves them all. The bytes are valid until the next call.
func (p *Poller) readBody(r io.Reader) ([]byte, error) {
	buf := bytes.NewBuffer(p.body[:0])
	_, err := buf.ReadFrom(io.LimitReader(r, MaxBodySize+1))
	p.body = buf.Bytes()
	return p.body, err
}

// transportReason classifies an error of the request or of reading its
// answer. TLS trouble (fix the CA or the server name) is told from network
// trouble (fix routing or the firewall): operators need different first
// steps.
func transportReason(err error) string {
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return FailureTimeout
	case tlserr.Is(err):
		return FailureTLS
	}
	return FailureNetwork
}
