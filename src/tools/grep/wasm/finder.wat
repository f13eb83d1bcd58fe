(module
  ;; Literal search, exact or ignoring the case of ASCII letters. The needle (at
  ;; most 1024 bytes; lowercased when folding) is at offset 0; the haystack is at
  ;; 2048 or later, with 32 readable bytes after it (their content does not matter:
  ;; no match may start past the last offset a whole needle fits). Two needle
  ;; positions (i1, i2), its rarest bytes, are tested 32 haystack offsets at a time:
  ;; (byte | mask) == target, where mask is 0x20 for a letter when folding and 0
  ;; otherwise; candidates are then checked in full.
  (memory (export "memory") 1)
  (global $len (mut i32) (i32.const 0))
  (global $i1 (mut i32) (i32.const 0))
  (global $i2 (mut i32) (i32.const 0))
  (global $fold (mut i32) (i32.const 0))
  (global $m1 (mut v128) (v128.const i64x2 0 0))
  (global $m2 (mut v128) (v128.const i64x2 0 0))
  (global $t1 (mut v128) (v128.const i64x2 0 0))
  (global $t2 (mut v128) (v128.const i64x2 0 0))

  ;; 0x20 for an ASCII letter when folding, else 0.
  (func $mask (param $b i32) (result i32)
    (select (i32.const 0x20) (i32.const 0)
      (i32.and (global.get $fold)
        (i32.lt_u (i32.sub (i32.or (local.get $b) (i32.const 0x20)) (i32.const 0x61)) (i32.const 26)))))

  (func (export "setNeedle") (param $len i32) (param $i1 i32) (param $i2 i32) (param $fold i32)
    (local $b1 i32) (local $b2 i32)
    (global.set $len (local.get $len))
    (global.set $i1 (local.get $i1))
    (global.set $i2 (local.get $i2))
    (global.set $fold (local.get $fold))
    (local.set $b1 (i32.load8_u (local.get $i1)))
    (local.set $b2 (i32.load8_u (local.get $i2)))
    (global.set $m1 (i8x16.splat (call $mask (local.get $b1))))
    (global.set $m2 (i8x16.splat (call $mask (local.get $b2))))
    (global.set $t1 (i8x16.splat (local.get $b1)))
    (global.set $t2 (i8x16.splat (local.get $b2))))

  ;; Whether the needle occurs at $p.
  (func $verify (param $p i32) (result i32)
    (local $k i32) (local $b i32) (local $n i32)
    (block $no
      (loop $next
        (if (i32.ge_u (local.get $k) (global.get $len)) (then (return (i32.const 1))))
        (local.set $n (i32.load8_u (local.get $k)))
        (local.set $b (i32.load8_u (i32.add (local.get $p) (local.get $k))))
        (br_if $no (i32.ne (i32.or (local.get $b) (call $mask (local.get $n))) (local.get $n)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $next)))
    (i32.const 0))

  ;; The offset (from $hay) of the first occurrence in hay[$hay + $from .. $hay + $n), or -1.
  (func (export "find") (param $hay i32) (param $n i32) (param $from i32) (result i32)
    (local $p i32) (local $last i32) (local $bits i32) (local $j i32) (local $a v128) (local $b v128)
    (local $q1 i32) (local $q2 i32) (local $m1 v128) (local $m2 v128) (local $t1 v128) (local $t2 v128)
    (if (i32.lt_u (local.get $n) (i32.add (local.get $from) (global.get $len))) (then (return (i32.const -1))))
    ;; the last offset a match can start at
    (local.set $last (i32.add (local.get $hay) (i32.sub (local.get $n) (global.get $len))))
    (local.set $p (i32.add (local.get $hay) (local.get $from)))
    ;; The scan's constants in locals, and one pointer per tested position: V8 reloaded
    ;; each global and re-added i1/i2 on every step (the scan took 20-40% longer).
    (local.set $m1 (global.get $m1))
    (local.set $m2 (global.get $m2))
    (local.set $t1 (global.get $t1))
    (local.set $t2 (global.get $t2))
    (local.set $q1 (i32.add (local.get $p) (global.get $i1)))
    (local.set $q2 (i32.add (local.get $p) (global.get $i2)))
    (block $done
      (loop $scan
        (br_if $done (i32.gt_u (local.get $p) (local.get $last)))
        (local.set $a
          (v128.and
            (i8x16.eq (v128.or (v128.load (local.get $q1)) (local.get $m1)) (local.get $t1))
            (i8x16.eq (v128.or (v128.load (local.get $q2)) (local.get $m2)) (local.get $t2))))
        (local.set $b
          (v128.and
            (i8x16.eq (v128.or (v128.load offset=16 (local.get $q1)) (local.get $m1)) (local.get $t1))
            (i8x16.eq (v128.or (v128.load offset=16 (local.get $q2)) (local.get $m2)) (local.get $t2))))
        (if (v128.any_true (v128.or (local.get $a) (local.get $b)))
          (then
            ;; candidates in ascending order: the first past $last ends the search
            (local.set $bits (i32.or (i8x16.bitmask (local.get $a)) (i32.shl (i8x16.bitmask (local.get $b)) (i32.const 16))))
            (loop $cand
              (local.set $j (i32.add (local.get $p) (i32.ctz (local.get $bits))))
              (if (i32.gt_u (local.get $j) (local.get $last)) (then (return (i32.const -1))))
              (if (call $verify (local.get $j)) (then (return (i32.sub (local.get $j) (local.get $hay)))))
              (local.set $bits (i32.and (local.get $bits) (i32.sub (local.get $bits) (i32.const 1))))
              (br_if $cand (local.get $bits)))))
        (local.set $p (i32.add (local.get $p) (i32.const 32)))
        (local.set $q1 (i32.add (local.get $q1) (i32.const 32)))
        (local.set $q2 (i32.add (local.get $q2) (i32.const 32)))
        (br $scan)))
    (i32.const -1)))
