use expect_test::expect;

use crate::support::*;

#[test]
fn c_functions_structs_typedefs_and_macros_are_items() {
    let source = r#"#include <stdlib.h>

#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* A point on the screen, in pixels from the top left corner. */
struct point {
    int x;
    int y;
};

typedef struct {
    struct point from;
    struct point to;
} Line;

typedef struct node Node;

/* Creates a line between two points; the caller frees it. */
Line *line_new(struct point from, struct point to) {
    Line *line = malloc(sizeof *line);
    if (line == NULL) return NULL;
    line->from = from;
    line->to = to;
    return line;
}

static int length(const Line *line) {
    return MAX(abs(line->to.x - line->from.x), abs(line->to.y - line->from.y));
}
"#;
    check(
        &small_chunker(90, 15),
        "src/geometry.c",
        source,
        expect![[r#"
        1-3 macro `MAX` (35) | #include <stdlib.h>
            macro MAX 3-3
        5-9 struct `point` (35) | /* A point on the screen, in pixels from the top left corner. */
            struct point 5-9
        11-16 struct `Line` (27) | typedef struct {
            struct Line 11-14
            type Node 16-16
        18-25 function `line_new` (82) | /* Creates a line between two points; the caller frees it. */
            function line_new 18-25
        27-29 function `length` (53) | static int length(const Line *line) {
            function length 27-29
    "#]],
    );
}

#[test]
fn broken_c_still_chunks_and_covers_every_line() {
    let source = r#"int fine(void) { return 1; }

int broken( {
    int x = ;
struct half {
    int field;

void after(void) {}
"#;
    check(
        &small_chunker(40, 5),
        "broken.c",
        source,
        expect![[r#"
        1-1 function `fine` (11) | int fine(void) { return 1; }
            function fine 1-1
        3-8 module `` (25) | int broken( {
    "#]],
    );
}
