package config

// suggest returns the known name closest to a mistyped one, or "" when
// none is close enough to be a likely typo.
func suggest(name string, known []string) string {
	best, bestDist := "", len(name)/2+1
	for _, k := range known {
		if d := editDistance(name, k); d < bestDist || (d == bestDist && best == "" && d <= 2) {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
