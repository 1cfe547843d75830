; Chunking rules for Python. Read by codexos-chunk (see grammars/README.md).
;
; @item.KIND  a chunkable item of that kind; @name its name (one symbol path segment);
; @attach     nodes that travel with the item directly below them (comments).
;
; The earliest pattern wins when several capture the same item node, and when two items
; share one @name node the outer one wins: a decorated definition is one item, decorators
; included.

; Methods: definitions directly in a class body, decorated or not.
(class_definition
  body: (block
    (decorated_definition
      definition: (function_definition name: (identifier) @name)) @item.method))
(class_definition
  body: (block
    (function_definition name: (identifier) @name) @item.method))

(decorated_definition
  definition: (function_definition name: (identifier) @name)) @item.function
(function_definition name: (identifier) @name) @item.function

(decorated_definition
  definition: (class_definition name: (identifier) @name)) @item.class
(class_definition name: (identifier) @name) @item.class

(comment) @attach
