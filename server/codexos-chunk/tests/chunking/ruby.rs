use expect_test::expect;

use crate::support::*;

#[test]
fn ruby_methods_are_named_module_class_method() {
    let source = r#"require "json"

module Shop
  # A shopping cart: the items a customer picked, and what they cost together.
  class Cart
    attr_reader :items

    def initialize
      @items = []
    end

    # Adds an item; the same item twice counts twice.
    def add(item)
      @items << item
      notify(:added, item, @items.size)
      self
    end

    def empty? = @items.empty?

    def self.from_json(text)
      new.tap { |cart| JSON.parse(text).each { |item| cart.add(item) } }
    end
  end
end

def helper(value)
  value * 2
end
"#;
    check(
        &small_chunker(50, 15),
        "lib/shop/cart.rb",
        source,
        expect![[r#"
        1-10 class `Shop::Cart` (50) | require "json"
            module Shop 3-25
            class Shop::Cart 4-24
            method Shop::Cart::initialize 8-10
        12-17 method `Shop::Cart::add` (43) |     # Adds an item; the same item twice counts twice.
            method Shop::Cart::add 12-17
        19-23 method `Shop::Cart::from_json` (50) |     def empty? = @items.empty?
            method Shop::Cart::empty? 19-19
            method Shop::Cart::from_json 21-23
        24-29 function `helper` (14) |   end
            function helper 27-29
    "#]],
    );
}

#[test]
fn broken_ruby_still_chunks_and_covers_every_line() {
    let source = r#"def fine
  1
end

class Broken
  def method(
    x = [1, 2
  end
def after; end
"#;
    check(
        &small_chunker(40, 5),
        "broken.rb",
        source,
        expect![[r#"
        1-8 module `` (19) | def fine
            function fine 1-3
        9-9 function `after` (5) | def after; end
            function after 9-9
    "#]],
    );
}
