use std::collections::BTreeMap;

use expect_test::{Expect, expect};

use super::*;

const ROOT: &str = "/ws";

/// A request on `src/lib.rs` whose selection is marked `<<`…`>>` in `marked`.
fn request(action: Action, marked: &str, diagnostic: Option<&str>) -> ActionRequest {
    let start = marked.find("<<").expect("a << marker");
    let end = marked.find(">>").expect("a >> marker") - 2;
    let text = marked.replace("<<", "").replace(">>", "");
    ActionRequest::new(
        action,
        Path::new(ROOT).join("src/lib.rs"),
        text,
        start..end,
        None,
        diagnostic.map(str::to_owned),
    )
    .expect("a valid request")
}

/// The file after applying the changes the answer asks for.
fn applied(request: &ActionRequest, answer: &str) -> String {
    let changes = request
        .changes(Path::new(ROOT), answer, &DiskTexts)
        .expect("the answer applies");
    let mut text = request.text.clone();
    for change in changes {
        match change {
            FileChange::Edit {
                range, new_text, ..
            } => text.replace_range(range, &new_text),
            FileChange::Create { path, .. } => panic!("unexpected new file {}", path.display()),
        }
    }
    text
}

fn check_input(request: &ActionRequest, expected: Expect) {
    expected.assert_eq(&request.input(Path::new(ROOT)));
}

