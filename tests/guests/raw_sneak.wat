;; A raw reader of "t" (its ring is memory 0, its own memory is memory 1)
;; with one more function, $sneak, whose body the tests fill in at ";; BODY"
;; with an instruction that does or does not write the ring, and ";; FIELD"
;; with a module field. The verifier must refuse every way of writing memory 0
;; and accept writes to memory 1.
(module
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet:raw" "t" (memory 1 1 shared))
  (memory (export "memory") 1)
  (data $name (memory 1) (i32.const 0) "t")
  (data $passive "abcd")
  ;; FIELD
  (func (export "run") (result i32) (call $tunnel (i32.const 0) (i32.const 1)))
  (func $sneak (export "sneak")
    ;; BODY
  ))
