use expect_test::{Expect, expect};

use super::*;

fn fixture_values(operand: &Operand) -> Result<String, String> {
    Ok(operand
        .template
        .replace("{{a}}", "bug report")
        .replace("{{b}}", "LGTM\n")
        .replace("{{empty}}", ""))
}

/// Parses and evaluates `source` with `{{a}}` = "bug report", `{{b}}` = "LGTM\n", `{{empty}}` = "".
fn check(source: &str, expected: Expect) {
    let outcome = match Expr::parse(source) {
        Err(error) => format!("parse error {error}"),
        Ok(expr) => match expr.eval(source, &mut fixture_values) {
            Ok(Ok(held)) => held.to_string(),
            Ok(Err(error)) => format!("eval error {error}"),
            Err(error) => format!("render error {error}"),
        },
    };
    expected.assert_eq(&outcome);
}

#[test]
fn expressions_evaluate_as_written() {
    let table = [
        (r#"{{a}} contains "bug""#, "true"),
        (r#"{{a}} contains "Bug""#, "false"),
        (r#"{{b}} == "LGTM""#, "true"),
        (r#"{{b}} != "LGTM""#, "false"),
        (r#"{{a}} matches "^bug\s+rep""#, "true"),
        (r#"{{a}} matches "(?i)BUG""#, "true"),
        (r#"not {{a}} contains "bug""#, "false"),
        (r#"not not {{a}} contains "bug""#, "true"),
        (r#"{{a}} contains "x" or {{b}} contains "LGTM""#, "true"),
        (r#"{{a}} contains "bug" and {{b}} contains "nope""#, "false"),
        (
            r#"{{a}} contains "x" and {{b}} contains "y" or true"#,
            "true",
        ),
        (
            r#"{{a}} contains "x" and ({{b}} contains "y" or true)"#,
            "false",
        ),
        (r#""{{a}} and more" contains "report and""#, "true"),
        (r#"{{a}}"#, "true"),
        (r#"{{empty}}"#, "false"),
        (r#"false"#, "false"),
        (r#""say \"hi\"" contains "\"hi\"""#, "true"),
    ];
    for (source, expected) in table {
        let expr = Expr::parse(source).unwrap_or_else(|error| panic!("{source}: {error}"));
        let held = expr.eval(source, &mut fixture_values);
        assert_eq!(held, Ok(Ok(expected == "true")), "{source}");
    }
}

#[test]
fn a_bare_word_asks_for_quotes() {
    check(
        r#"{{a}} contains bug"#,
        expect![[
            r#"parse error at column 16: `bug` is not a value: write text in double quotes ("bug") or a template ({{...}})"#
        ]],
    );
}

#[test]
fn a_missing_right_side_points_at_the_end() {
    check(
        r#"{{a}} == "#,
        expect![
            "parse error at column 9: expected a template or a string before the end of the expression"
        ],
    );
}

#[test]
fn an_unclosed_string_points_at_its_quote() {
    check(
        r#"{{a}} == "bug"#,
        expect![[r#"parse error at column 10: the string is never closed with `"`"#]],
    );
}

#[test]
fn an_unclosed_template_points_at_its_braces() {
    check(
        r#"{{a contains "x""#,
        expect!["parse error at column 1: `{{` is never closed with `}}`"],
    );
}

#[test]
fn an_unclosed_parenthesis_is_reported_at_the_end() {
    check(
        r#"({{a}} contains "x""#,
        expect!["parse error at column 20: expected `)` before the end of the expression"],
    );
}

#[test]
fn two_values_without_an_operator_ask_for_one() {
    check(
        r#"{{a}} "x""#,
        expect![[
            r#"parse error at column 7: expected `and`, `or` or the end of the expression, found the string "x""#
        ]],
    );
}

#[test]
fn an_operator_without_a_left_side_says_so() {
    check(
        r#"and {{a}}"#,
        expect!["parse error at column 1: expected a template or a string before `and`"],
    );
}

#[test]
fn a_bad_literal_pattern_fails_before_the_run() {
    check(
        r#"{{a}} matches "(unclosed""#,
        expect![[r#"
            parse error at column 15: the pattern is not a valid regular expression: regex parse error:
                (unclosed
                ^
            error: unclosed group"#]],
    );
}

#[test]
fn a_bad_pattern_from_a_template_fails_when_evaluated() {
    check(
        r#"{{a}} matches "{{empty}}(""#,
        expect![[r#"
            eval error at column 15: the pattern is not a valid regular expression: regex parse error:
                (
                ^
            error: unclosed group"#]],
    );
}

#[test]
fn columns_count_characters_not_bytes() {
    check(
        r#""é" == ?"#,
        expect!["parse error at column 8: unexpected `?`: write text in double quotes"],
    );
}
