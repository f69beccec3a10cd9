package collector

import (
	"slices"

	"github.com/go-kit/log/level"

	"github.com/prometheus/client_golang/prometheus"
)

// descs are the metric descriptors. Names and labels are the contract of
// README's metrics table (checked by TestREADMEMetricsTable): dashboards
// and alerts depend on them.
type descs struct {
	up *prometheus.Desc

	callInfo                 *prometheus.Desc
	callParticipants         *prometheus.Desc
	callDistributedInstances *prometheus.Desc
	callRecording            *prometheus.Desc
	callStreaming            *prometheus.Desc
	callEndpointRecording    *prometheus.Desc
	callLocked               *prometheus.Desc

	nodeCalls                *prometheus.Desc
	clusterMeetings          *prometheus.Desc
	clusterParticipants      *prometheus.Desc
	clusterMeetingsRecording *prometheus.Desc
	clusterMeetingsStreaming *prometheus.Desc
	clusterMeetingsLocked    *prometheus.Desc
	meetingsStartedTotal     *prometheus.Desc
	meetingsEndedTotal       *prometheus.Desc
	recordingsStartedTotal   *prometheus.Desc
	recordingsStoppedTotal   *prometheus.Desc
	streamsStartedTotal      *prometheus.Desc
	streamsStoppedTotal      *prometheus.Desc
	meetingsLockedTotal      *prometheus.Desc
	meetingsUnlockedTotal    *prometheus.Desc
	eventsConnects           *prometheus.Desc
	eventsConnectFailures    *prometheus.Desc
	eventsDisconnects        *prometheus.Desc
	eventsMessages           *prometheus.Desc
	eventsMessageErrors      *prometheus.Desc
	eventsSubscriptions      *prometheus.Desc
	eventsLastMessage        *prometheus.Desc
	eventsProbes             *prometheus.Desc
	eventsProbeLatency       *prometheus.Desc
	eventsSynced             *prometheus.Desc
	eventsConnected          *prometheus.Desc

	// roster, per call
	callRosterParticipants *prometheus.Desc
	callPartFlags          [numFlags]*prometheus.Desc // by participantFlags bit
	// roster, cluster
	clusterPartAudioMuted   *prometheus.Desc
	clusterPartVideoMuted   *prometheus.Desc
	clusterPartTxAudioMuted *prometheus.Desc
	clusterPartTxVideoMuted *prometheus.Desc
	clusterPartPresenting   *prometheus.Desc
	participantsJoined      *prometheus.Desc
	participantsLeft        *prometheus.Desc
	participantsMoved       *prometheus.Desc
	// coverage and budget
	rosterCoverage *prometheus.Desc
	rosterMeetings *prometheus.Desc
	budgetUsed     *prometheus.Desc
	budgetLeft     *prometheus.Desc
}

