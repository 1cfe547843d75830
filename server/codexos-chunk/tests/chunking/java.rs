use expect_test::expect;

use crate::support::*;

#[test]
fn java_members_are_named_package_class_member() {
    let source = r#"package com.acme.shop;

import java.util.ArrayList;
import java.util.List;

/**
 * A shopping cart: the items a customer picked, and what they cost together.
 */
@Entity
public class Cart {
    private final List<Item> items = new ArrayList<>();

    /** An empty cart. */
    public Cart() {}

    /** Adds an item; the same item twice counts twice. */
    @Transactional
    public void add(Item item) {
        items.add(item);
        log("added " + item.name() + ", now " + items.size() + " items");
    }

    public long total() {
        return items.stream().mapToLong(Item::price).sum();
    }

    /** One line of the cart. */
    public record Item(String name, long price) {}

    enum State { OPEN, PAID }
}
"#;
    check(
        &small_chunker(80, 20),
        "shop/src/main/java/com/acme/shop/Cart.java",
        source,
        expect![[r#"
            1-4 module `com.acme.shop` (26) | package com.acme.shop;
            6-14 class `com.acme.shop.Cart` (73) | /**
                class com.acme.shop.Cart 6-31
                method com.acme.shop.Cart.Cart 13-14
            16-21 method `com.acme.shop.Cart.add` (73) |     /** Adds an item; the same item twice counts twice. */
                method com.acme.shop.Cart.add 16-21
            23-25 method `com.acme.shop.Cart.total` (34) |     public long total() {
                method com.acme.shop.Cart.total 23-25
            27-31 class `com.acme.shop.Cart.Item` (36) |     /** One line of the cart. */
                class com.acme.shop.Cart.Item 27-28
                enum com.acme.shop.Cart.State 30-30
        "#]],
    );
}

#[test]
fn java_interfaces_and_annotation_types_are_items() {
    let source = r#"package com.acme.events;

// Gets told about events.
public interface Listener {
    void on(Event event);

    default void off() {}
}

@interface Audited {}
"#;
    check(
        &small_chunker(30, 5),
        "src/com/acme/events/Listener.java",
        source,
        expect![[r#"
            1-1 module `com.acme.events` (9) | package com.acme.events;
            3-4 interface `com.acme.events.Listener` (17) | // Gets told about events.
                interface com.acme.events.Listener 3-8
            5-5 method `com.acme.events.Listener.on` (9) |     void on(Event event);
                method com.acme.events.Listener.on 5-5
            7-8 method `com.acme.events.Listener.off` (9) |     default void off() {}
                method com.acme.events.Listener.off 7-7
            10-10 interface `com.acme.events.Audited` (8) | @interface Audited {}
                interface com.acme.events.Audited 10-10
        "#]],
    );
}

#[test]
fn broken_java_still_chunks_and_covers_every_line() {
    let source = r#"class Fine {
    int one() { return 1; }
}

class Broken {
    void method( {
        int x = ;
    }
    class
int after() { return 2; }
"#;
    check(
        &small_chunker(40, 5),
        "Broken.java",
        source,
        expect![[r#"
        1-3 class `Fine` (15) | class Fine {
            class Fine 1-3
            method Fine.one 2-2
        5-10 class `Broken` (28) | class Broken {
            class Broken 5-10
            method Broken.method 6-8
            class Broken.int 9-10
    "#]],
    );
}
