package collector

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metric is a metric family of the Collector: its index in metricTable.
type metric int

// The metric families, in the order of metricTable.
const (
	mUp metric = iota
	// per call (PerCallMetrics), one series each in renderCall
	mCallInfo
	mCallParticipants
	mCallDistributedInstances
	mCallRecording
	mCallStreaming
	mCallEndpointRecording
	mCallLocked
	// per node
	mNodeCalls
	mNodeCapacity
	// cluster: meetings
	mClusterMeetings
	mClusterParticipants
	mClusterMeetingsRecording
	mClusterMeetingsStreaming
	mClusterMeetingsLocked
	// cluster: meeting transitions
	mMeetingsStartedTotal
	mMeetingsEndedTotal
	mRecordingsStartedTotal
	mRecordingsStoppedTotal
	mStreamsStartedTotal
	mStreamsStoppedTotal
	mMeetingsLockedTotal
	mMeetingsUnlockedTotal
	// per node: the events connections (self-metrics)
	mEventsConnects
	mEventsConnectFailures
	mEventsDisconnects
	mEventsMessages
	mEventsMessageErrors
	mEventsSubscriptions
	mEventsLastMessage
	mEventsProbes
	mEventsProbeLatency
	mEventsSynced
	mEventsConnected
	mEventsValuesRejected
	// roster, per call (PerCallMetrics): by state, and one family per
	// participant flag (see participantFlagMetrics)
	mCallRosterParticipants
	mCallParticipantsAudioMuted
	mCallParticipantsVideoMuted
	mCallParticipantsTxAudioMuted
	mCallParticipantsTxVideoMuted
	mCallParticipantsPresenting
	mCallParticipantsActiveSpeakers
	mCallParticipantsEndpointRecording
	// roster, cluster
	mClusterParticipantsAudioMuted
	mClusterParticipantsVideoMuted
	mClusterParticipantsTxAudioMuted
	mClusterParticipantsTxVideoMuted
	mClusterParticipantsPresenting
	// participant transitions
	mParticipantsJoined
	mParticipantsLeft
	mParticipantsMoved
	// roster coverage and subscription budget
	mRosterCoverage
	mRosterMeetings
	mBudgetUsed
	mBudgetLeft
	// the node's own books, over its REST API (see rest_render.go)
	mRESTUp
	mRESTRequests
	mRESTFailures
	mRESTLastSuccess
	mNodeInfo
	mNodeUptime
	mNodeActivated
	mNodeClusterEnabled
	mNodeCallLegs
	mNodeCallLegsMax
	mNodeCallLegsCompleted
	mNodeMediaBytes
	mNodeMediaLoad
	mNodeLoadLimit
	mNodeParticipantLimit
	mNodeAlarmActive
	mLicenseStatus
	mLicenseExpiry
	mLicenseLimit
	mLicensePersonalLimit
	mLicensePersonalAssigned
	mLicenseSharedLimit
	mLicenseCapacityUnitsLimit
	mLicenseCapacityUnitsUsed
	mLicenseWeightedCalls
	mLicenseWeightedCallsWithoutPersonal
	// the event model checked against the nodes' books
	mClusterCallLegs
	mClusterCallLegsExpected
	mClusterCallLegsDrift
	// meeting sizes, whatever per_call_metrics says
	mClusterMeetingParticipants
)

// callSeries is how many series renderCall makes of a call: one per
// per-call family.
const callSeries = int(mCallLocked-mCallInfo) + 1

// noMetric stands for a family that does not exist (see
// participantFlagMetrics).
const noMetric metric = -1

// metricDef is a metric family: its name, help and variable labels. Names
// and labels are the contract of README's metrics table (checked by
// TestREADMEMetricsTable): dashboards and alerts depend on them.
type metricDef struct {
	name   string
	help   string
	labels []string
}

var (
	nodeLabels     = []string{"node"}
	nodeCallLabels = []string{"node", "call"}
)

