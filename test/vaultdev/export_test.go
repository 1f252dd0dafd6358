package vaultdev

import "testing"

// StartClusterLosingANode is StartCluster with node `lost` killed just
// before its first join, as a node that cannot join: the cluster must
// form with a fresh node in its place.
func StartClusterLosingANode(t testing.TB, n, lost int) *Cluster {
	t.Helper()
	return startCluster(t, n, func(s *Server, node, attempt int) {
		if node == lost && attempt == 1 {
			s.Stop()
		}
	})
}
