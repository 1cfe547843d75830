use expect_test::expect;

use crate::support::*;

#[test]
fn rust_items_are_chunked_and_named_by_module_type_and_method() {
    let source = r#"//! Parsing of the thing.

use std::fmt;

/// A parsed thing, with enough fields that it stands on its own as a chunk of the file.
#[derive(Debug, Clone)]
pub struct Thing {
    pub name: String,
    pub size: usize,
    pub children: Vec<Thing>,
}

impl Thing {
    /// Creates a thing without children, sized after its name, which is all it needs.
    pub fn new(name: impl Into<String>) -> Self {
        let name = name.into();
        Self { size: name.len(), name, children: Vec::new() }
    }

    /// Total size of this thing and everything below it, counted depth first.
    pub fn total_size(&self) -> usize {
        self.size + self.children.iter().map(Thing::total_size).sum::<usize>()
    }
}

mod nested {
    pub fn helper(value: u32) -> u32 {
        let doubled = value * 2;
        let tripled = value * 3;
        doubled + tripled + value.count_ones() + value.leading_zeros()
    }
}
"#;
    check(
        &small_chunker(120, 30),
        "src/parse/thing.rs",
        source,
        expect![[r#"
        1-11 struct `parse::thing::Thing` (86) | //! Parsing of the thing.
            struct parse::thing::Thing 5-11
        13-18 method `parse::thing::Thing::new` (81) | impl Thing {
            impl parse::thing::Thing 13-24
            method parse::thing::Thing::new 14-18
        20-24 method `parse::thing::Thing::total_size` (74) |     /// Total size of this thing and everything below it, counted depth first.
            method parse::thing::Thing::total_size 20-23
        26-32 module `parse::thing::nested` (62) | mod nested {
            module parse::thing::nested 26-32
            function parse::thing::nested::helper 27-31
    "#]],
    );
}

#[test]
fn doc_comments_and_attributes_stay_with_their_item() {
    let source = r#"use std::collections::HashMap;

/// Counts words.
///
/// Longer explanation of how the words are counted and why.
#[inline]
#[must_use]
pub fn count_words(text: &str) -> HashMap<&str, usize> {
    let mut counts = HashMap::new();
    for word in text.split_whitespace() {
        *counts.entry(word).or_insert(0) += 1;
    }
    counts
}

// A plain comment separated by a blank line stays behind.

/// Docs for the second function.
pub fn second() -> u32 {
    let first_value = 1 + 2 + 3 + 4 + 5 + 6;
    first_value * first_value * first_value
}
"#;
    check(
        &small_chunker(140, 20),
        "src/words.rs",
        source,
        expect![[r#"
        1-14 function `words::count_words` (124) | use std::collections::HashMap;
            function words::count_words 3-14
        16-16 module `words` (20) | // A plain comment separated by a blank line stays behind.
        18-22 function `words::second` (50) | /// Docs for the second function.
            function words::second 18-22
    "#]],
    );
}

#[test]
fn small_neighbours_are_merged_into_one_chunk() {
    let source = r#"use std::io;

const A: u8 = 1;
const B: u8 = 2;

fn tiny_one() {}
fn tiny_two() {}

pub fn a_bigger_function_that_deserves_a_chunk_of_its_own(input: &[u8]) -> io::Result<usize> {
    let mut total = 0usize;
    for byte in input {
        total += usize::from(*byte) * usize::from(A) + usize::from(B);
    }
    Ok(total)
}
"#;
    check(
        &small_chunker(200, 30),
        "src/lib.rs",
        source,
        expect![[r#"
        1-7 module `` (36) | use std::io;
            const A 3-3
            const B 4-4
            function tiny_one 6-6
            function tiny_two 7-7
        9-15 function `a_bigger_function_that_deserves_a_chunk_of_its_own` (89) | pub fn a_bigger_function_that_deserves_a_chunk_of_its_own(input: &[u8]) -> io::Result<usize> {
            function a_bigger_function_that_deserves_a_chunk_of_its_own 9-15
    "#]],
    );
}

#[test]
fn a_large_function_is_split_between_its_statements() {
    let source = r#"/// Does many things.
pub fn many_steps(input: &str) -> usize {
    let first = input.len();
    let second = input.chars().filter(|c| c.is_alphabetic()).count();
    let third = input.lines().count();
    if first > second {
        println!("more bytes than letters: {first} > {second}");
    }
    let fourth = input.split_whitespace().map(str::len).max().unwrap_or(0);
    first + second + third + fourth
}
"#;
    check(
        &small_chunker(40, 10),
        "src/steps.rs",
        source,
        expect![[r#"
        1-3 function `steps::many_steps` (36) | /// Does many things.
            function steps::many_steps 1-11
        4-4 function `steps::many_steps` (33) |     let second = input.chars().filter(|c| c.is_alphabetic()).count();
        5-5 function `steps::many_steps` (17) |     let third = input.lines().count();
        6-8 function `steps::many_steps` (32) |     if first > second {
        9-9 function `steps::many_steps` (33) |     let fourth = input.split_whitespace().map(str::len).max().unwrap_or(0);
        10-11 function `steps::many_steps` (12) |     first + second + third + fourth
    "#]],
    );
}

#[test]
fn a_large_impl_is_split_between_its_methods() {
    let source = r#"impl Counter {
    pub fn new() -> Self {
        Self { count: 0, step: 1 }
    }

    pub fn increment(&mut self) {
        self.count += self.step;
    }

    pub fn reset(&mut self) {
        self.count = 0;
    }
}

impl fmt::Display for Counter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.count)
    }
}
"#;
    check(
        &small_chunker(40, 15),
        "src/counter.rs",
        source,
        expect![[r#"
        1-4 method `counter::Counter::new` (25) | impl Counter {
            impl counter::Counter 1-13
            method counter::Counter::new 2-4
        6-8 method `counter::Counter::increment` (22) |     pub fn increment(&mut self) {
            method counter::Counter::increment 6-8
        10-13 method `counter::Counter::reset` (19) |     pub fn reset(&mut self) {
            method counter::Counter::reset 10-12
        15-16 method `counter::Counter::fmt` (38) | impl fmt::Display for Counter {
            impl counter::Counter 15-19
            method counter::Counter::fmt 16-18
        16-19 method `counter::Counter::fmt` (19) | {
    "#]],
    );
}

#[test]
fn trait_methods_are_named_after_the_trait() {
    let source = r#"pub trait Shape {
    /// Area in square units.
    fn area(&self) -> f64;

    fn describe(&self) -> String {
        format!("a shape with area {:.2} square units, give or take", self.area())
    }
}
"#;
    check(
        &small_chunker(30, 5),
        "src/geometry/mod.rs",
        source,
        expect![[r#"
        1-1 trait `geometry::Shape` (6) | pub trait Shape {
            trait geometry::Shape 1-8
        2-3 method `geometry::Shape::area` (20) |     /// Area in square units.
            method geometry::Shape::area 2-3
        5-6 method `geometry::Shape::describe` (15) |     fn describe(&self) -> String {
            method geometry::Shape::describe 5-7
        6-8 method `geometry::Shape::describe` (30) | ("a shape with area {:.2} square units, give or take", self.area())
    "#]],
    );
}

#[test]
fn broken_rust_still_chunks_and_covers_every_line() {
    let source = r#"fn ok() -> u32 { 1 }

fn broken( -> {
    let x = ;
    }}} impl for {
struct Half {
    field: u32,

fn after_the_mess() {
    println!("still here");
}
"#;
    check(
        &small_chunker(40, 5),
        "src/broken.rs",
        source,
        expect![[r#"
        1-1 function `broken::ok` (10) | fn ok() -> u32 { 1 }
            function broken::ok 1-1
        3-5 module `broken` (16) | fn broken( -> {
        5-11 module `broken` (30) | {
    "#]],
    );
}
