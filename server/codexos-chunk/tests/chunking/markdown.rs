use expect_test::expect;

use crate::support::*;

#[test]
fn sections_are_named_by_their_heading_path() {
    let source = r#"Intro text before any heading.

# Guide

How to use the guide, in a paragraph long enough to count for something here.

## Install

Run the installer and wait until it says it is done; then restart the editor.

## Configure

Setting up
----------

Edit the settings file and set the model path to where the weights were unpacked.

# Reference
Short.
"#;
    check(
        &small_chunker(40, 10),
        "docs/guide.md",
        source,
        expect![[r#"
        1-5 section `Guide` (36) | Intro text before any heading.
            section Guide 3-16
        7-11 section `Guide > Install` (31) | ## Install
            section Guide > Install 7-9
            section Guide > Configure 11-11
        13-16 section `Guide > Setting up` (34) | Setting up
            section Guide > Setting up 13-16
        18-19 section `Reference` (7) | # Reference
            section Reference 18-19
    "#]],
    );
}

#[test]
fn headings_inside_code_fences_and_front_matter_do_not_start_sections() {
    let source = r#"---
title: # not a heading
---
# Real

```sh
# a shell comment, not a heading
echo hi
```

~~~
## also not a heading
~~~
"#;
    check(
        &chunker(),
        "README.md",
        source,
        expect![[r#"
        1-13 section `Real` (49) | ---
            section Real 4-13
    "#]],
    );
}

#[test]
fn a_large_section_is_split_by_lines() {
    let body = "A line of prose that goes on for a while to fill the section.\n".repeat(12);
    let source = format!("# Long\n\n{body}\n# Next\n\nShort.\n");
    check(
        &small_chunker(60, 10),
        "notes.md",
        &source,
        expect![[r#"
        1-5 section `Long` (56) | # Long
            section Long 1-14
        6-8 section `Long` (54) | A line of prose that goes on for a while to fill the section.
        9-11 section `Long` (54) | A line of prose that goes on for a while to fill the section.
        12-18 section `Long` (59) | A line of prose that goes on for a while to fill the section.
            section Next 16-18
    "#]],
    );
}