// metricTable defines every family the Collector may emit, by metric: the
// descriptors, Describe and the renderers all work from it.
var metricTable = [...]metricDef{
	mUp: {"cms_up", "1 when the node's events stream is connected and its calls subscription is active, so its call metrics are live; 0 otherwise (its calls are kept as last seen until it reconnects).", nodeLabels},

	// per call
	mCallInfo:                 {"cms_call_info", "One series per call instance on a node, value 1, carrying the call's correlator (shared by the instances of one meeting across nodes), name and type.", []string{"node", "call", "correlator", "name", "call_type"}},
	mCallParticipants:         {"cms_call_participants", "Participants of the call as reported by CMS. This is the cluster-wide count, repeated on every node hosting the meeting: do not sum it across nodes.", nodeCallLabels},
	mCallDistributedInstances: {"cms_call_distributed_instances", "Number of other nodes hosting this call, as reported by CMS.", nodeCallLabels},
	mCallRecording:            {"cms_call_recording", "1 while CMS reports the call as being recorded.", nodeCallLabels},
	mCallStreaming:            {"cms_call_streaming", "1 while CMS reports the call as being streamed.", nodeCallLabels},
	mCallEndpointRecording:    {"cms_call_endpoint_recording", "1 while CMS reports the call as being recorded by an endpoint (Lync/Skype client).", nodeCallLabels},
	mCallLocked:               {"cms_call_locked", "1 while CMS reports the call as locked. Raw value per instance: CMS announces every new call as locked for a moment; the cluster-level lock metrics filter that out.", nodeCallLabels},

	// per node
	mNodeCalls:    {"cms_node_calls", "Call instances on the node by call type. A meeting hosted by several nodes counts once per node here; see cms_cluster_meetings for meetings.", []string{"node", "call_type"}},
	mNodeCapacity: {"cms_node_capacity_participants", "Participants the node is licensed or sized for, as stated in the configuration (capacity_participants); absent when not stated.", nodeLabels},

	// cluster: meetings
	mClusterMeetings:          {"cms_cluster_meetings", "Meetings in the cluster by call type: call instances deduplicated by callCorrelator.", []string{"call_type"}},
	mClusterParticipants:      {"cms_cluster_participants", "Participants in all meetings of the cluster, counted once per meeting (not per hosting node).", nil},
	mClusterMeetingsRecording: {"cms_cluster_meetings_recording", "Meetings being recorded on at least one hosting node.", nil},
	mClusterMeetingsStreaming: {"cms_cluster_meetings_streaming", "Meetings being streamed on at least one hosting node.", nil},
	mClusterMeetingsLocked:    {"cms_cluster_meetings_locked", "Meetings locked on at least one hosting node, ignoring the momentary lock CMS announces new calls with.", nil},

	// cluster: meeting transitions
	mMeetingsStartedTotal:   {"cms_meetings_started_total", "Meetings seen starting live (not ones found in a reconnect snapshot), deduplicated across nodes.", nil},
	mMeetingsEndedTotal:     {"cms_meetings_ended_total", "Meetings seen ending live: the last hosting instance was removed. Meetings that vanished while a node was disconnected are not counted.", nil},
	mRecordingsStartedTotal: {"cms_recordings_started_total", "Meetings seen live changing to recording, deduplicated across nodes.", nil},
	mRecordingsStoppedTotal: {"cms_recordings_stopped_total", "Meetings seen live stopping recording, including meetings ending while recording.", nil},
	mStreamsStartedTotal:    {"cms_streams_started_total", "Meetings seen live changing to streaming, deduplicated across nodes.", nil},
	mStreamsStoppedTotal:    {"cms_streams_stopped_total", "Meetings seen live stopping streaming, including meetings ending while streaming.", nil},
	mMeetingsLockedTotal:    {"cms_meetings_locked_total", "Meetings seen live becoming locked, ignoring the momentary lock CMS announces new calls with.", nil},
	mMeetingsUnlockedTotal:  {"cms_meetings_unlocked_total", "Meetings seen live becoming unlocked, including locked meetings that ended.", nil},

	// per node: the events connections
	mEventsConnects:        {"cms_events_connects_total", "Events WebSocket connections established to the node.", nodeLabels},
	mEventsConnectFailures: {"cms_events_connect_failures_total", "Failed attempts to connect the events WebSocket, by reason (auth, token, network, tls, handshake, other).", []string{"node", "reason"}},
	mEventsDisconnects:     {"cms_events_disconnects_total", "Events WebSocket connections that ended, by reason.", []string{"node", "reason"}},
	mEventsMessages:        {"cms_events_messages_total", "Messages received from the node, by message type (unknown types as other).", []string{"node", "message_type"}},
	mEventsMessageErrors:   {"cms_events_message_errors_total", "Frames, messages or updates that could not be used, by reason: decoding and protocol errors of the client, plus the model's unknown_call, unknown_participant, invalid_value, wrong_resource and request_failed. Counted over all the node's events connections.", []string{"node", "reason"}},
	mEventsSubscriptions:   {"cms_events_subscriptions", "Subscriptions of the node's current events connections (all of them) by resource and server-reported state.", []string{"node", "resource", "state"}},
	mEventsLastMessage:     {"cms_events_last_message_timestamp_seconds", "Unix time the last message from the node was received.", nodeLabels},
	mEventsProbes:          {"cms_events_probes_total", "Liveness probes the node acknowledged in time.", nodeLabels},
	mEventsProbeLatency:    {"cms_events_probe_latency_seconds", "Round-trip time of the last acknowledged liveness probe.", nodeLabels},
	mEventsSynced:          {"cms_events_synced", "1 when the current connection's calls snapshot is complete, so the node's calls are known rather than carried over from the last connection.", nodeLabels},
	mEventsValuesRejected:  {"cms_events_values_rejected_total", "Values of the node's updates outside their plausible range (participants above 100000 per call, distributedInstances above 1000, any count below 0), by resource and element; each is left unchanged and counted as invalid_value in cms_events_message_errors_total too.", []string{"node", "resource", "element"}},
	mEventsConnected:       {"cms_events_connected", "1 while the node's primary events WebSocket (the one carrying the calls subscription) is connected, whatever the state of its subscriptions.", nodeLabels},

	// roster, per call
	mCallRosterParticipants:            {"cms_call_roster_participants", "Participants in the meeting's roster by state (initial, ringing, connected, onHold, other). One series set per meeting, on the call instance whose node carries its roster subscription; they move when the subscription is re-homed.", []string{"node", "call", "state"}},
	mCallParticipantsAudioMuted:        {"cms_call_participants_audio_muted", "Participants of the meeting whose audio the Meeting Server mutes (roster audioMuted). On the instance carrying the roster subscription.", nodeCallLabels},
	mCallParticipantsVideoMuted:        {"cms_call_participants_video_muted", "Participants of the meeting whose video the Meeting Server mutes (roster videoMuted). On the instance carrying the roster subscription.", nodeCallLabels},
	mCallParticipantsTxAudioMuted:      {"cms_call_participants_tx_audio_muted", "Participants of the meeting whose audio transmission is muted (roster txAudioMuted). On the instance carrying the roster subscription.", nodeCallLabels},
	mCallParticipantsTxVideoMuted:      {"cms_call_participants_tx_video_muted", "Participants of the meeting whose video transmission is muted (roster txVideoMuted). On the instance carrying the roster subscription.", nodeCallLabels},
	mCallParticipantsPresenting:        {"cms_call_participants_presenting", "Participants of the meeting currently presenting. On the instance carrying the roster subscription.", nodeCallLabels},
	mCallParticipantsActiveSpeakers:    {"cms_call_participants_active_speakers", "Participants of the meeting currently considered active speakers. On the instance carrying the roster subscription.", nodeCallLabels},
	mCallParticipantsEndpointRecording: {"cms_call_participants_endpoint_recording", "Participants of the meeting recording it from their endpoint. On the instance carrying the roster subscription.", nodeCallLabels},

	// roster, cluster
	mClusterParticipantsAudioMuted:   {"cms_cluster_participants_audio_muted", "Participants with audio muted, over the meetings whose roster is covered (see cms_roster_coverage_ratio).", nil},
	mClusterParticipantsVideoMuted:   {"cms_cluster_participants_video_muted", "Participants with video muted, over the meetings whose roster is covered.", nil},
	mClusterParticipantsTxAudioMuted: {"cms_cluster_participants_tx_audio_muted", "Participants with audio transmission muted, over the meetings whose roster is covered.", nil},
	mClusterParticipantsTxVideoMuted: {"cms_cluster_participants_tx_video_muted", "Participants with video transmission muted, over the meetings whose roster is covered.", nil},
	mClusterParticipantsPresenting:   {"cms_cluster_participants_presenting", "Participants presenting, over the meetings whose roster is covered.", nil},

	// participant transitions
	mParticipantsJoined: {"cms_participants_joined_total", "Participants seen joining a meeting live (not ones found in a roster snapshot), once per participant even when several subscriptions report the join.", nil},
	mParticipantsLeft:   {"cms_participants_left_total", "Participants seen leaving a meeting live, by CMS's reason (known reasons, other, none when CMS gave none: it gives none for participants hosted on another node), once per leave.", []string{"reason"}},
	mParticipantsMoved:  {"cms_participants_moved_total", "Participants that joined a meeting by being moved from another one (movedParticipant holds a participant GUID).", nil},

	// roster coverage and subscription budget
	mRosterCoverage: {"cms_roster_coverage_ratio", "Meetings whose roster subscription is active and synced, divided by the meetings not excluded by the name patterns; 1 when there are none. Below 1 the participant metrics are partial.", nil},
	mRosterMeetings: {"cms_roster_meetings", "Meetings by roster coverage state: covered (subscription active and synced), pending (placed or new, not yet covered), skipped (no subscription budget left), excluded (name patterns).", []string{"state"}},
	mBudgetUsed:     {"cms_subscription_budget_used", "Subscriptions the plan puts on the node's events connection (calls included); CMS allows 100.", []string{"node", "connection"}},
	mBudgetLeft:     {"cms_subscription_budget_left", "Subscriptions still free on the node's events connection under the limit the planner applies to it (CMS's 100, or less when configured): used plus left is that limit, and 0 left with meetings skipped means the budget is what limits coverage.", []string{"node", "connection"}},

	// the node's own books, over its REST API
	mRESTUp:                              {"cms_rest_up", "1 when the latest request of every resource polled on the node's REST API succeeded; 0 when one failed or none answered yet. A resource whose latest request failed has no series.", nodeLabels},
	mRESTRequests:                        {"cms_rest_requests_total", "REST API requests sent to the node, by resource.", []string{"node", "resource"}},
	mRESTFailures:                        {"cms_rest_request_failures_total", "REST API requests to the node that failed, by resource and reason (auth, http_status, timeout, network, tls, decode).", []string{"node", "resource", "reason"}},
	mRESTLastSuccess:                     {"cms_rest_last_success_timestamp_seconds", "Unix time the node last answered a REST request for the resource.", []string{"node", "resource"}},
	mNodeInfo:                            {"cms_node_info", "The node's software version (/system/status softwareVersion), value 1.", []string{"node", "version"}},
	mNodeUptime:                          {"cms_node_uptime_seconds", "Time since the node's Call Bridge started (/system/status uptimeSeconds).", nodeLabels},
	mNodeActivated:                       {"cms_node_activated", "1 when the node reports itself activated (/system/status activated).", nodeLabels},
	mNodeClusterEnabled:                  {"cms_node_cluster_enabled", "1 when the node reports clustering enabled (/system/status clusterEnabled).", nodeLabels},
	mNodeCallLegs:                        {"cms_node_call_legs", "Call legs active on the node, as the node counts them (/system/status callLegsActive): its participants' legs plus the distribution links to other nodes.", nodeLabels},
	mNodeCallLegsMax:                     {"cms_node_call_legs_max", "Highest number of call legs active at once on the node since it started (/system/status callLegsMaxActive).", nodeLabels},
	mNodeCallLegsCompleted:               {"cms_node_call_legs_completed_total", "Call legs that ended on the node since it started (/system/status callLegsCompleted); resets when the node restarts.", nodeLabels},
	mNodeMediaBytes:                      {"cms_node_media_bytes_per_second", "Media the node sends (out) and receives (in), by media, from the bit rates of /system/status.", []string{"node", "media", "direction"}},
	mNodeMediaLoad:                       {"cms_node_media_processing_load", "The node's media processing load (/system/load mediaProcessingLoad), in CMS load units: compare with cms_node_load_limit.", nodeLabels},
	mNodeLoadLimit:                       {"cms_node_load_limit", "The load limit configured for the node's Call Bridge (/system/configuration/cluster loadLimit); absent when none is configured.", nodeLabels},
	mNodeParticipantLimit:                {"cms_node_participant_limit", "The participant limit configured for the node's Call Bridge (/system/configuration/cluster participantLimit); absent when none is configured.", nodeLabels},
	mNodeAlarmActive:                     {"cms_node_alarm_active_seconds", "How long each alarm active on the node has been active (/system/alarms), by alarm type; absent when the alarm is not active.", []string{"node", "type"}},
	mLicenseStatus:                       {"cms_license_status", "1 for the current status of each licensed feature of the node (/system/licensing), 0 for the other statuses (noLicense, activated, expired, other).", []string{"node", "feature", "status"}},
	mLicenseExpiry:                       {"cms_license_expiry_timestamp_seconds", "Unix time a licensed feature of the node expires (/system/licensing); absent when it has no expiry.", []string{"node", "feature"}},
	mLicenseLimit:                        {"cms_license_limit", "The licensed number of a feature of the node (/system/licensing), for features that have one.", []string{"node", "feature"}},
	mLicensePersonalLimit:                {"cms_license_personal_limit", "Personal multiparty licences available (/system/multipartyLicensing personalLicenseLimit).", nodeLabels},
	mLicensePersonalAssigned:             {"cms_license_personal_assigned", "Personal multiparty licences assigned to users (/system/multipartyLicensing personalLicenses).", nodeLabels},
	mLicenseSharedLimit:                  {"cms_license_shared_limit", "Shared multiparty licences available (/system/multipartyLicensing sharedLicenseLimit).", nodeLabels},
	mLicenseCapacityUnitsLimit:           {"cms_license_capacity_units_limit", "Capacity units available (/system/multipartyLicensing capacityUnitLimit).", nodeLabels},
	mLicenseCapacityUnitsUsed:            {"cms_license_capacity_units_used", "Capacity units in use (/system/multipartyLicensing capacityUnitUsage).", nodeLabels},
	mLicenseWeightedCalls:                {"cms_license_weighted_calls", "Weighted calls active, as licensing counts them (/system/multipartyLicensing weightedCallsActive).", nodeLabels},
	mLicenseWeightedCallsWithoutPersonal: {"cms_license_weighted_calls_without_personal_license", "Weighted calls active without a personal licence, which draw on shared licences (/system/multipartyLicensing weightedCallsWithoutPersonalLicense).", nodeLabels},

	// the event model checked against the nodes' books
	mClusterCallLegs:         {"cms_cluster_call_legs", "Call legs the nodes report (sum of cms_node_call_legs). Present only while every node's events are synced and its status answered, like the drift.", nil},
	mClusterCallLegsExpected: {"cms_cluster_call_legs_expected", "Call legs the event model explains: the participants of every meeting (once per meeting) plus the distribution links between the nodes hosting it (a meeting on k nodes has k(k-1), the sum of its instances' distributedInstances); the mean of its values at the moments the nodes answered their status.", nil},
	mClusterCallLegsDrift:    {"cms_cluster_call_legs_drift", "cms_cluster_call_legs minus cms_cluster_call_legs_expected: 0 when the event model agrees with the nodes' books. Present only while every node's events are synced and its status answered.", nil},

	mClusterMeetingParticipants: {"cms_cluster_meeting_participants", "Meetings of the cluster by their participants (counted once per meeting), whatever per_call_metrics says.", nil},
}

