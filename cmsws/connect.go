package cmsws

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/cms-exporter/cms_exporter/internal/tlserr"

	"github.com/gorilla/websocket"
)

// connectError carries the failure class decided where the failure was
// seen, so Run does not have to guess from an error string.
type connectError struct {
	reason string
	err    error
}

func (e *connectError) Error() string { return e.err.Error() }
func (e *connectError) Unwrap() error { return e.err }

// ErrAuth means the token request was refused: wrong credentials, or a user
// without API rights.
var ErrAuth = errors.New("token request refused")

func classifyConnectError(err error) string {
	var ce *connectError
	if errors.As(err, &ce) {
		return ce.reason
	}
	return ConnectFailureNetwork
}

// netReason tells TLS trouble (fix the CA/server name) from network
// trouble (fix routing/firewall): operators need different first steps.
func netReason(err error) string {
	if tlserr.Is(err) {
		return ConnectFailureTLS
	}
	return ConnectFailureNetwork
}

// connect fetches a fresh token and opens the events WebSocket. A fresh
// token per attempt: token lifetime is not documented, and a cached token
// that expired would turn every reconnect into a handshake failure.
func (c *Client) connect(ctx context.Context) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ConnectTimeout)
	defer cancel()
	token, err := c.fetchToken(ctx)
	if err != nil {
		return nil, err
	}
	u := *c.base
	u.Scheme = "wss"
	u.Path = "/events/v1"
	u.RawQuery = url.Values{"authToken": {token}}.Encode()
	ws, resp, err := c.dialer.DialContext(ctx, u.String(), nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		err = redact(err, token)
		if resp != nil {
			return nil, &connectError{reason: ConnectFailureHandshake,
				err: fmt.Errorf("websocket upgrade refused: HTTP %d: %w", resp.StatusCode, err)}
		}
		return nil, &connectError{reason: netReason(err), err: fmt.Errorf("websocket dial: %w", err)}
	}
	ws.SetReadLimit(c.cfg.ReadLimit)
	return ws, nil
}

func (c *Client) fetchToken(ctx context.Context) (string, error) {
	u := *c.base
	u.Path = "/api/v1/authTokens"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), http.NoBody)
	if err != nil {
		return "", &connectError{reason: ConnectFailureToken, err: fmt.Errorf("token request: %w", err)}
	}
	req.SetBasicAuth(c.cfg.Username, c.cfg.Password)
	resp, err := c.http.Do(req)
	if err != nil {
		return "", &connectError{reason: netReason(err), err: fmt.Errorf("token request: %w", err)}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return "", &connectError{reason: ConnectFailureAuth, err: fmt.Errorf("%w: HTTP %d for user %q", ErrAuth, resp.StatusCode, c.cfg.Username)}
	case resp.StatusCode/100 != 2:
		return "", &connectError{reason: ConnectFailureToken, err: fmt.Errorf("token request: unexpected HTTP %d", resp.StatusCode)}
	}
	token := resp.Header.Get(TokenHeader)
	if token == "" {
		return "", &connectError{reason: ConnectFailureToken, err: fmt.Errorf("token request: HTTP %d without %s header", resp.StatusCode, TokenHeader)}
	}
	return token, nil
}

// redactedError hides a token that lower layers may have put into an error
// message (URLs with ?authToken=). It keeps the original for errors.As
// classification but never prints it.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

func redact(err error, secret string) error {
	if err == nil || secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return &redactedError{msg: strings.ReplaceAll(err.Error(), secret, "<redacted>"), err: err}
}
