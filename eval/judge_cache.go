package eval

import (
	"container/list"
	"sync"
	"time"
)

// judgeCache keeps the judge's recent answers by prompt digest: a bounded
// LRU whose entries expire, so an agent repeating a call costs no model call
// and no budget, and a stale answer does not live forever.
type judgeCache struct {
	mu    sync.Mutex
	size  int
	ttl   time.Duration
	order *list.List // of *cacheEntry, most recently used first
	byKey map[string]*list.Element
}

type cacheEntry struct {
	key     string
	j       Judgement
	expires time.Time
}

func newJudgeCache(size int, ttl time.Duration) *judgeCache {
	return &judgeCache{size: size, ttl: ttl, order: list.New(), byKey: map[string]*list.Element{}}
}

// get returns the answer cached for key, if it has not expired at now.
func (c *judgeCache) get(key string, now time.Time) (Judgement, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[key]
	if !ok {
		return Judgement{}, false
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.expires) {
		c.order.Remove(el)
		delete(c.byKey, key)
		return Judgement{}, false
	}
	c.order.MoveToFront(el)
	return e.j, true
}

// put caches j under key until now+ttl, evicting the least recently used
// entry when full.
func (c *judgeCache) put(key string, j Judgement, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[key]; ok {
		el.Value = &cacheEntry{key: key, j: j, expires: now.Add(c.ttl)}
		c.order.MoveToFront(el)
		return
	}
	c.byKey[key] = c.order.PushFront(&cacheEntry{key: key, j: j, expires: now.Add(c.ttl)})
	for c.order.Len() > c.size {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.byKey, last.Value.(*cacheEntry).key)
	}
}
