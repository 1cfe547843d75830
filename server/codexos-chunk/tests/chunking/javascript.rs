use expect_test::expect;

use crate::support::*;

#[test]
fn javascript_classes_functions_and_arrow_functions_are_items() {
    let source = r#"import { format } from "./format.mjs";

/**
 * Keeps a running total of amounts, in cents, and formats it for display.
 */
export class Ledger {
  #entries = [];

  add(amount, note) {
    this.#entries.push({ amount, note, at: Date.now() });
    return this;
  }

  total() {
    return this.#entries.reduce((sum, entry) => sum + entry.amount, 0);
  }

  describe = () => `${this.#entries.length} entries, ${format(this.total())}`;
}

// Handy for tests.
export const emptyLedger = () => new Ledger();

function* amounts(ledger) {
  for (const entry of ledger.entries) yield entry.amount;
}
"#;
    check(
        &small_chunker(50, 15),
        "src/ledger/index.mjs",
        source,
        expect![[r#"
            1-1 module `ledger` (16) | import { format } from "./format.mjs";
            3-7 class `ledger.Ledger` (43) | /**
                class ledger.Ledger 3-19
            9-12 method `ledger.Ledger.add` (37) |   add(amount, note) {
                method ledger.Ledger.add 9-12
            14-16 method `ledger.Ledger.total` (36) |   total() {
                method ledger.Ledger.total 14-16
            18-19 method `ledger.Ledger.describe` (38) |   describe = () => `${this.#entries.length} entries, ${format(this.total())}`;
                method ledger.Ledger.describe 18-18
            21-22 function `ledger.emptyLedger` (26) | // Handy for tests.
                function ledger.emptyLedger 21-22
            24-26 function `ledger.amounts` (32) | function* amounts(ledger) {
                function ledger.amounts 24-26
        "#]],
    );
}

#[test]
fn jsx_in_a_js_file_is_read_as_javascript() {
    let source = r#"export default function Greeting({ name }) {
  return <p className="greeting">Hello, {name}!</p>;
}

const Farewell = ({ name }) => <p>Goodbye, {name}.</p>;
module.exports = { Farewell };
"#;
    check(
        &small_chunker(40, 0),
        "components/Greeting.jsx",
        source,
        expect![[r#"
            1-3 function `components.Greeting.Greeting` (40) | export default function Greeting({ name }) {
                function components.Greeting.Greeting 1-3
            5-5 function `components.Greeting.Farewell` (27) | const Farewell = ({ name }) => <p>Goodbye, {name}.</p>;
                function components.Greeting.Farewell 5-5
            6-6 module `components.Greeting` (11) | module.exports = { Farewell };
        "#]],
    );
}

#[test]
fn broken_javascript_still_chunks_and_covers_every_line() {
    let source = r#"function ok() { return 1; }

function broken( {
  if (x {
    return [1, 2,
}
class {
const after = function () { return 2; };
"#;
    check(
        &small_chunker(40, 5),
        "lib/broken.cjs",
        source,
        expect![[r#"
        1-1 function `lib.broken.ok` (11) | function ok() { return 1; }
            function lib.broken.ok 1-1
        3-8 module `lib.broken` (37) | function broken( {
    "#]],
    );
}
