package cmswstest

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

// waitTimeout is the generous bound of every "wait until" in these tests.
const waitTimeout = 10 * time.Second

func newTestCluster(t *testing.T, o Options) *Cluster {
	t.Helper()
	if o.Logf == nil {
		o.Logf = t.Logf
	}
	c, err := NewCluster(o)
	if err != nil {
		t.Fatalf("NewCluster: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// httpClient trusts the cluster's CA; its idle connections are closed at
// the end of the test for goleak.
func httpClient(t *testing.T, c *Cluster) *http.Client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: c.CertPool()}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: waitTimeout}
}

// tokenAnswer is what the tests read of a token response (its body is
// closed).
type tokenAnswer struct {
	StatusCode int
	Header     http.Header
	Close      bool
}

// tokenResponse posts to the token endpoint and returns the answer.
func tokenResponse(t *testing.T, c *Cluster, node, user, pass string) tokenAnswer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.URL(node)+"/api/v1/authTokens", nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" || pass != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := httpClient(t, c).Do(req)
	if err != nil {
		t.Fatalf("token request: %v", err)
	}
	resp.Body.Close()
	return tokenAnswer{StatusCode: resp.StatusCode, Header: resp.Header, Close: resp.Close}
}

func token(t *testing.T, c *Cluster, node string) string {
	t.Helper()
	resp := tokenResponse(t, c, node, "admin", "secret")
	tok := resp.Header.Get(tokenHeader)
	if resp.StatusCode != http.StatusOK || tok == "" {
		t.Fatalf("token: status %d, token %q", resp.StatusCode, tok)
	}
	return tok
}

// dialToken opens an events connection with tok; it returns the HTTP
// status on a refused handshake.
func dialToken(t *testing.T, c *Cluster, node, tok string) (*websocket.Conn, int, error) {
	t.Helper()
	d := websocket.Dialer{
		TLSClientConfig:  &tls.Config{RootCAs: c.CertPool()},
		WriteBufferSize:  256 << 10, // one frame for a 100-subscription request
		HandshakeTimeout: waitTimeout,
	}
	u := "wss" + strings.TrimPrefix(c.URL(node), "https") + "/events/v1?authToken=" + tok
	ws, resp, err := d.Dial(u, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
			resp.Body.Close()
		}
		return nil, status, err
	}
	return ws, http.StatusSwitchingProtocols, nil
}

// tclient is a minimal events client for the tests: one reader goroutine
// decoding frames into a channel, acks sent by the test (or automatically).
type tclient struct {
	t       *testing.T
	node    string
	ws      *websocket.Conn
	wmu     sync.Mutex
	frames  chan *cmsws.Frame
	readErr chan error
	done    chan struct{}
	autoAck bool
	nextID  int64
	closing atomic.Bool
}

func dial(t *testing.T, c *Cluster, node string, autoAck bool) *tclient {
	t.Helper()
	ws, status, err := dialToken(t, c, node, token(t, c, node))
	if err != nil {
		t.Fatalf("dial %s: status %d: %v", node, status, err)
	}
	tc := &tclient{t: t, node: node, ws: ws, frames: make(chan *cmsws.Frame, 4096),
		readErr: make(chan error, 1), done: make(chan struct{}), autoAck: autoAck}
	go tc.readLoop()
	t.Cleanup(tc.close)
	return tc
}

func (tc *tclient) readLoop() {
	defer close(tc.done)
	for {
		_, data, err := tc.ws.ReadMessage()
		if err != nil {
			tc.readErr <- err
			return
		}
		fr, err := cmsws.DecodeFrame(data)
		if err != nil {
			tc.readErr <- fmt.Errorf("decode %s: %w", data, err)
			return
		}
		if tc.autoAck && fr.Message != nil {
			tc.ack(fr.Message.MessageID)
		}
		tc.frames <- fr
	}
}

func (tc *tclient) close() {
	tc.closing.Store(true)
	_ = tc.ws.Close()
	<-tc.done
}

func (tc *tclient) write(data []byte) {
	tc.wmu.Lock()
	defer tc.wmu.Unlock()
	// The read loop may be acking a message (a call's lock correction
	// follows its add) while the test's cleanup closes the socket: that
	// write failing is no finding.
	if err := tc.ws.WriteMessage(websocket.TextMessage, data); err != nil && !tc.closing.Load() {
		tc.t.Errorf("%s: write: %v", tc.node, err)
	}
}

func (tc *tclient) ack(id int64) { tc.write(cmsws.EncodeAck(id, cmsws.AckSuccess)) }

// subscribe sends a subscribeRequest and returns its messageId.
func (tc *tclient) subscribe(subs ...cmsws.Subscription) int64 {
	tc.nextID++
	data, err := cmsws.EncodeMessage(&cmsws.Message{MessageID: tc.nextID, Type: cmsws.TypeSubscribeRequest, Subscriptions: subs})
	if err != nil {
		tc.t.Fatal(err)
	}
	tc.write(data)
	return tc.nextID
}