// participantFlagMetrics are, by participant flag, the per-call family that
// counts the meeting's participants with the flag set and the cluster
// family that counts them over the covered meetings (noMetric: the cluster
// totals leave the flag out).
var participantFlagMetrics = [numFlags]struct{ call, cluster metric }{
	flagAudioMuted:        {mCallParticipantsAudioMuted, mClusterParticipantsAudioMuted},
	flagVideoMuted:        {mCallParticipantsVideoMuted, mClusterParticipantsVideoMuted},
	flagTxAudioMuted:      {mCallParticipantsTxAudioMuted, mClusterParticipantsTxAudioMuted},
	flagTxVideoMuted:      {mCallParticipantsTxVideoMuted, mClusterParticipantsTxVideoMuted},
	flagPresenter:         {mCallParticipantsPresenting, mClusterParticipantsPresenting},
	flagActiveSpeaker:     {mCallParticipantsActiveSpeakers, noMetric},
	flagEndpointRecording: {mCallParticipantsEndpointRecording, noMetric},
}

// descs are the Collector's descriptors, by metric.
type descs [len(metricTable)]*prometheus.Desc

func newDescs() *descs {
	var d descs
	for m, def := range metricTable {
		d[m] = prometheus.NewDesc(def.name, def.help, def.labels, nil)
	}
	return &d
}

