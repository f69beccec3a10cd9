package cmswstest

// InjectNumbered is InjectRaw for a frame the fake itself cannot parse (broken
// JSON, a missing envelope type) but whose messageId a client is expected to
// read and ack anyway: id is accepted as an ack once, and counted by
// UnackedInjected until it is. It returns how many connections.
func (c *Cluster) InjectNumbered(node string, frame []byte, id int64) int {
	return c.eachConn(node, func(cn *conn) {
		if cn.out.injected == nil {
			cn.out.injected = map[int64]bool{}
		}
		cn.out.injected[id] = true
		c.enqueueFrame(cn, outMsg{outFrame: outFrame{opcode: OpText, fin: true, payload: append([]byte(nil), frame...)}})
	})
}

// UnackedInjected returns how many messageIds of injected frames (InjectRaw,
// InjectNumbered) the open connections of node have not seen acked yet.
func (c *Cluster) UnackedInjected(node string) int {
	n := 0
	c.eachConn(node, func(cn *conn) { n += len(cn.out.injected) })
	return n
}