func newDescs() descs {
	node := []string{"node"}
	nodeCall := []string{"node", "call"}
	d := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return descs{
		up: d("cms_up", "1 when the node's events stream is connected and its calls subscription is active, so its call metrics are live; 0 otherwise (its calls are kept as last seen until it reconnects).", node),

		callInfo:                 d("cms_call_info", "One series per call instance on a node, value 1, carrying the call's correlator (shared by the instances of one meeting across nodes), name and type.", []string{"node", "call", "correlator", "name", "call_type"}),
		callParticipants:         d("cms_call_participants", "Participants of the call as reported by CMS. This is the cluster-wide count, repeated on every node hosting the meeting: do not sum it across nodes.", nodeCall),
		callDistributedInstances: d("cms_call_distributed_instances", "Number of other nodes hosting this call, as reported by CMS.", nodeCall),
		callRecording:            d("cms_call_recording", "1 while CMS reports the call as being recorded.", nodeCall),
		callStreaming:            d("cms_call_streaming", "1 while CMS reports the call as being streamed.", nodeCall),
		callEndpointRecording:    d("cms_call_endpoint_recording", "1 while CMS reports the call as being recorded by an endpoint (Lync/Skype client).", nodeCall),
		callLocked:               d("cms_call_locked", "1 while CMS reports the call as locked. Raw value per instance: CMS announces every new call as locked for a moment; the cluster-level lock metrics filter that out.", nodeCall),

		nodeCalls:                d("cms_node_calls", "Call instances on the node by call type. A meeting hosted by several nodes counts once per node here; see cms_cluster_meetings for meetings.", []string{"node", "call_type"}),
		clusterMeetings:          d("cms_cluster_meetings", "Meetings in the cluster by call type: call instances deduplicated by callCorrelator.", []string{"call_type"}),
		clusterParticipants:      d("cms_cluster_participants", "Participants in all meetings of the cluster, counted once per meeting (not per hosting node).", nil),
		clusterMeetingsRecording: d("cms_cluster_meetings_recording", "Meetings being recorded on at least one hosting node.", nil),
		clusterMeetingsStreaming: d("cms_cluster_meetings_streaming", "Meetings being streamed on at least one hosting node.", nil),
		clusterMeetingsLocked:    d("cms_cluster_meetings_locked", "Meetings locked on at least one hosting node, ignoring the momentary lock CMS announces new calls with.", nil),
		meetingsStartedTotal:     d("cms_meetings_started_total", "Meetings seen starting live (not ones found in a reconnect snapshot), deduplicated across nodes.", nil),
		meetingsEndedTotal:       d("cms_meetings_ended_total", "Meetings seen ending live: the last hosting instance was removed. Meetings that vanished while a node was disconnected are not counted.", nil),
		recordingsStartedTotal:   d("cms_recordings_started_total", "Meetings seen live changing to recording, deduplicated across nodes.", nil),
		recordingsStoppedTotal:   d("cms_recordings_stopped_total", "Meetings seen live stopping recording, including meetings ending while recording.", nil),
		streamsStartedTotal:      d("cms_streams_started_total", "Meetings seen live changing to streaming, deduplicated across nodes.", nil),
		streamsStoppedTotal:      d("cms_streams_stopped_total", "Meetings seen live stopping streaming, including meetings ending while streaming.", nil),
		meetingsLockedTotal:      d("cms_meetings_locked_total", "Meetings seen live becoming locked, ignoring the momentary lock CMS announces new calls with.", nil),
		meetingsUnlockedTotal:    d("cms_meetings_unlocked_total", "Meetings seen live becoming unlocked, including locked meetings that ended.", nil),

		eventsConnects:        d("cms_events_connects_total", "Events WebSocket connections established to the node.", node),
		eventsConnectFailures: d("cms_events_connect_failures_total", "Failed attempts to connect the events WebSocket, by reason (auth, token, network, tls, handshake, other).", []string{"node", "reason"}),
		eventsDisconnects:     d("cms_events_disconnects_total", "Events WebSocket connections that ended, by reason.", []string{"node", "reason"}),
		eventsMessages:        d("cms_events_messages_total", "Messages received from the node, by message type (unknown types as other).", []string{"node", "message_type"}),
		eventsMessageErrors:   d("cms_events_message_errors_total", "Frames, messages or updates that could not be used, by reason: decoding and protocol errors of the client, plus the model's unknown_call, unknown_participant, invalid_value, wrong_resource and request_failed. Counted over all the node's events connections.", []string{"node", "reason"}),
		eventsSubscriptions:   d("cms_events_subscriptions", "Subscriptions of the node's current events connections (all of them) by resource and server-reported state.", []string{"node", "resource", "state"}),
		eventsLastMessage:     d("cms_events_last_message_timestamp_seconds", "Unix time the last message from the node was received.", node),
		eventsProbes:          d("cms_events_probes_total", "Liveness probes the node acknowledged in time.", node),
		eventsProbeLatency:    d("cms_events_probe_latency_seconds", "Round-trip time of the last acknowledged liveness probe.", node),
		eventsSynced:          d("cms_events_synced", "1 when the current connection's calls snapshot is complete, so the node's calls are known rather than carried over from the last connection.", node),
		eventsConnected:       d("cms_events_connected", "1 while the node's primary events WebSocket (the one carrying the calls subscription) is connected, whatever the state of its subscriptions.", node),

		callRosterParticipants: d("cms_call_roster_participants", "Participants in the meeting's roster by state (initial, ringing, connected, onHold, other). One series set per meeting, on the call instance whose node carries its roster subscription; they move when the subscription is re-homed.", []string{"node", "call", "state"}),
		callPartFlags: [numFlags]*prometheus.Desc{
			d("cms_call_participants_audio_muted", "Participants of the meeting whose audio the Meeting Server mutes (roster audioMuted). On the instance carrying the roster subscription.", nodeCall),
			d("cms_call_participants_video_muted", "Participants of the meeting whose video the Meeting Server mutes (roster videoMuted). On the instance carrying the roster subscription.", nodeCall),
			d("cms_call_participants_tx_audio_muted", "Participants of the meeting whose audio transmission is muted (roster txAudioMuted). On the instance carrying the roster subscription.", nodeCall),
			d("cms_call_participants_tx_video_muted", "Participants of the meeting whose video transmission is muted (roster txVideoMuted). On the instance carrying the roster subscription.", nodeCall),
			d("cms_call_participants_presenting", "Participants of the meeting currently presenting. On the instance carrying the roster subscription.", nodeCall),
			d("cms_call_participants_active_speakers", "Participants of the meeting currently considered active speakers. On the instance carrying the roster subscription.", nodeCall),
			d("cms_call_participants_endpoint_recording", "Participants of the meeting recording it from their endpoint. On the instance carrying the roster subscription.", nodeCall),
		},
		clusterPartAudioMuted:   d("cms_cluster_participants_audio_muted", "Participants with audio muted, over the meetings whose roster is covered (see cms_roster_coverage_ratio).", nil),
		clusterPartVideoMuted:   d("cms_cluster_participants_video_muted", "Participants with video muted, over the meetings whose roster is covered.", nil),
		clusterPartTxAudioMuted: d("cms_cluster_participants_tx_audio_muted", "Participants with audio transmission muted, over the meetings whose roster is covered.", nil),
		clusterPartTxVideoMuted: d("cms_cluster_participants_tx_video_muted", "Participants with video transmission muted, over the meetings whose roster is covered.", nil),
		clusterPartPresenting:   d("cms_cluster_participants_presenting", "Participants presenting, over the meetings whose roster is covered.", nil),
		participantsJoined:      d("cms_participants_joined_total", "Participants seen joining a meeting live (not ones found in a roster snapshot), once per participant even when several subscriptions report the join.", nil),
		participantsLeft:        d("cms_participants_left_total", "Participants seen leaving a meeting live, by CMS's reason (known reasons, other, none when CMS gave none: it gives none for participants hosted on another node), once per leave.", []string{"reason"}),
		participantsMoved:       d("cms_participants_moved_total", "Participants that joined a meeting by being moved from another one (movedParticipant holds a participant GUID).", nil),

		rosterCoverage: d("cms_roster_coverage_ratio", "Meetings whose roster subscription is active and synced, divided by the meetings not excluded by the name patterns; 1 when there are none. Below 1 the participant metrics are partial.", nil),
		rosterMeetings: d("cms_roster_meetings", "Meetings by roster coverage state: covered (subscription active and synced), pending (placed or new, not yet covered), skipped (no subscription budget left), excluded (name patterns).", []string{"state"}),
		budgetUsed:     d("cms_subscription_budget_used", "Subscriptions the plan puts on the node's events connection (calls included); CMS allows 100.", []string{"node", "connection"}),
		budgetLeft:     d("cms_subscription_budget_left", "Subscriptions still free on the node's events connection under the limit the planner applies to it (CMS's 100, or less when configured): used plus left is that limit, and 0 left with meetings skipped means the budget is what limits coverage.", []string{"node", "connection"}),
	}
}