// Describe sends every descriptor the Collector may emit, the per-call ones
// included even while PerCallMetrics is off: the registry only accepts
// series of described descriptors, and SetPerCallMetrics can switch them on
// after registration.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.d {
		ch <- d
	}
}

// Collect renders the model (see scrape): the model lock is held only to
// copy what the render shows, the metrics are built without it, and
// concurrent scrapes share one render. The metrics are sent after all
// that, so a slow scrape consumer never holds up the clients feeding
// Handle, nor another scrape.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c.scrape() {
		ch <- m
	}
}

// renderer collects const metrics. A metric that cannot be built (which
// cleanLabel should make impossible) is dropped and remembered, never a
// panic in the middle of a scrape.
type renderer struct {
	d    *descs
	out  []prometheus.Metric
	errs int
	err  error
}

func (r *renderer) add(m metric, t prometheus.ValueType, v float64, labels []string) {
	cm, err := prometheus.NewConstMetric(r.d[m], t, v, labels...)
	if err != nil {
		r.errs++
		r.err = err
		return
	}
	r.out = append(r.out, cm)
}

func (r *renderer) gauge(m metric, v float64, labels ...string) {
	r.add(m, prometheus.GaugeValue, v, labels)
}

func (r *renderer) counter(m metric, v float64, labels ...string) {
	r.add(m, prometheus.CounterValue, v, labels)
}

// histogram adds a histogram from its count, sum and cumulative bucket
// counts (upper bound → observations at or below it).
func (r *renderer) histogram(m metric, count uint64, sum float64, buckets map[float64]uint64, labels ...string) {
	h, err := prometheus.NewConstHistogram(r.d[m], count, sum, buckets, labels...)
	if err != nil {
		r.errs++
		r.err = err
		return
	}
	r.out = append(r.out, h)
}

// b2f is a gauge's value for on/off: 1 or 0.
func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
