package cmswstest

// RestartNode simulates a Call Bridge restart: its event connections drop,
// its tokens are forgotten, and all its instances end (their participants
// leave without reason; the meetings go on on other nodes).
func (c *Cluster) RestartNode(node string) error {
	if err := c.lock(); err != nil {
		return err
	}
	defer c.mu.Unlock()
	n, err := c.node(node)
	if err != nil {
		return err
	}
	for _, cn := range append([]*conn(nil), n.conns...) {
		c.closeConnLocked(cn, CloseRestart)
	}
	n.expireTokens()
	for _, inst := range sortedValues(n.instances) {
		c.endInstance(inst, "")
	}
	c.logf("cmswstest: %s: restarted", n.name)
	return nil
}

// DropConnections closes the TCP connection of every events connection of
// node, without close frame; the model is unchanged. It returns how many.
func (c *Cluster) DropConnections(node string) int {
	return c.eachConn(node, func(cn *conn) { c.closeConnLocked(cn, CloseDropped) })
}

// eachConn runs fn, under the cluster lock, on every open events
// connection of node (a copy of the list, so fn may close them) and
// returns how many there were; 0 for an unknown node.
func (c *Cluster) eachConn(node string, fn func(cn *conn)) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.byName[node]
	if n == nil {
		return 0
	}
	conns := append([]*conn(nil), n.conns...)
	for _, cn := range conns {
		fn(cn)
	}
	return len(conns)
}

// StallConnections makes every open events connection of node stop
// reading, acking and sending while the TCP connection stays open, until
// DropConnections or Close. Updates keep queueing. It returns how many.
func (c *Cluster) StallConnections(node string) int {
	return c.eachConn(node, func(cn *conn) { cn.stalled = true })
}

// ExpireTokens invalidates every token node has issued so far. Open
// connections stay open.
func (c *Cluster) ExpireTokens(node string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.byName[node]; n != nil {
		n.expireTokens()
	}
}

// InjectRaw sends frame, as-is, as one text frame to every open events
// connection of node, in order with the queued messages but without a
// messageId of its own or a window slot. A client's ack of a messageId the
// frame carries is accepted silently. It returns how many connections.
func (c *Cluster) InjectRaw(node string, frame []byte) int {
	return c.InjectFrame(node, OpText, true, frame)
}

// InjectFrame is InjectRaw for any opcode and FIN bit, to test a client
// against server frames CMS should never send (binary, ping, fragments).
func (c *Cluster) InjectFrame(node string, opcode byte, fin bool, payload []byte) int {
	return c.eachConn(node, func(cn *conn) {
		if opcode == OpText {
			cn.noteInjected(payload)
		}
		c.enqueueFrame(cn, outMsg{outFrame: outFrame{opcode: opcode, fin: fin, payload: append([]byte(nil), payload...)}})
	})
}