func (d *descs) all() []*prometheus.Desc {
	return []*prometheus.Desc{
		d.up,
		d.callInfo, d.callParticipants, d.callDistributedInstances, d.callRecording, d.callStreaming,
		d.callEndpointRecording, d.callLocked,
		d.nodeCalls, d.clusterMeetings, d.clusterParticipants, d.clusterMeetingsRecording,
		d.clusterMeetingsStreaming, d.clusterMeetingsLocked,
		d.meetingsStartedTotal, d.meetingsEndedTotal, d.recordingsStartedTotal, d.recordingsStoppedTotal,
		d.streamsStartedTotal, d.streamsStoppedTotal, d.meetingsLockedTotal, d.meetingsUnlockedTotal,
		d.eventsConnects, d.eventsConnectFailures, d.eventsDisconnects, d.eventsMessages,
		d.eventsMessageErrors, d.eventsSubscriptions, d.eventsLastMessage, d.eventsProbes,
		d.eventsProbeLatency, d.eventsSynced, d.eventsConnected,
		d.callRosterParticipants, d.callPartFlags[0], d.callPartFlags[1], d.callPartFlags[2],
		d.callPartFlags[3], d.callPartFlags[4], d.callPartFlags[5], d.callPartFlags[6],
		d.clusterPartAudioMuted, d.clusterPartVideoMuted, d.clusterPartTxAudioMuted,
		d.clusterPartTxVideoMuted, d.clusterPartPresenting,
		d.participantsJoined, d.participantsLeft, d.participantsMoved,
		d.rosterCoverage, d.rosterMeetings, d.budgetUsed, d.budgetLeft,
	}
}

