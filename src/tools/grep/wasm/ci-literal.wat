(module
  ;; Case-insensitive search for an ASCII needle. The needle, lowercased, is at
  ;; offset 0 (at most 1024 bytes); the haystack is written at 2048 by the caller,
  ;; with 32 bytes of slack after it. Two needle positions (i1, i2) are tested 16
  ;; haystack offsets at a time: (byte | mask) == target, where mask is 0x20 for a
  ;; letter and 0 otherwise; candidates are then checked in full.
  (memory (export "memory") 1)
  (global $len (mut i32) (i32.const 0))
  (global $i1 (mut i32) (i32.const 0))
  (global $i2 (mut i32) (i32.const 0))
  (global $m1 (mut v128) (v128.const i64x2 0 0))
  (global $m2 (mut v128) (v128.const i64x2 0 0))
  (global $t1 (mut v128) (v128.const i64x2 0 0))
  (global $t2 (mut v128) (v128.const i64x2 0 0))

  (func $mask (param $b i32) (result i32)
    (select (i32.const 0x20) (i32.const 0)
      (i32.lt_u (i32.sub (i32.or (local.get $b) (i32.const 0x20)) (i32.const 0x61)) (i32.const 26))))

  (func (export "setNeedle") (param $len i32) (param $i1 i32) (param $i2 i32)
    (local $b1 i32) (local $b2 i32)
    (global.set $len (local.get $len))
    (global.set $i1 (local.get $i1))
    (global.set $i2 (local.get $i2))
    (local.set $b1 (i32.load8_u (local.get $i1)))
    (local.set $b2 (i32.load8_u (local.get $i2)))
    (global.set $m1 (i8x16.splat (call $mask (local.get $b1))))
    (global.set $m2 (i8x16.splat (call $mask (local.get $b2))))
    (global.set $t1 (i8x16.splat (local.get $b1)))
    (global.set $t2 (i8x16.splat (local.get $b2))))

  ;; Whether the needle occurs at $p (folding letters).
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

  ;; 1 if the needle occurs in hay[$hay .. $hay + $n), else 0.
  (func (export "find") (param $hay i32) (param $n i32) (result i32)
    (local $p i32) (local $last i32) (local $bits i32) (local $j i32) (local $eq v128)
    (if (i32.lt_u (local.get $n) (global.get $len)) (then (return (i32.const 0))))
    ;; last start offset a match can have
    (local.set $last (i32.add (local.get $hay) (i32.sub (local.get $n) (global.get $len))))
    (local.set $p (local.get $hay))
    (block $done
      (loop $scan
        (br_if $done (i32.gt_u (local.get $p) (local.get $last)))
        (local.set $eq
          (v128.and
            (i8x16.eq (v128.or (v128.load (i32.add (local.get $p) (global.get $i1))) (global.get $m1)) (global.get $t1))
            (i8x16.eq (v128.or (v128.load (i32.add (local.get $p) (global.get $i2))) (global.get $m2)) (global.get $t2))))
        (if (v128.any_true (local.get $eq))
          (then
            (local.set $bits (i8x16.bitmask (local.get $eq)))
            (loop $cand
              (local.set $j (i32.ctz (local.get $bits)))
              (if (i32.le_u (i32.add (local.get $p) (local.get $j)) (local.get $last))
                (then (if (call $verify (i32.add (local.get $p) (local.get $j))) (then (return (i32.const 1))))))
              (local.set $bits (i32.and (local.get $bits) (i32.sub (local.get $bits) (i32.const 1))))
              (br_if $cand (local.get $bits)))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $scan)))
    (i32.const 0)))
