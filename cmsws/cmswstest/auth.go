package cmswstest

import (
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"net/http"
	"time"
)

// tokenHeader carries the token in the answer to POST /api/v1/authTokens.
const tokenHeader = "X-Cisco-CMS-Auth-Token"

// maxTokens bounds the tokens a node remembers; the oldest are forgotten
// first, like an expiry, so a long demo run cannot grow without bound.
const maxTokens = 4096

// serveToken implements POST /api/v1/authTokens: HTTP Basic in, a fresh
// token in the X-Cisco-CMS-Auth-Token header out, and the connection closed
// as the real server does.
func (c *Cluster) serveToken(n *node, w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	user, pass, ok := r.BasicAuth()
	good := ok &&
		subtle.ConstantTimeCompare([]byte(user), []byte(c.opts.Username)) == 1 &&
		subtle.ConstantTimeCompare([]byte(pass), []byte(c.opts.Password)) == 1
	if !good {
		c.mu.Lock()
		n.stats.authFailures++
		c.mu.Unlock()
		c.logf("cmswstest: %s: token request refused from %s (bad or missing credentials)", n.name, r.RemoteAddr)
		w.Header().Set("WWW-Authenticate", `Basic realm="cms"`)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	tok := newToken()
	c.mu.Lock()
	n.addToken(tok, c.opts.Now())
	n.stats.tokensIssued++
	c.mu.Unlock()
	w.Header().Set(tokenHeader, tok)
	w.Header().Set("Connection", "close")
	w.WriteHeader(http.StatusOK)
}

// newToken is uuid-shaped and comes from crypto/rand, not from the seeded
// source: token requests arrive concurrently and must not disturb the
// reproducible id sequence.
func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// addToken records a token. Caller holds c.mu.
func (n *node) addToken(tok string, now time.Time) {
	n.tokens[tok] = now
	n.tokenOrder = append(n.tokenOrder, tok)
	for len(n.tokenOrder) > maxTokens {
		delete(n.tokens, n.tokenOrder[0])
		n.tokenOrder = n.tokenOrder[1:]
	}
}

// tokenValid reports whether tok may open an events connection now.
// Caller holds c.mu.
func (n *node) tokenValid(tok string, now time.Time, ttl time.Duration) bool {
	issued, ok := n.tokens[tok]
	if !ok {
		return false
	}
	return ttl <= 0 || now.Sub(issued) <= ttl
}

// expireTokens forgets every token issued so far. Caller holds c.mu.
func (n *node) expireTokens() {
	clear(n.tokens)
	n.tokenOrder = nil
}
