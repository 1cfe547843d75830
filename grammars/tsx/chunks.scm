; Chunking rules for TypeScript and TSX: grammars/typescript/chunks.scm and
; grammars/tsx/chunks.scm are the same file (a test keeps them so). Read by codexos-chunk
; (see grammars/README.md).
;
; @item.KIND  a chunkable item of that kind; @name its name (one symbol path segment);
; @attach     nodes that travel with the item directly below them (comments, decorators).
;
; The earliest pattern wins when several capture the same item node, and when two items
; share one @name node the outer one wins: `export class Foo` is one item from `export`
; (and the decorators above it) to the closing brace.

; Methods: members of a class body or an interface, including fields holding a function.
(class_body
  [(method_definition name: (_) @name)
   (method_signature name: (_) @name)
   (abstract_method_signature name: (_) @name)
   (public_field_definition
     name: (_) @name
     value: [(arrow_function) (function_expression) (generator_function)])] @item.method)
(interface_body (method_signature name: (_) @name) @item.method)

; Exported declarations start at `export`.
(export_statement
  declaration: [(function_declaration name: (_) @name)
                (generator_function_declaration name: (_) @name)
                (function_signature name: (_) @name)]) @item.function
(export_statement
  declaration: (lexical_declaration
    (variable_declarator
      name: (identifier) @name
      value: [(arrow_function) (function_expression) (generator_function)]))) @item.function
(export_statement
  declaration: [(class_declaration name: (_) @name)
                (abstract_class_declaration name: (_) @name)]) @item.class
(export_statement declaration: (interface_declaration name: (_) @name)) @item.interface
(export_statement declaration: (type_alias_declaration name: (_) @name)) @item.type
(export_statement declaration: (enum_declaration name: (_) @name)) @item.enum
(export_statement declaration: (internal_module name: (_) @name)) @item.module

; `declare …` in declaration files starts at `declare`.
(ambient_declaration
  [(function_signature name: (_) @name)]) @item.function
(ambient_declaration
  [(class_declaration name: (_) @name)
   (abstract_class_declaration name: (_) @name)]) @item.class
(ambient_declaration [(module name: (_) @name) (internal_module name: (_) @name)]) @item.module

(function_declaration name: (_) @name) @item.function
(generator_function_declaration name: (_) @name) @item.function
(function_signature name: (_) @name) @item.function
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
(abstract_class_declaration name: (_) @name) @item.class
(interface_declaration name: (_) @name) @item.interface
(type_alias_declaration name: (_) @name) @item.type
(enum_declaration name: (_) @name) @item.enum
(expression_statement (internal_module name: (_) @name)) @item.module
(internal_module name: (_) @name) @item.module
(module name: (_) @name) @item.module

; JSDoc and other comments, and a method's decorators, belong to the item below them.
(comment) @attach
(class_body (decorator) @attach)
