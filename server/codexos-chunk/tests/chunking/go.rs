use expect_test::expect;

use crate::support::*;

#[test]
fn go_methods_are_named_package_receiver_method() {
    let source = r#"// Package shop sells things.
package shop

import "errors"

// Server serves the shop over HTTP, one handler per route, until it is stopped.
type Server struct {
	Addr    string
	routes  map[string]Handler
	stopped bool
}

// Start listens on Addr and serves until Stop is called or listening fails.
func (s *Server) Start() error {
	if s.stopped {
		return errors.New("server already stopped")
	}
	return listen(s.Addr, s.routes)
}

// Stop stops the server.
func (s *Server) Stop() { s.stopped = true }

// New returns a server for addr with no routes yet.
func New(addr string) *Server {
	return &Server{Addr: addr, routes: map[string]Handler{}}
}
"#;
    check(
        &small_chunker(80, 20),
        "internal/shop/server.go",
        source,
        expect![[r#"
            1-11 struct `shop.Server` (66) | // Package shop sells things.
                struct shop.Server 6-11
            13-19 method `shop.Server.Start` (76) | // Start listens on Addr and serves until Stop is called or listening fails.
                method shop.Server.Start 13-19
            21-22 method `shop.Server.Stop` (27) | // Stop stops the server.
                method shop.Server.Stop 21-22
            24-27 function `shop.New` (51) | // New returns a server for addr with no routes yet.
                function shop.New 24-27
        "#]],
    );
}

#[test]
fn go_type_groups_interfaces_and_generic_receivers_are_items() {
    let source = r#"package list

type (
	// ID names an element.
	ID int
	// Visitor is called for every element.
	Visitor interface {
		Visit(id ID) bool
	}
)

type Alias = List[int]

// List keeps elements in order.
type List[T any] struct{ items []T }

func (l *List[T]) Push(item T) { l.items = append(l.items, item) }
"#;
    check(
        &small_chunker(40, 5),
        "list/list.go",
        source,
        expect![[r#"
        1-3 module `list` (5) | package list
        4-5 type `list.ID` (11) | 	// ID names an element.
            type list.ID 4-5
        6-10 interface `list.Visitor` (28) | 	// Visitor is called for every element.
            interface list.Visitor 6-9
            method list.Visitor.Visit 8-8
        12-12 type `list.Alias` (8) | type Alias = List[int]
            type list.Alias 12-12
        14-15 struct `list.List` (26) | // List keeps elements in order.
            struct list.List 14-15
        17-17 method `list.List.Push` (31) | func (l *List[T]) Push(item T) { l.items = append(l.items, item) }
            method list.List.Push 17-17
    "#]],
    );
}

#[test]
fn broken_go_still_chunks_and_covers_every_line() {
    let source = r#"package broken

func Fine() int { return 1 }

func Broken( {
	x := [1, 2
type Half struct {
	field int

func After() {}
"#;
    check(
        &small_chunker(40, 5),
        "broken/broken.go",
        source,
        expect![[r#"
        1-3 function `broken.Fine` (14) | package broken
            function broken.Fine 3-3
        5-10 module `broken` (27) | func Broken( {
            function broken.Broken 5-5
    "#]],
    );
}
