// Package shop keeps shopping carts and prices them.
package shop

import (
	"errors"
	"fmt"
	"sort"
	"sync"
)

// ErrClosed is returned when a cart that is checked out is changed.
var ErrClosed = errors.New("shop: cart is closed")

// Item is something a customer can buy.
type Item struct {
	ID    string
	Name  string
	Cents int64
}

// Discount lowers a cart's total, by a percentage or an amount.
type Discount interface {
	Apply(cents int64) int64
	Code() string
}

type (
	// Percent takes a percentage off.
	Percent struct {
		code    string
		percent int64
	}
	// Amount takes a fixed amount off.
	Amount struct {
		code  string
		cents int64
	}
)

func (p Percent) Apply(cents int64) int64 { return cents - cents*p.percent/100 }
func (p Percent) Code() string            { return p.code }
func (a Amount) Apply(cents int64) int64  { return cents - a.cents }
func (a Amount) Code() string             { return a.code }

// Cart holds the items a customer picked. It is safe for concurrent use.
type Cart struct {
	mu        sync.Mutex
	lines     map[string]*line
	discounts []Discount
	closed    bool
}

type line struct {
	item  Item
	count int
}

// NewCart returns an empty, open cart.
func NewCart() *Cart {
	return &Cart{lines: make(map[string]*line)}
}

// Add adds count of item; adding an item twice adds up the counts.
func (c *Cart) Add(item Item, count int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if known, ok := c.lines[item.ID]; ok {
		known.count += count
		return nil
	}
	c.lines[item.ID] = &line{item: item, count: count}
	return nil
}

// Total is the price in cents after discounts, never below zero.
func (c *Cart) Total() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var cents int64
	for _, l := range c.lines {
		cents += l.item.Cents * int64(l.count)
	}
	for _, d := range c.discounts {
		cents = d.Apply(cents)
	}
	if cents < 0 {
		return 0
	}
	return cents
}

// Receipt lists the lines by name with their prices.
func (c *Cart) Receipt() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.lines))
	for _, l := range c.lines {
		out = append(out, fmt.Sprintf("%-20s %3d × %8.2f", l.item.Name, l.count, float64(l.item.Cents)/100))
	}
	sort.Strings(out)
	return out
}
