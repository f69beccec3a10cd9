package streambench

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync/atomic"

	"github.com/gorilla/websocket"

	"github.com/cms-exporter/cms_exporter/cmsws"
)

// The bare client's types mirror the protocol, every element the stream
// uses typed: decoding into typed structs is the fastest honest use of
// encoding/json, so the baseline is what a careful plain client costs,
// not a strawman.
type (
	bareEnvelope struct {
		Type       string       `json:"type"`
		Message    *bareMessage `json:"message"`
		MessageAck *bareAck     `json:"messageAck"`
	}
	bareAck struct {
		MessageID int64  `json:"messageId"`
		Status    string `json:"status"`
	}
	bareAckEnvelope struct {
		Type       string  `json:"type"`
		MessageAck bareAck `json:"messageAck"`
	}
	bareMessage struct {
		MessageID         int64        `json:"messageId"`
		Type              string       `json:"type"`
		SubscriptionIndex int          `json:"subscriptionIndex"`
		Subscriptions     []bareStatus `json:"subscriptions"`
		Updates           []bareUpdate `json:"updates"`
	}
	bareStatus struct {
		Index int    `json:"index"`
		State string `json:"state"`
	}
	// bareUpdate is an entry of a callListUpdate or a rosterUpdate.
	bareUpdate struct {
		Call                 string   `json:"call"`
		Participant          string   `json:"participant"`
		UpdateType           string   `json:"updateType"`
		Reason               string   `json:"reason"`
		CallCorrelator       string   `json:"callCorrelator"`
		Name                 *string  `json:"name"`
		Participants         *int     `json:"participants"`
		DistributedInstances *int     `json:"distributedInstances"`
		Streaming            *string  `json:"streaming"`
		Recording            *string  `json:"recording"`
		EndpointRecording    *string  `json:"endpointRecording"`
		LockState            *string  `json:"lockState"`
		CallType             *string  `json:"callType"`
		URI                  *string  `json:"uri"`
		State                *string  `json:"state"`
		Direction            *string  `json:"direction"`
		CanMove              *bool    `json:"canMove"`
		AudioMuted           *bool    `json:"audioMuted"`
		VideoMuted           *bool    `json:"videoMuted"`
		Importance           *float64 `json:"importance"`
		Layout               *string  `json:"layout"`
		ActiveSpeaker        *bool    `json:"activeSpeaker"`
		Presenter            *bool    `json:"presenter"`
	}
)

// BareClient is the baseline: a token, the WebSocket, one subscribeRequest,
// and for every frame json.Unmarshal into typed structs and an ack.
// Nothing more.
type BareClient struct {
	URL, User, Pass string
	TLS             *tls.Config
	// Watched is the calls whose roster it subscribes to, beside calls.
	Watched []string
	// Messages counts the server messages decoded and acked.
	Messages atomic.Int64
}

// dial fetches a token and opens the events WebSocket.
func (c *BareClient) dial(ctx context.Context) (*websocket.Conn, error) {
	base, err := url.Parse(c.URL)
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	tr := &http.Transport{TLSClientConfig: c.TLS, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base.JoinPath("/api/v1/authTokens").String(), http.NoBody)
	if err != nil {
		return nil, fmt.Errorf("token request: %w", err)
	}
	req.SetBasicAuth(c.User, c.Pass)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("token request: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	token := resp.Header.Get(cmsws.TokenHeader)
	if resp.StatusCode != http.StatusOK || token == "" {
		return nil, fmt.Errorf("token request: HTTP %d", resp.StatusCode)
	}
	u := *base
	u.Scheme, u.Path, u.RawQuery = "wss", "/events/v1", url.Values{"authToken": {token}}.Encode()
	d := websocket.Dialer{TLSClientConfig: c.TLS, ReadBufferSize: 64 << 10, WriteBufferSize: 64 << 10}
	ws, hresp, err := d.DialContext(ctx, u.String(), nil)
	if hresp != nil && hresp.Body != nil {
		hresp.Body.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("websocket dial: %w", err)
	}
	return ws, nil
}

// Run connects and serves until ctx ends (nil then) or the connection
// fails.
func (c *BareClient) Run(ctx context.Context) error {
	ws, err := c.dial(ctx)
	if err != nil {
		return err
	}
	defer ws.Close()
	stop := context.AfterFunc(ctx, func() { ws.Close() })
	defer stop()

	subs := []cmsws.Subscription{{Index: 1, Type: cmsws.ResourceCalls, Elements: cmsws.CallsElements}}
	for i, id := range c.Watched {
		subs = append(subs, cmsws.Subscription{Index: 2 + i, Type: cmsws.ResourceCallRoster, Call: id, Elements: cmsws.CallRosterElements})
	}
	sr, err := cmsws.EncodeMessage(&cmsws.Message{MessageID: 1, Type: cmsws.TypeSubscribeRequest, Subscriptions: subs})
	if err != nil {
		return fmt.Errorf("subscribeRequest: %w", err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, sr); err != nil {
		return fmt.Errorf("write subscribeRequest: %w", err)
	}
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read: %w", err)
		}
		var env bareEnvelope
		if err := json.Unmarshal(data, &env); err != nil {
			return fmt.Errorf("decode: %w", err)
		}
		switch {
		case env.Type == cmsws.EnvelopeMessageAck && env.MessageAck != nil:
			if env.MessageAck.Status != cmsws.AckSuccess {
				return fmt.Errorf("subscribeRequest refused: %q", env.MessageAck.Status)
			}
			continue
		case env.Type != cmsws.EnvelopeMessage || env.Message == nil:
			return errors.New("frame neither a message nor an ack")
		}
		ack, err := json.Marshal(bareAckEnvelope{Type: cmsws.EnvelopeMessageAck,
			MessageAck: bareAck{MessageID: env.Message.MessageID, Status: cmsws.AckSuccess}})
		if err != nil {
			return fmt.Errorf("encode ack: %w", err)
		}
		c.Messages.Add(1)
		if err := ws.WriteMessage(websocket.TextMessage, ack); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("write ack: %w", err)
		}
	}
}