// next returns the next frame, failing the test after waitTimeout.
func (tc *tclient) next() *cmsws.Frame {
	tc.t.Helper()
	select {
	case fr := <-tc.frames:
		return fr
	case err := <-tc.readErr:
		tc.t.Fatalf("%s: connection ended: %v", tc.node, err)
	case <-time.After(waitTimeout):
		tc.t.Fatalf("%s: no frame within %v", tc.node, waitTimeout)
	}
	return nil
}

// msg returns the next frame, which must be a message of type typ.
func (tc *tclient) msg(typ string) *cmsws.Message {
	tc.t.Helper()
	fr := tc.next()
	if fr.Message == nil || fr.Message.Type != typ {
		tc.t.Fatalf("%s: want %s, got %s", tc.node, typ, describe(fr))
	}
	return fr.Message
}

// expectAck reads the next frame, which must be the ack of id.
func (tc *tclient) expectAck(id int64, status string) {
	tc.t.Helper()
	fr := tc.next()
	if fr.Ack == nil || fr.Ack.MessageID != id || fr.Ack.Status != status {
		tc.t.Fatalf("%s: want ack %d %s, got %s", tc.node, id, status, describe(fr))
	}
}

// waitClosed waits until the server ends the connection.
func (tc *tclient) waitClosed() error {
	tc.t.Helper()
	for {
		select {
		case <-tc.frames:
		case err := <-tc.readErr:
			return err
		case <-time.After(waitTimeout):
			tc.t.Fatalf("%s: connection still open after %v", tc.node, waitTimeout)
			return nil
		}
	}
}

func describe(fr *cmsws.Frame) string {
	switch {
	case fr == nil:
		return "nothing"
	case fr.Ack != nil:
		return fmt.Sprintf("ack{%d %s}", fr.Ack.MessageID, fr.Ack.Status)
	case fr.Message != nil:
		b, _ := cmsws.EncodeMessage(fr.Message)
		return string(b)
	}
	return "empty frame"
}

// rawFrame builds a client frame by hand, for frames gorilla will not send.
func rawFrame(opcode byte, fin, masked bool, payload []byte) []byte {
	b0 := opcode
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	mbit := byte(0)
	if masked {
		mbit = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		out = append(out, mbit|byte(n))
	default:
		out = append(out, mbit|126)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	}
	if !masked {
		return append(out, payload...)
	}
	var key [4]byte
	_, _ = rand.Read(key[:])
	out = append(out, key[:]...)
	for i, b := range payload {
		out = append(out, b^key[i%4])
	}
	return out
}

func (tc *tclient) writeRaw(b []byte) {
	tc.wmu.Lock()
	defer tc.wmu.Unlock()
	if _, err := tc.ws.NetConn().Write(b); err != nil {
		tc.t.Errorf("%s: raw write: %v", tc.node, err)
	}
}

// eventually retries cond until it returns nil, failing with its last error
// after waitTimeout.
func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitIdle(t *testing.T, c *Cluster) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := c.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var errNotYet = errors.New("not yet")

func callsSub(index int, el ...string) cmsws.Subscription {
	if el == nil {
		el = cmsws.CallsElements
	}
	return cmsws.Subscription{Index: index, Type: cmsws.ResourceCalls, Elements: el}
}

func rosterSub(index int, call string) cmsws.Subscription {
	return cmsws.Subscription{Index: index, Type: cmsws.ResourceCallRoster, Call: call, Elements: cmsws.CallRosterElements}
}

func infoSub(index int, call string) cmsws.Subscription {
	return cmsws.Subscription{Index: index, Type: cmsws.ResourceCallInfo, Call: call, Elements: callInfoElements}
}

// expectSubscribed reads the ack and the two subscriptionUpdates of a
// subscribeRequest and returns the final states by index.
func (tc *tclient) expectSubscribed(id int64) map[int]string {
	tc.t.Helper()
	tc.expectAck(id, cmsws.AckSuccess)
	first := tc.msg(cmsws.TypeSubscriptionUpdate)
	for _, s := range first.Statuses {
		if s.State != cmsws.StatePending {
			tc.t.Fatalf("first subscriptionUpdate: index %d is %s, want pending", s.Index, s.State)
		}
	}
	second := tc.msg(cmsws.TypeSubscriptionUpdate)
	if len(second.Statuses) != len(first.Statuses) {
		tc.t.Fatalf("subscriptionUpdates cover %d then %d subscriptions", len(first.Statuses), len(second.Statuses))
	}
	out := map[int]string{}
	for _, s := range second.Statuses {
		out[s.Index] = s.State
	}
	return out
}

// callInfoElements are the elements a callInfo subscription of the tests
// asks for (the exporter itself does not subscribe to callInfo).
var callInfoElements = []string{"name", "participants", "distributedInstances", "recording",
	"endpointRecording", "streaming", "lockState", "callType", "callCorrelator", "joinAudioMuteOverride"}
