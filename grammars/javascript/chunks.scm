; Chunking rules for JavaScript, JSX included. Read by codexos-chunk (see grammars/README.md).
;
; @item.KIND  a chunkable item of that kind; @name its name (one symbol path segment);
; @attach     nodes that travel with the item directly below them (comments).
;
; The earliest pattern wins when several capture the same item node, and when two items
; share one @name node the outer one wins: `export class Foo` is one item from `export`
; (and the decorators above it) to the closing brace.

; Methods: members of a class body, including fields holding a function. Decorators are
; part of the method's node.
(class_body
  [(method_definition name: (_) @name)
   (field_definition
     property: (_) @name
     value: [(arrow_function) (function_expression) (generator_function)])] @item.method)

; Exported declarations start at `export`.
(export_statement
  declaration: [(function_declaration name: (_) @name)
                (generator_function_declaration name: (_) @name)]) @item.function
(export_statement
  declaration: (lexical_declaration
    (variable_declarator
      name: (identifier) @name
      value: [(arrow_function) (function_expression) (generator_function)]))) @item.function
(export_statement declaration: (class_declaration name: (_) @name)) @item.class

(function_declaration name: (_) @name) @item.function
(generator_function_declaration name: (_) @name) @item.function
; `const handler = (event) => …`
(lexical_declaration
  (variable_declarator
    name: (identifier) @name
    value: [(arrow_function) (function_expression) (generator_function)])) @item.function
(variable_declaration
  (variable_declarator
    name: (identifier) @name
    value: [(arrow_function) (function_expression) (generator_function)])) @item.function

(class_declaration name: (_) @name) @item.class

; JSDoc and other comments belong to the item below them.
(comment) @attach
