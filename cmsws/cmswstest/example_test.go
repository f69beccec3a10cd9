package cmswstest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cms-exporter/cms_exporter/cmsws/cmswstest"
)

// A demo setup: a three-node cluster with random traffic. Clients trust
// CertPool (or the file written by WriteCAFile), log in as admin/secret
// and connect to URL(node).
func Example() {
	c, err := cmswstest.NewCluster(cmswstest.Options{Nodes: 3, Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	go cmswstest.NewTraffic(c, cmswstest.TrafficOptions{Seed: 1}).Run(ctx, 50*time.Millisecond)
	for _, n := range c.Nodes() {
		fmt.Println(n, c.URL(n) != "")
	}
	<-ctx.Done()
}
