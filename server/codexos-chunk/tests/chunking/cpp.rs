use expect_test::expect;

use crate::support::*;

#[test]
fn cpp_members_are_named_namespace_class_member() {
    let source = r#"#include <vector>

namespace shop::core {

/// A cart of items, in the order they were added, with their total price in cents.
template <typename Item>
class Cart {
public:
    Cart() = default;
    ~Cart();

    /// Adds an item; the same item twice counts twice.
    void add(const Item& item) {
        items_.push_back(item);
        total_ += item.price();
    }

    long total() const { return total_; }

    struct Line {
        Item item;
        int count;
    };

private:
    std::vector<Item> items_;
    long total_ = 0;
};

}  // namespace shop::core

template <typename Item>
shop::core::Cart<Item>::~Cart() {
    items_.clear();
}

int main() { return 0; }
"#;
    check(
        &small_chunker(60, 20),
        "src/cart.hpp",
        source,
        expect![[r#"
        1-3 module `shop::core` (15) | #include <vector>
            module shop::core 3-30
        5-10 class `shop::core::Cart` (55) | /// A cart of items, in the order they were added, with their total price in cents.
            class shop::core::Cart 5-28
            method shop::core::Cart::Cart 9-9
            method shop::core::Cart::~Cart 10-10
        12-16 method `shop::core::Cart::add` (49) |     /// Adds an item; the same item twice counts twice.
            method shop::core::Cart::add 12-16
        18-30 class `shop::core::Cart` (59) |     long total() const { return total_; }
            method shop::core::Cart::total 18-18
            struct shop::core::Cart::Line 20-23
        32-37 method `shop::core::Cart::~Cart` (43) | template <typename Item>
            method shop::core::Cart::~Cart 32-35
            function main 37-37
    "#]],
    );
}

#[test]
fn out_of_class_definitions_and_operators_are_methods_of_their_class() {
    let source = r#"// Compares by value.
bool Money::operator==(const Money& other) const {
    return cents_ == other.cents_;
}

Money Money::from_cents(long cents) { return Money(cents); }

using Cents = long;
enum class Currency { Eur, Usd };
"#;
    check(
        &small_chunker(40, 5),
        "money.cc",
        source,
        expect![[r#"
        1-2 method `Money::operator==` (28) | // Compares by value.
            method Money::operator== 1-4
        2-4 method `Money::operator==` (14) | {
        6-6 method `Money::from_cents` (25) | Money Money::from_cents(long cents) { return Money(cents); }
            method Money::from_cents 6-6
        8-8 type `Cents` (7) | using Cents = long;
            type Cents 8-8
        9-9 enum `Currency` (11) | enum class Currency { Eur, Usd };
            enum Currency 9-9
    "#]],
    );
}

#[test]
fn broken_cpp_still_chunks_and_covers_every_line() {
    let source = r#"int fine() { return 1; }

class Broken {
    void method( {
        int x = ;
    }
template <
int after() { return 2; }
"#;
    check(
        &small_chunker(40, 5),
        "broken.cpp",
        source,
        expect![[r#"
        1-1 function `fine` (10) | int fine() { return 1; }
            function fine 1-1
        3-3 module `` (5) | class Broken {
        4-8 function `method` (24) |     void method( {
            function method 4-8
    "#]],
    );
}
