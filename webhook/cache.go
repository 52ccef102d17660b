package webhook

import (
	"container/list"
	"sync"
	"time"
)

// cache holds decisions by (repository@digest, policy generation, rule):
// never by tag. An entry is a verified digest (kept for the TTL, and for
// its rule's stale-if-error grace after that, when it is longer) or a
// "not verified" (kept for the negative TTL). Registry errors are never
// cached. It is bounded to max entries, least recently used first out.
type cache struct {
	mu    sync.Mutex
	max   int
	ll    *list.List
	items map[string]*list.Element
}

type entry struct {
	key        string
	err        error // nil: verified
	verifiedAt time.Time
	fresh      time.Time // answers without a registry call until then
	keep       time.Time // kept (for stale-if-error) until then
}

func newCache(max int) *cache {
	return &cache{max: max, ll: list.New(), items: map[string]*list.Element{}}
}

// get returns the entry for key if it is kept at now.
func (c *cache) get(key string, now time.Time) (entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return entry{}, false
	}
	e := el.Value.(*entry)
	if !now.Before(e.keep) {
		c.ll.Remove(el)
		delete(c.items, key)
		return entry{}, false
	}
	c.ll.MoveToFront(el)
	return *e, true
}

func (c *cache) put(e entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[e.key]; ok {
		*el.Value.(*entry) = e
		c.ll.MoveToFront(el)
		return
	}
	c.items[e.key] = c.ll.PushFront(&e)
	for c.ll.Len() > c.max {
		last := c.ll.Back()
		c.ll.Remove(last)
		delete(c.items, last.Value.(*entry).key)
	}
}

func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}
