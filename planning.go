package main

import (
	"github.com/cms-exporter/cms_exporter/cmsws"
	"github.com/cms-exporter/cms_exporter/collector"
	"github.com/cms-exporter/cms_exporter/planner"
)

// plannerModel adapts the collector to the planner. The two packages do
// not import each other: the model knows nothing of planning policy, the
// planner nothing of how the model is kept; main translates.
type plannerModel struct{ c *collector.Collector }

func (m plannerModel) PlanInput() ([]planner.Meeting, map[string]map[string]bool, []planner.Slot) {
	meetings, avoid, connected := m.c.PlanInput()
	out := make([]planner.Meeting, len(meetings))
	for i, pm := range meetings {
		out[i] = planner.Meeting{Key: pm.Key, Name: pm.Name, Size: pm.Size, Calls: pm.Calls}
	}
	slots := make([]planner.Slot, len(connected))
	for i, s := range connected {
		slots[i] = planner.Slot{Node: s.Node, Link: s.Link}
	}
	return out, avoid, slots
}

func (m plannerModel) SetPlan(p planner.Plan, subs map[planner.Slot][]cmsws.Subscription) {
	placements := make(map[string]collector.Slot, len(p.Placements))
	for key, pl := range p.Placements {
		placements[key] = collector.Slot{Node: pl.Slot.Node, Link: pl.Slot.Link}
	}
	perSlot := make(map[collector.Slot]int, len(subs))
	for s, list := range subs {
		perSlot[collector.Slot{Node: s.Node, Link: s.Link}] = len(list)
	}
	limits := make(map[collector.Slot]int, len(p.Limits))
	for s, n := range p.Limits {
		limits[collector.Slot{Node: s.Node, Link: s.Link}] = n
	}
	m.c.SetPlan(placements, p.Skipped, p.Excluded, perSlot, limits)
}