#[test]
fn refactor_input_names_the_file_the_lines_and_the_default_instruction() {
    let request = request(
        Action::Refactor,
        "fn main() {}\n<<fn add(a: i32, b: i32) -> i32 {\n    return a + b;\n}\n>>",
        None,
    );
    check_input(
        &request,
        expect![[r#"
            File: src/lib.rs (rust), lines 2-4
            Instruction: Make it simpler and easier to read, without changing what it does.
            ```rust
            fn add(a: i32, b: i32) -> i32 {
                return a + b;
            }
            ```"#]],
    );
}

#[test]
fn fix_input_states_the_problem_and_tests_input_the_style_of_tests() {
    let fix = request(
        Action::Fix,
        "fn f() {\n    let x: u32 = <<-1>>;\n}\n",
        Some("cannot apply unary operator `-`\nto type `u32`"),
    );
    check_input(
        &fix,
        expect![[r#"
            File: src/lib.rs (rust), line 2
            Problem: cannot apply unary operator `-` to type `u32`
            ```rust
                let x: u32 = -1;
            ```"#]],
    );
    let tests = request(Action::Tests, "<<pub fn one() -> u8 { 1 }>>\n", None);
    check_input(
        &tests,
        expect![[r#"
            File: src/lib.rs (rust), line 1
            Tests: #[test] fn test_name() { assert_eq!(...) } (they go in a `mod tests` with `use super::*;`)
            ```rust
            pub fn one() -> u8 { 1 }
            ```"#]],
    );
}

#[test]
fn code_with_backticks_gets_a_longer_fence() {
    let request = request(Action::Explain, "<<let s = \"```\";>>\n", None);
    check_input(
        &request,
        expect![[r#"
            File: src/lib.rs (rust), line 1
            ````rust
            let s = "```";
            ````"#]],
    );
}

#[test]
fn an_empty_selection_stands_for_its_whole_line() {
    let request = request(
        Action::Fix,
        "a();\n    b(<<>>);\nc();\n",
        Some("b is unknown"),
    );
    assert_eq!(request.selected(), "    b();\n");
}

#[test]
fn selections_past_the_end_too_large_or_blank_and_a_fix_without_its_diagnostic_are_refused() {
    let outside = ActionRequest::new(
        Action::Explain,
        "/ws/a.rs".into(),
        "fn a() {}".to_owned(),
        3..40,
        None,
        None,
    );
    assert_eq!(
        outside.map_err(|e| e.to_string()),
        Err("/ws/a.rs: the selection 3..40 is not inside the file (9 bytes)".to_owned())
    );
    let no_diagnostic = ActionRequest::new(
        Action::Fix,
        "/ws/a.rs".into(),
        "fn a() {}".to_owned(),
        0..9,
        None,
        Some("  ".to_owned()),
    );
    assert_eq!(no_diagnostic, Err(ActionError::NoDiagnostic));
    let huge = ActionRequest::new(
        Action::Explain,
        "/ws/a.rs".into(),
        "x".repeat(MAX_SELECTION_BYTES + 1),
        0..MAX_SELECTION_BYTES + 1,
        None,
        None,
    );
    assert_eq!(
        huge.map_err(|e| e.to_string()),
        Err("/ws/a.rs: the selection is 65537 bytes, more than a model can take at once (65536); select less".to_owned())
    );
    let blank = ActionRequest::new(
        Action::Refactor,
        "/ws/a.rs".into(),
        "a\n\nb".to_owned(),
        2..2,
        None,
        None,
    );
    assert_eq!(
        blank.map_err(|e| e.to_string()),
        Err("/ws/a.rs: there is no code to refactor at the selection".to_owned())
    );
}

#[test]
fn a_flush_left_answer_is_indented_to_the_selected_lines() {
    let request = request(
        Action::Refactor,
        "impl A {\n<<    fn add(&self) -> i32 {\n        return self.a + self.b;\n    }\n>>}\n",
        None,
    );
    let answer = "Sure! Here is a simpler version:\n\n```rust\nfn add(&self) -> i32 {\n    self.a + self.b\n}\n```\n\nIt drops the `return`.";
    expect![[r#"
        impl A {
            fn add(&self) -> i32 {
                self.a + self.b
            }
        }
    "#]]
    .assert_eq(&applied(&request, answer));
}

#[test]
fn fix_takes_the_whole_lines_of_the_diagnostic_and_keeps_their_indentation() {
    let request = request(
        Action::Fix,
        "fn f() {\n    <<let x: u32 = -1;>>\n    x\n}\n",
        Some("negative u32"),
    );
    expect![[r#"
        fn f() {
            let x: i32 = -1;
            x
        }
    "#]]
    .assert_eq(&applied(&request, "```\nlet x: i32 = -1;\n```"));
}

#[test]
fn a_selection_that_starts_after_the_indentation_keeps_it_once() {
    let request = request(
        Action::Refactor,
        "fn f() {\n    <<if a {\n        b()\n    }>>\n}\n",
        None,
    );
    expect![[r#"
        fn f() {
            if a {
                c()
            }
        }
    "#]]
    .assert_eq(&applied(&request, "```rust\nif a {\n    c()\n}\n```"));
}

#[test]
fn an_answer_without_code_changes_nothing_and_says_why() {
    let request = request(Action::Refactor, "<<fn a() {}>>\n", None);
    let error = request
        .changes(Path::new(ROOT), "The code looks fine to me!", &DiskTexts)
        .expect_err("no code block");
    assert_eq!(
        error.to_string(),
        "refactor on /ws/src/lib.rs: the model's answer has no fenced code block (```), so there is nothing to apply"
    );
}

#[test]
fn an_answer_that_repeats_the_selection_is_no_change() {
    let request = request(Action::Refactor, "<<fn a() {}\n>>", None);
    let changes = request
        .changes(Path::new(ROOT), "```rust\nfn a() {}\n```", &DiskTexts)
        .expect("a valid answer");
    assert_eq!(changes, Vec::new());
}

#[test]
fn tests_that_hold_no_test_are_refused() {
    let request = request(Action::Tests, "<<fn one() -> u8 { 1 }>>\n", None);
    let error = request
        .changes(
            Path::new(ROOT),
            "```rust\nfn one() -> u8 { 1 }\n```",
            &DiskTexts,
        )
        .expect_err("no test in the answer");
    assert_eq!(
        error.to_string(),
        "tests on /ws/src/lib.rs: the model's code holds no test (no `#[test]`), so no test was added"
    );
}

#[test]
fn the_block_that_holds_tests_is_taken_when_the_code_is_repeated_first() {
    let request = request(Action::Tests, "<<fn one() -> u8 { 1 }>>\n", None);
    let changes = request
        .changes(
            Path::new(ROOT),
            "```rust\nfn one() -> u8 { 1 }\n```\nTests:\n```rust\n#[test]\nfn is_one() {}\n```",
            &DiskTexts,
        )
        .expect("tests in the second block");
    let [FileChange::Edit { new_text, .. }] = changes.as_slice() else {
        panic!("one edit: {changes:?}");
    };
    assert!(new_text.contains("    fn is_one() {}"), "{new_text}");
    assert!(!new_text.contains("fn one()"), "{new_text}");
}

#[test]
fn explain_never_edits() {
    let request = request(Action::Explain, "<<fn a() {}>>\n", None);
    let changes = request
        .changes(Path::new(ROOT), "```rust\nfn b() {}\n```", &DiskTexts)
        .expect("explain accepts any answer");
    assert_eq!(changes, Vec::new());
}

struct Texts(BTreeMap<PathBuf, String>);

impl FileTexts for Texts {
    fn text(&self, path: &Path) -> Option<String> {
        self.0.get(path).cloned()
    }
}

#[test]
fn writes_replace_existing_files_whole_create_missing_ones_and_the_last_write_wins() {
    let texts = Texts(BTreeMap::from([(
        PathBuf::from("/ws/old.txt"),
        "old text".to_owned(),
    )]));
    let write = |path: &str, contents: &str| FileWrite {
        path: path.into(),
        contents: contents.to_owned(),
    };
    let changes = changes_from_writes(
        &[
            write("/ws/new.txt", "draft"),
            write("/ws/old.txt", "new text"),
            write("/ws/new.txt", "final"),
        ],
        &texts,
    );
    assert_eq!(
        changes,
        vec![
            FileChange::Edit {
                path: "/ws/old.txt".into(),
                range: 0..8,
                new_text: "new text".to_owned(),
            },
            FileChange::Create {
                path: "/ws/new.txt".into(),
                text: "final".to_owned(),
            },
        ]
    );
}

#[test]
fn commands_name_their_actions() {
    for action in Action::ALL {
        assert_eq!(Action::from_command(&action.command()), Some(action));
    }
    assert_eq!(Action::from_command("codexos.action.poem"), None);
    assert_eq!(Action::Tests.command(), "codexos.action.tests");
}
