; Chunking rules for Ruby. Read by codexos-chunk (see grammars/README.md).
;
; @item.KIND  a chunkable item of that kind; @name its name: one symbol path segment, or
;             several for `class Shop::Cart`;
; @attach     nodes that travel with the item directly below them (comments).
;
; The earliest pattern wins when several capture the same item node.

; Methods: `def` in a class or module body, `class << self` included.
(class
  body: (body_statement
    [(method name: (_) @name) (singleton_method name: (_) @name)] @item.method))
(module
  body: (body_statement
    [(method name: (_) @name) (singleton_method name: (_) @name)] @item.method))
(singleton_class
  body: (body_statement
    [(method name: (_) @name) (singleton_method name: (_) @name)] @item.method))

(method name: (_) @name) @item.function
(singleton_method name: (_) @name) @item.function

(class name: (_) @name) @item.class
(module name: (_) @name) @item.module

(comment) @attach