// Describe sends every descriptor the Collector may emit, the per-call ones
// included even while PerCallMetrics is off: the registry only accepts
// series of described descriptors, and SetPerCallMetrics can switch them on
// after registration.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.d.all() {
		ch <- d
	}
}

// Collect renders the model. It builds the metrics under the lock, in
// O(calls), and sends them after releasing it, so a slow scrape consumer
// never holds up the clients feeding Handle.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	ms := c.render(nil)
	c.mu.Unlock()
	for _, m := range ms {
		ch <- m
	}
}

// render appends the model's metrics to out. Callers hold c.mu.
func (c *Collector) render(out []prometheus.Metric) []prometheus.Metric {
	size := 60
	for _, n := range c.nodes {
		size += 60 + 2*len(n.connections)
		if c.perCall {
			size += 7 * len(n.calls)
		}
	}
	if c.perCall {
		size += (numStates + numFlags) * len(c.meetings)
	}
	r := renderer{out: slices.Grow(out, size)}
	for _, n := range c.nodes {
		c.renderNode(&r, n)
	}
	c.renderCluster(&r)
	c.renderRosters(&r)
	if r.errs > 0 {
		level.Warn(c.logger).Log("msg", "series dropped from the scrape", "count", r.errs, "err", r.err)
	}
	return r.out
}

// renderer collects const metrics. A metric that cannot be built (which
// cleanLabel should make impossible) is dropped and remembered, never a
// panic in the middle of a scrape.
type renderer struct {
	out  []prometheus.Metric
	errs int
	err  error
}

func (r *renderer) add(d *prometheus.Desc, t prometheus.ValueType, v float64, labels []string) {
	m, err := prometheus.NewConstMetric(d, t, v, labels...)
	if err != nil {
		r.errs++
		r.err = err
		return
	}
	r.out = append(r.out, m)
}

func (r *renderer) gauge(d *prometheus.Desc, v float64, labels ...string) {
	r.add(d, prometheus.GaugeValue, v, labels)
}

func (r *renderer) counter(d *prometheus.Desc, v float64, labels ...string) {
	r.add(d, prometheus.CounterValue, v, labels)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
