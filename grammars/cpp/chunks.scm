; Chunking rules for C++. Read by codexos-chunk (see grammars/README.md).
;
; @item.KIND  a chunkable item of that kind; @name its name: one symbol path segment, or
;             several for a qualified name (`Cart<T>::remove` → `Cart::remove`);
; @attach     nodes that travel with the item directly below them (comments).
;
; The earliest pattern wins when several capture the same item node, and when two items
; share one @name node the outer one wins: a `template <…>` declaration is one item with
; the class or function it declares.

; Methods: definitions and declarations in a class body, and definitions outside it under
; a qualified name (`void Cart::add(…) {…}`).
(field_declaration_list
  [(function_definition declarator: (function_declarator declarator: (_) @name))
   (function_definition
     declarator: [(pointer_declarator declarator: (function_declarator declarator: (_) @name))
                  (reference_declarator (function_declarator declarator: (_) @name))])
   (declaration declarator: (function_declarator declarator: (_) @name))
   (field_declaration declarator: (function_declarator declarator: (_) @name))
   (field_declaration
     declarator: [(pointer_declarator declarator: (function_declarator declarator: (_) @name))
                  (reference_declarator (function_declarator declarator: (_) @name))])] @item.method)
(field_declaration_list
  (template_declaration
    [(function_definition declarator: (function_declarator declarator: (_) @name))
     (declaration declarator: (function_declarator declarator: (_) @name))]) @item.method)
(template_declaration
  (function_definition
    declarator: (function_declarator declarator: (qualified_identifier) @name))) @item.method
(function_definition
  declarator: [(function_declarator declarator: (qualified_identifier) @name)
               (pointer_declarator declarator: (function_declarator declarator: (qualified_identifier) @name))
               (reference_declarator (function_declarator declarator: (qualified_identifier) @name))]) @item.method

(template_declaration
  [(function_definition
     declarator: [(function_declarator declarator: (_) @name)
                  (pointer_declarator declarator: (function_declarator declarator: (_) @name))
                  (reference_declarator (function_declarator declarator: (_) @name))])
   (declaration declarator: (function_declarator declarator: (_) @name))]) @item.function
(function_definition
  declarator: [(function_declarator declarator: (_) @name)
               (pointer_declarator declarator: (function_declarator declarator: (_) @name))
               (reference_declarator (function_declarator declarator: (_) @name))]) @item.function
(declaration
  declarator: [(function_declarator declarator: (identifier) @name)
               (pointer_declarator declarator: (function_declarator declarator: (identifier) @name))
               (reference_declarator (function_declarator declarator: (identifier) @name))]) @item.function

(template_declaration (class_specifier name: (_) @name body: (_))) @item.class
(template_declaration (struct_specifier name: (_) @name body: (_))) @item.struct
(class_specifier name: (_) @name body: (_)) @item.class
(type_definition type: (struct_specifier name: (_) @name body: (_))) @item.struct
(type_definition type: (struct_specifier !name body: (_)) declarator: (_) @name) @item.struct
(struct_specifier name: (_) @name body: (_)) @item.struct
(union_specifier name: (_) @name body: (_)) @item.struct
(enum_specifier name: (_) @name body: (_)) @item.enum
(template_declaration (alias_declaration name: (_) @name)) @item.type
(alias_declaration name: (_) @name) @item.type
(type_definition declarator: (type_identifier) @name) @item.type
(concept_definition name: (_) @name) @item.trait

(namespace_definition name: (_) @name) @item.module

(preproc_function_def name: (_) @name) @item.macro

(comment) @attach
