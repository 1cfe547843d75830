use expect_test::expect;

use crate::support::*;

#[test]
fn php_members_are_named_namespace_class_member() {
    let source = r#"<?php

namespace App\Models;

use Illuminate\Database\Eloquent\Model;

/**
 * A shopping cart: the items a customer picked, and what they cost together.
 */
#[Table('carts')]
final class Cart extends Model
{
    private array $items = [];

    /** Adds an item; the same item twice counts twice. */
    public function add(Item $item): static
    {
        $this->items[] = $item;
        $this->dispatch(new CartChanged($this, count($this->items)));
        return $this;
    }

    public function total(): int
    {
        return array_sum(array_map(fn (Item $item) => $item->price, $this->items));
    }
}

interface HasTotal { public function total(): int; }

function cart_total(Cart $cart): int { return $cart->total(); }
"#;
    check(
        &small_chunker(90, 20),
        "app/Models/Cart.php",
        source,
        expect![[r#"
        1-5 module `App\Models` (25) | <?php
        7-13 class `App\Models\Cart` (59) | /**
            class App\Models\Cart 7-27
        15-21 method `App\Models\Cart\add` (79) |     /** Adds an item; the same item twice counts twice. */
            method App\Models\Cart\add 15-21
        23-29 method `App\Models\Cart\total` (65) |     public function total(): int
            method App\Models\Cart\total 23-26
            interface App\Models\HasTotal 29-29
            method App\Models\HasTotal\total 29-29
        31-31 function `App\Models\cart_total` (25) | function cart_total(Cart $cart): int { return $cart->total(); }
            function App\Models\cart_total 31-31
    "#]],
    );
}

#[test]
fn php_in_html_is_chunked_around_its_markup() {
    let source = r#"<html>
<body>
<?php
function greet(string $name): string {
    return "Hello, " . htmlspecialchars($name);
}
?>
<p><?= greet($user) ?></p>
</body>
</html>
"#;
    check(
        &small_chunker(40, 5),
        "views/greet.php",
        source,
        expect![[r#"
        1-3 module `` (9) | <html>
        4-6 function `greet` (32) | function greet(string $name): string {
            function greet 4-6
        7-10 module `` (28) | ?>
    "#]],
    );
}

#[test]
fn broken_php_still_chunks_and_covers_every_line() {
    let source = r#"<?php
function fine() { return 1; }

class Broken {
    public function method( {
        $x = ;
    }
function after() { return 2; }
"#;
    check(
        &small_chunker(40, 5),
        "broken.php",
        source,
        expect![[r#"
        1-2 function `fine` (14) | <?php
            function fine 2-2
        4-8 class `Broken` (30) | class Broken {
            class Broken 4-8
            method Broken\method 5-8
    "#]],
    );
}
