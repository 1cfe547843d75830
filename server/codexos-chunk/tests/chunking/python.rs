use expect_test::expect;

use crate::support::*;

#[test]
fn python_classes_and_methods_are_named_package_module_class_method() {
    let source = r#""""Inventory of items."""

import dataclasses
from typing import Iterable

LIMIT = 100


class Inventory:
    """Holds items and their counts, and answers questions about them."""

    def __init__(self, items: Iterable[str] = ()):
        self.counts = {}
        for item in items:
            self.add(item)

    def add(self, item: str, count: int = 1) -> None:
        self.counts[item] = self.counts.get(item, 0) + count

    def total(self) -> int:
        return sum(self.counts.values())


def load(path: str) -> Inventory:
    with open(path) as handle:
        return Inventory(line.strip() for line in handle if line.strip())
"#;
    check(
        &small_chunker(120, 25),
        "shop/inventory.py",
        source,
        expect![[r#"
        1-6 module `shop.inventory` (29) | """Inventory of items."""
        9-10 class `shop.inventory.Inventory` (32) | class Inventory:
            class shop.inventory.Inventory 9-21
        12-15 method `shop.inventory.Inventory.__init__` (38) |     def __init__(self, items: Iterable[str] = ()):
            method shop.inventory.Inventory.__init__ 12-15
        17-21 method `shop.inventory.Inventory.add` (66) |     def add(self, item: str, count: int = 1) -> None:
            method shop.inventory.Inventory.add 17-18
            method shop.inventory.Inventory.total 20-21
        24-26 function `shop.inventory.load` (47) | def load(path: str) -> Inventory:
            function shop.inventory.load 24-26
    "#]],
    );
}

#[test]
fn decorators_and_comments_stay_with_their_definition() {
    let source = r#"import functools


# Caches results, because computing them twice would be wasteful.
@functools.lru_cache(maxsize=None)
def fibonacci(n: int) -> int:
    if n < 2:
        return n
    return fibonacci(n - 1) + fibonacci(n - 2)


@dataclasses.dataclass(frozen=True)
class Point:
    x: float
    y: float

    @property
    def norm(self) -> float:
        return (self.x ** 2 + self.y ** 2) ** 0.5

    @staticmethod
    def origin() -> "Point":
        return Point(0.0, 0.0)
"#;
    check(
        &small_chunker(60, 12),
        "pkg/__init__.py",
        source,
        expect![[r#"
        1-5 function `pkg.fibonacci` (39) | import functools
            function pkg.fibonacci 4-9
        6-9 function `pkg.fibonacci` (40) | def fibonacci(n: int) -> int:
        12-15 class `pkg.Point` (27) | @dataclasses.dataclass(frozen=True)
            class pkg.Point 12-23
        17-19 method `pkg.Point.norm` (35) |     @property
            method pkg.Point.norm 17-19
        21-23 method `pkg.Point.origin` (29) |     @staticmethod
            method pkg.Point.origin 21-23
    "#]],
    );
}

#[test]
fn a_large_python_function_is_split_between_its_statements() {
    let source = r#"def report(rows):
    """Summarise rows."""
    total = sum(row.amount for row in rows)
    largest = max((row.amount for row in rows), default=0)
    if total > 1000:
        print("big total", total, "largest", largest)
    else:
        print("small total", total)
    names = sorted({row.name for row in rows})
    return {"total": total, "largest": largest, "names": names}
"#;
    check(
        &small_chunker(40, 10),
        "src/reports/summary.py",
        source,
        expect![[r#"
        1-3 function `reports.summary.report` (32) | def report(rows):
            function reports.summary.report 1-10
        4-5 function `reports.summary.report` (27) |     largest = max((row.amount for row in rows), default=0)
        6-8 function `reports.summary.report` (35) |         print("big total", total, "largest", largest)
        9-9 function `reports.summary.report` (16) |     names = sorted({row.name for row in rows})
        10-10 function `reports.summary.report` (27) |     return {"total": total, "largest": largest, "names": names}
    "#]],
    );
}

#[test]
fn module_level_code_is_chunked_too() {
    let source = r#"import sys

def main(argv):
    return len(argv)

if __name__ == "__main__":
    code = main(sys.argv)
    print("exiting with", code)
    sys.exit(code)
"#;
    check(
        &small_chunker(30, 8),
        "tools/run.py",
        source,
        expect![[r#"
        1-4 function `tools.run.main` (15) | import sys
            function tools.run.main 3-4
        6-6 module `tools.run` (10) | if __name__ == "__main__":
        7-9 module `tools.run` (25) |     code = main(sys.argv)
    "#]],
    );
}

#[test]
fn broken_python_still_chunks_and_covers_every_line() {
    let source = r#"def fine():
    return 1

def broken(:
    return (((
class
    def method(self)
        pass
x = [1, 2,
"#;
    check(
        &small_chunker(40, 5),
        "broken.py",
        source,
        expect![[r#"
        1-2 function `broken.fine` (8) | def fine():
            function broken.fine 1-2
        4-8 function `broken.broken` (19) | def broken(:
            function broken.broken 4-8
        9-9 module `broken` (7) | x = [1, 2,
    "#]],
    );
}

#[test]
fn a_docstring_bigger_than_a_chunk_is_split_between_its_lines() {
    let lines: String = (1..=8)
        .map(|line| format!("    Line {line} of a long explanation, in words.\n"))
        .collect();
    let source =
        format!("def documented():\n    \"\"\"Summary.\n\n{lines}    \"\"\"\n    return 1\n");
    check(
        &small_chunker(40, 10),
        "doc.py",
        &source,
        expect![[r#"
        1-5 function `doc.documented` (39) | def documented():
            function doc.documented 1-13
        6-8 function `doc.documented` (39) |     Line 3 of a long explanation, in words.
        9-11 function `doc.documented` (39) |     Line 6 of a long explanation, in words.
        12-13 function `doc.documented` (6) |     """
    "#]],
    );
}

#[test]
fn a_comment_above_the_first_method_of_a_class_stays_with_it() {
    let source = r#"class Greeter:
    # Says hello to whoever is named, politely and at length.
    def greet(self, name):
        return "Hello, " + name + ", how nice to see you again today"

    def leave(self, name):
        return "Goodbye, " + name + ", until we meet again some day"
"#;
    check(
        &small_chunker(60, 10),
        "greet.py",
        source,
        expect![[r#"
        1-4 method `greet.Greeter.greet` (54) | class Greeter:
            class greet.Greeter 1-7
            method greet.Greeter.greet 2-4
        6-7 method `greet.Greeter.leave` (30) |     def leave(self, name):
            method greet.Greeter.leave 6-7
    "#]],
    );
}
