package main

import (
	"maps"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// capacityCollector exports what operators state about their nodes'
// capacity (config capacity_participants), so dashboards and alerts can
// compute utilisation without a hand-kept number in every query.
type capacityCollector struct {
	desc *prometheus.Desc

	mu    sync.Mutex
	nodes map[string]int
}

func newCapacityCollector() *capacityCollector {
	return &capacityCollector{
		desc: prometheus.NewDesc("cms_node_capacity_participants",
			"Participants the node is licensed or sized for, as stated in the configuration (capacity_participants); absent when not stated.",
			[]string{"node"}, nil),
		nodes: map[string]int{},
	}
}

// set replaces the stated capacities (node → participants; 0 = unknown).
func (c *capacityCollector) set(nodes map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nodes = make(map[string]int, len(nodes))
	for n, v := range nodes {
		if v > 0 {
			c.nodes[n] = v
		}
	}
}

func (c *capacityCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *capacityCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range slices.Sorted(maps.Keys(c.nodes)) {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(c.nodes[n]), n)
	}
}
